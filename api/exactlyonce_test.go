package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// TestOrderDatedAheadOnce: an order dated 20 hours ahead, sent three times
// over HTTP on Redis + ClickHouse, counts once; the retries answer 200
// replayed with the original result.
func TestOrderDatedAheadOnce(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t)
	ch := e.token(t, "pos-1", "channel")
	body := orderAt("17850", "54.99", "GBP", time.Now().UTC().Add(20*time.Hour).Format(time.RFC3339))
	first := e.post(t, "/order/fut1", ch, body)
	want(t, first, http.StatusCreated)
	m := first.JSON(t)
	if num(t, m, "pointsAwarded") != 5 || num(t, m, "balance") != 5 || m["replayed"] != false {
		t.Fatalf("first: %v", m)
	}
	for range 2 {
		r := e.post(t, "/order/fut1", ch, body)
		want(t, r, http.StatusOK)
		if m := r.JSON(t); m["replayed"] != true || num(t, m, "balance") != 5 || num(t, m, "ledgerSeq") != num(t, first.JSON(t), "ledgerSeq") {
			t.Fatalf("retry: %v", m)
		}
	}
	if b, err := e.idx.Balance(testenv.Context(t), 17850); err != nil || b != 5 {
		t.Fatalf("balance %d, %v; want 5", b, err)
	}
}

// TestCorrectionOverHTTP: PUT /order/{id} applies the difference once as a
// correction linked to the order, both entries reach the ledger; a POST of
// other content stays a 409; an order never applied is 404; the customer
// can't be corrected.
func TestCorrectionOverHTTP(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t)
	ch := e.token(t, "pos-1", "channel")
	staff := e.token(t, "agent-7", "staff")
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	put := func(token, body string) *response {
		return e.do(t, req{method: http.MethodPut, path: "/order/web-77", token: token, body: body})
	}
	want(t, e.post(t, "/order/web-77", ch, orderAt("4242", "100.00", "GBP", at)), http.StatusCreated)
	want(t, e.post(t, "/order/web-77", ch, orderAt("4242", "150.00", "GBP", at)), http.StatusConflict)

	r := put(ch, orderAt("4242", "150.00", "GBP", at))
	want(t, r, http.StatusCreated)
	m := r.JSON(t)
	if num(t, m, "pointsAwarded") != 5 || num(t, m, "balance") != 15 || m["changeId"] != "web-77#1" || m["replayed"] != false {
		t.Fatalf("correction: %v", m)
	}
	r = put(staff, orderAt("4242", "150.00", "GBP", at))
	want(t, r, http.StatusOK)
	if m := r.JSON(t); m["replayed"] != true || m["changeId"] != "web-77#1" || num(t, m, "balance") != 15 {
		t.Fatalf("the same correction again: %v", m)
	}
	want(t, put(ch, orderAt("4243", "150.00", "GBP", at)), http.StatusUnprocessableEntity)
	want(t, e.do(t, req{method: http.MethodPut, path: "/order/never", token: ch, body: orderAt("4242", "1", "GBP", at)}), http.StatusNotFound)
	want(t, put(e.token(t, "4242", "customer"), orderAt("4242", "1", "GBP", at)), http.StatusForbidden)

	e.ship(t)
	got, err := e.ledger.Lookup(testenv.Context(t), []string{"web-77", "web-77#1", "web-77#2"})
	if err != nil {
		t.Fatal(err)
	}
	o, c := got["web-77"], got["web-77#1"]
	if len(got) != 2 || o.Delta != 10 || o.Cause != ledger.CauseOrder || c.Delta != 5 || c.Points != 5 ||
		c.Cause != ledger.CauseCorrection || c.Amount.String() != "150" || c.Balance != 15 {
		t.Fatalf("ledger: %+v", got)
	}
	if b, err := e.idx.Balance(testenv.Context(t), 4242); err != nil || b != 15 {
		t.Fatalf("balance %d, %v; want 15", b, err)
	}
}
