package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/testenv"
)

// TestServeClickHouseDown runs `loyalty serve` on Redis and ClickHouse,
// stops ClickHouse: dashboards answer 200, /readyz stays ready, orders are
// still taken and reach the ledger once it is back; SIGTERM shuts down
// cleanly.
func TestServeClickHouseDown(t *testing.T) {
	t.Parallel()
	s := newOwnStack(t)
	srv := startServe(t, s.env)
	srv.waitReady(t, 15*time.Second)
	channel := testToken(t, "pos-1", "channel")
	order := func(id string, amount string) int {
		code, body := srv.call(t, "POST", "/order/"+id, channel, fmt.Sprintf(`{"customerId":"42","channel":"web","paymentDetails":{"amount":%q,"currency":"GBP"},"purchasedAt":%q}`,
			amount, time.Now().UTC().Format(time.RFC3339)))
		if code != 201 {
			t.Fatalf("order %s: %d %v", id, code, body)
		}
		return int(body["balance"].(float64))
	}
	order("w-1", "100.00")
	s.ch.Stop()
	if bal := order("w-2", "50.00"); bal != 15 {
		t.Fatalf("balance %d after two orders, want 15", bal)
	}
	me := testToken(t, "42", "customer")
	for i := 0; i < 20; i++ {
		code, body := srv.call(t, "GET", "/loyalty/42?top=3&around=1", me, "")
		if code != 200 || body["me"].(map[string]any)["points"].(float64) != 15 {
			t.Fatalf("dashboard with ClickHouse down: %d %v", code, body)
		}
	}
	if code, _ := srv.call(t, "GET", "/readyz", "", ""); code != 200 {
		t.Fatalf("/readyz with ClickHouse down: %d", code)
	}
	if code, _ := srv.call(t, "GET", "/healthz", "", ""); code != 503 {
		t.Fatalf("/healthz with ClickHouse down: %d, want 503 naming it", code)
	}
	s.ch.Start(t)
	led := s.inProcess(t)
	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		l, err := led.ledger.Get(t.Context())
		if err != nil {
			return fmt.Errorf("the ledger did not catch up after ClickHouse came back: %w\n%s", err, srv.log())
		}
		n, err := l.MaxSeq(t.Context())
		if err != nil || n != 2 {
			return fmt.Errorf("the ledger did not catch up after ClickHouse came back: max seq %d (%v), want 2\n%s", n, err, srv.log())
		}
		return nil
	})
	srv.stop(t)
}
