package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// TestDeadLettersOverHTTP: while `loyalty serve` takes orders over HTTP, two
// unshippable entries are planted in the change log (an amount no ledger
// column holds, applied past validation, and a change that can't be
// decoded). The orders after them still reach ClickHouse; reconcile exits 4
// naming them; rebuild refuses to run; deadletters lists them, retry keeps
// them, drop (with a reason) clears them; then reconcile names the customer
// whose Redis balance holds the dropped points, and rebuild and reconcile
// agree again.
func TestDeadLettersOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	srv := startServe(t, append(s.env, "LOYALTY_LOG_LEVEL=error"))
	srv.waitReady(t, 15*time.Second)
	base := srv.base
	tok := testToken(t, "pos-1", "channel")
	order := func(id, customer, amount string) {
		t.Helper()
		body := fmt.Sprintf(`{"customerId":%q,"channel":"web","paymentDetails":{"amount":%q,"currency":"GBP"},"purchasedAt":%q}`,
			customer, amount, time.Now().UTC().Format(time.RFC3339))
		req, _ := http.NewRequest("POST", base+"/order/"+id, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("order %s: %d %s", id, res.StatusCode, b)
		}
	}

	st := s.inProcess(t)
	ctx := t.Context()
	order("before", "1", "50.00") // 5 points
	// A change validation missed: applied in Redis, refused by the ledger.
	amt := decimal.RequireFromString("1e40")
	poison := ledger.Change{ID: "poison", CustomerID: 2, Points: 3, Cause: ledger.CauseOrder, Channel: "web",
		Amount: amt, Currency: "GBP", AmountGBP: amt, OccurredAt: time.Now().UTC().Truncate(time.Second)}
	poison.Seal()
	if out, err := st.index.Apply(ctx, []ledger.Change{poison}); err != nil || out[0].Err != nil {
		t.Fatalf("plant poison: %v %+v", err, out)
	}
	// A log entry that can't be decoded (the test knows the log's layout,
	// histogram/redisindex/doc.go).
	p := "{" + s.prefix + "}"
	seq, err := s.rdb.Incr(ctx, p+":seq").Uint64()
	if err == nil {
		err = s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: p + ":log", ID: strconv.FormatUint(seq, 10) + "-0",
			Values: []any{"u", "9", "k", "0", "b", "0", "d", "0", "t", strconv.FormatInt(time.Now().Unix(), 10), "c", "{broken"}}).Err()
	}
	if err != nil {
		t.Fatal(err)
	}
	order("after", "3", "40.00") // 4 points

	led, err := st.ledger.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		found, err := led.Lookup(ctx, []string{"before", "poison", "after"})
		if err == nil && len(found) == 2 && found["after"].Seq == seq+1 && found["before"].Seq != 0 {
			return nil
		}
		return fmt.Errorf("the orders after the dead letters did not reach the ledger (found %v, %v):\n%s", found, err, srv.log())
	})
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range []string{"loyalty_ledger_dead_letters 2\n", "loyalty_ledger_dead_lettered_total 2\n"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	srv.stop(t)
	if n := strings.Count(srv.log(), "set aside as a dead letter"); n != 2 {
		t.Errorf("serve logged %d dead letters, want one line each for 2:\n%s", n, srv.log())
	}

	want := func(args []string, code int, has ...string) string {
		t.Helper()
		out, got := s.run(t, args...)
		if got != code {
			t.Fatalf("loyalty %v: exit %d, want %d\n%s", args, got, code, out)
		}
		for _, h := range has {
			if !strings.Contains(out, h) {
				t.Fatalf("loyalty %v: output lacks %q:\n%s", args, h, out)
			}
		}
		return out
	}
	ps, bs := strconv.FormatUint(seq-1, 10), strconv.FormatUint(seq, 10)
	want([]string{"reconcile"}, 4, "dead letter "+ps+`: change "poison", customer 2, delta 3`, "dead letter "+bs+":", "can't be decoded", "2,3,0")
	want([]string{"rebuild"}, 4)
	out := want([]string{"deadletters"}, 0, "seq,change_id,customer_id,delta,set_aside_at,reason", ps+",poison,2,3,", bs+",,9,,")
	if strings.Count(out, "\n") != 3 {
		t.Fatalf("deadletters lists %d lines, want a header and 2:\n%s", strings.Count(out, "\n"), out)
	}
	want([]string{"deadletters", "retry"}, 4, "dead letter "+ps+` (change "poison", customer 2): still refused`, "does not fit")
	want([]string{"deadletters", "retry", "999"}, 4)
	want([]string{"deadletters", "drop", ps}, 1) // --reason is required
	want([]string{"deadletters", "drop", ps, "--reason", "amount typed in wrong by the till"}, 0, "dropped")
	want([]string{"deadletters", "drop", bs, "--reason", "corrupt log entry"}, 0, "dropped")
	want([]string{"deadletters", "--dropped"}, 0, ps+",poison,2,3,", "amount typed in wrong by the till", "corrupt log entry")
	// The dropped points are still on customer 2's Redis balance: the ledger
	// is the truth, and rebuild makes Redis agree with it.
	want([]string{"reconcile"}, 3, "2,3,0")
	want([]string{"rebuild"}, 0)
	want([]string{"reconcile"}, 0, "every Redis balance equals the ledger")
	if got := s.balances(t); got[1] != 5 || got[3] != 4 || got[2] != 0 {
		t.Fatalf("balances after rebuild %v, want 1:5 3:4 and 2 without the dropped points", got)
	}
}
