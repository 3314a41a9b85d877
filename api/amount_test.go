package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/internal/testenv"
)

// TestOrderSubPennyAmounts posts amounts with up to 6 decimal places over
// HTTP on a real Redis (an amount of 10.0001 was once applied in Redis and
// then refused by the ledger for ever), checks the points, then moves the
// entries from the index's change log into a real ClickHouse ledger and reads
// them back exactly.
func TestOrderSubPennyAmounts(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	ch := e.token(t, "web-shop", "channel")
	steps := []struct {
		id, amount, currency string
		gbp                  string
		delta, balance       int64
	}{
		{"sub-1", "10.0001", "GBP", "10.0001", 1, 1},
		{"sub-2", "14.999999", "GBP", "14.999999", 1, 2},   // 1.4999999 -> 1
		{"sub-3", "15.000001", "GBP", "15.000001", 2, 4},   // 1.5000001 -> 2
		{"sub-4", "17.650001", "EUR", "15.00250085", 2, 6}, // at 0.85
		{"sub-5", "-0.000001", "GBP", "-0.000001", 0, 6},   // a refund of nothing
		{"sub-6", "9999999.999999", "GBP", "9999999.999999", 1000000, 1000006},
	}
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	for _, s := range steps {
		r := e.post(t, "/order/"+s.id, ch, orderAt("17850", s.amount, s.currency, at))
		want(t, r, http.StatusCreated)
		m := r.JSON(t)
		if num(t, m, "pointsAwarded") != s.delta || num(t, m, "balance") != s.balance {
			t.Fatalf("order %s of %s %s: %v, want %d points, balance %d", s.id, s.amount, s.currency, m, s.delta, s.balance)
		}
	}
	// The same amount written with more zeros is the same order: a replay.
	r := e.post(t, "/order/sub-1", ch, orderAt("17850", "10.000100000", "GBP", at))
	want(t, r, http.StatusOK)
	if m := r.JSON(t); m["replayed"] != true || num(t, m, "pointsAwarded") != 1 {
		t.Fatalf("replay of sub-1 as 10.000100000: %v", m)
	}

	ctx := testenv.Context(t)
	cfg := chledger.DefaultConfig()
	cfg.Addr, cfg.Database = testenv.SharedClickHouse(t).Addr, fmt.Sprintf("api_amounts%d", envs.Add(1))
	l, err := chledger.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := e.idx.Entries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(steps) {
		t.Fatalf("%d entries in the change log, want %d", len(entries), len(steps))
	}
	if err := l.Append(ctx, entries); err != nil {
		t.Fatalf("the ledger refused what the API accepted: %v", err)
	}
	var ids []string
	for _, s := range steps {
		ids = append(ids, s.id)
	}
	got, err := l.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		g := got[s.id]
		if !g.Amount.Equal(decimal.RequireFromString(s.amount)) || !g.AmountGBP.Equal(decimal.RequireFromString(s.gbp)) || g.Delta != s.delta {
			t.Errorf("ledger entry %s = %s %s (%s GBP), delta %d; want %s %s (%s GBP), delta %d",
				s.id, g.Amount, g.Currency, g.AmountGBP, g.Delta, s.amount, s.currency, s.gbp, s.delta)
		}
	}
}

// TestOrderReportsEveryField sends an order with several bad fields, some
// that fail to parse and some that parse but are invalid: one 422 names
// them all, and nothing is applied.
func TestOrderReportsEveryField(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	ch := e.token(t, "web-shop", "channel")
	body := `{"customerId":"42","channel":"fax","paymentDetails":{"amount":"10.0000001","currency":"USD"},` +
		`"itemIds":["ok","not ok"],"purchasedAt":"yesterday"}`
	for _, b := range []string{body, strings.Replace(body, `"yesterday"`, `"`+time.Now().UTC().Format(time.RFC3339)+`"`, 1)} {
		r := e.post(t, "/order/multi-1", ch, b)
		want(t, r, http.StatusUnprocessableEntity)
		p := r.Problem(t)
		var fields []string
		for _, fi := range p.Errors {
			if fi.Reason == "" {
				t.Errorf("field %s without a reason", fi.Field)
			}
			fields = append(fields, fi.Field)
		}
		slices.Sort(fields)
		wantFields := []string{"channel", "itemIds", "paymentDetails.amount", "paymentDetails.currency", "purchasedAt"}
		if !strings.Contains(b, "yesterday") {
			wantFields = slices.DeleteFunc(wantFields, func(f string) bool { return f == "purchasedAt" })
		}
		if !slices.Equal(fields, wantFields) {
			t.Errorf("problem names %v, want %v: %s", fields, wantFields, r.Body)
		}
		if !strings.Contains(p.Detail, "10.0000001") || !strings.Contains(p.Detail, "at most 6 decimal places") {
			t.Errorf("detail %q does not say what to fix in the amount", p.Detail)
		}
	}
	// No payment details at all: one issue for them, not one per missing part.
	r := e.post(t, "/order/multi-2", ch, `{"customerId":"42","channel":"web","purchasedAt":"2025-01-01T00:00:00Z"}`)
	want(t, r, http.StatusUnprocessableEntity)
	if p := r.Problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "paymentDetails" {
		t.Errorf("problem %+v, want paymentDetails alone", p.Errors)
	}
	if seq, err := e.idx.Seq(t.Context()); err != nil || seq != 0 {
		t.Fatalf("index seq %d (err %v) after only bad orders, want 0", seq, err)
	}
}
