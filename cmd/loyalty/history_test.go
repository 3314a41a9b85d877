package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/testenv"
)

// TestServeHistoryRedis runs `loyalty serve` on Redis and ClickHouse: the
// history comes from the ClickHouse ledger once shipped, answers 503 while
// ClickHouse is down (dashboards 200), and recovers by itself; the web page
// is served, and the development sign-in is not there.
func TestServeHistoryRedis(t *testing.T) {
	t.Parallel()
	s := newOwnStack(t)
	d := &demo{server: startServe(t, s.env)}
	d.waitReady(t, 15*time.Second)
	channel, staff, me := testToken(t, "pos-1", "channel"), testToken(t, "agent-1", "staff"), testToken(t, "42", "customer")

	for _, method := range []string{"GET", "POST"} {
		if code, _ := d.call(t, method, "/dev/token", "", `{"role":"staff","subject":"mallory"}`); code != http.StatusNotFound {
			t.Fatalf("%s /dev/token with Redis configured: %d, want 404 (the development sign-in is for the embedded store only)", method, code)
		}
	}
	res, err := http.Get(d.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "/app/app.js") {
		t.Fatalf("GET /: %d %.200s", res.StatusCode, page)
	}

	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	for i, amount := range []string{"100.00", "54.99"} {
		body := fmt.Sprintf(`{"customerId":"42","channel":"web","paymentDetails":{"amount":%q,"currency":"GBP"},"purchasedAt":%q}`, amount, at)
		if code, m := d.call(t, "POST", fmt.Sprintf("/order/w-%d", i), channel, body); code != 201 {
			t.Fatalf("order %d: %d %v", i, code, m)
		}
	}
	if code, m := d.call(t, "POST", "/loyalty/42", staff, `{"loyalty-points":7,"reason":"goodwill","idempotencyKey":"k-1"}`); code != 201 {
		t.Fatalf("manual points: %d %v", code, m)
	}
	// The history is the ledger's: the changes show once shipped.
	var hist map[string]any
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		code, m := d.call(t, "GET", "/loyalty/42/history", me, "")
		if es, _ := m["entries"].([]any); code == 200 && len(es) == 3 {
			hist = m
			return nil
		}
		return fmt.Errorf("history: %d %v\n%s", code, m, d.log())
	})
	first := hist["entries"].([]any)[0].(map[string]any)
	if first["kind"] != "manual" || first["points"] != 7.0 || first["balance"] != 22.0 || first["reason"] != "goodwill" {
		t.Fatalf("the newest entry: %v", first)
	}

	s.ch.Stop()
	code, m := d.call(t, "GET", "/loyalty/42/history", me, "")
	if code != http.StatusServiceUnavailable || m["type"] != "https://loyalty.xyz.com/problems/unavailable" ||
		!strings.Contains(fmt.Sprint(m["detail"]), "history") || strings.Contains(fmt.Sprint(m), s.ch.Addr) {
		t.Fatalf("history with ClickHouse down: %d %v, want a 503 problem saying the history is unavailable", code, m)
	}
	if code, m := d.call(t, "GET", "/loyalty/42", me, ""); code != 200 || m["me"].(map[string]any)["points"] != 22.0 {
		t.Fatalf("dashboard with ClickHouse down: %d %v", code, m)
	}
	s.ch.Start(t)
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		code, m := d.call(t, "GET", "/loyalty/42/history?limit=2", me, "")
		if code == 200 {
			if es := m["entries"].([]any); len(es) != 2 || m["nextBefore"] == nil {
				t.Fatalf("history page after ClickHouse is back: %v", m)
			}
			return nil
		}
		return fmt.Errorf("history still %d after ClickHouse is back: %v\n%s", code, m, d.log())
	})
}
