package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// orderTime is the purchase time of orderBody: one for the whole run, so
// that an order sent again is the same order (a replay), whenever it is sent.
var orderTime = time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)

func orderBody(customer any, amount, currency string) string {
	return orderAt(customer, amount, currency, orderTime)
}

func orderAt(customer any, amount, currency, at string) string {
	c := fmt.Sprint(customer)
	if s, ok := customer.(string); ok {
		c = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf(`{"customerId":%s,"channel":"web","paymentDetails":{"amount":%q,"currency":%q},"itemIds":["85123A","71053"],"purchasedAt":%q}`,
		c, amount, currency, at)
}

func num(t testing.TB, m map[string]any, k string) int64 {
	t.Helper()
	f, ok := m[k].(float64)
	if !ok {
		t.Fatalf("%s: %v is not a number in %v", k, m[k], m)
	}
	return int64(f)
}

// TestOrders posts purchases and refunds and checks the points rule,
// replays, conflicts and that the next dashboard shows the new balance.
func TestOrders(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	ch := e.token(t, "web-shop", "channel")
	me := e.token(t, "17850", "customer")
	steps := []struct {
		id           string
		body         string
		status       int
		delta, total int64
		replayed     bool
	}{
		{"o-1", orderBody("17850", "14.99", "GBP"), 201, 1, 1, false},
		{"o-2", orderBody(17850, "15.00", "GBP"), 201, 2, 3, false},
		{"o-3", orderBody("17850", "100.001", "EUR"), 201, 9, 12, false}, // 85.00085 GBP -> 9
		{"o-1", orderBody("17850", "14.99", "GBP"), 200, 1, 1, true},     // a replay: the original result
		{"o-4", orderBody("17850", "4.99", "GBP"), 201, 0, 12, false},
		{"o-5", orderBody("17850", "-45.00", "GBP"), 201, -5, 7, false}, // a refund: 4.5 -> 5
		{"o-6", orderBody("17850", "-500", "GBP"), 201, -7, 0, false},   // never below zero
		{"o%2Fslash", orderBody("17850", "250", "GBP"), 201, 25, 25, false},
	}
	for _, s := range steps {
		r := e.post(t, "/order/"+s.id, ch, s.body)
		want(t, r, s.status)
		m := r.JSON(t)
		if num(t, m, "pointsAwarded") != s.delta || num(t, m, "balance") != s.total || m["replayed"] != s.replayed ||
			num(t, m, "customerId") != 17850 || m["status"] != "success" || num(t, m, "ledgerSeq") < 1 {
			t.Fatalf("order %s: %v, want delta %d balance %d replayed %v", s.id, m, s.delta, s.total, s.replayed)
		}
	}
	if r := e.post(t, "/order/o%2Fslash", ch, orderBody("17850", "250", "GBP")).JSON(t); r["orderId"] != "o/slash" {
		t.Fatalf("order id with an encoded slash: %v", r)
	}
	// Same id, other content: 409 and nothing applied.
	r := e.post(t, "/order/o-2", ch, orderBody("17850", "99.00", "GBP"))
	want(t, r, http.StatusConflict)
	r.Problem(t)
	d := e.get(t, "/loyalty/17850", me)
	want(t, d, 200)
	if got := num(t, d.JSON(t)["me"].(map[string]any), "points"); got != 25 {
		t.Fatalf("dashboard points %d after the orders, want 25", got)
	}
}

// TestOrderValidation sends bad orders: each gets a problem naming what to fix.
func TestOrderValidation(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	ch := e.token(t, "web-shop", "channel")
	ok := orderBody("42", "10", "GBP")
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name, path, body, ctype string
		status                  int
		field                   string
	}{
		{"malformed json", "/order/v1", `{"customerId":`, "", 400, ""},
		{"not json", "/order/v1", `hello`, "", 400, ""},
		{"empty", "/order/v1", ``, "", 400, ""},
		{"trailing data", "/order/v1", ok + `{}`, "", 400, ""},
		{"unknown field", "/order/v1", strings.Replace(ok, `"channel"`, `"points":5,"channel"`, 1), "", 400, "points"},
		{"unknown nested field", "/order/v1", strings.Replace(ok, `"currency"`, `"rate":1,"currency"`, 1), "", 400, "rate"},
		{"too large", "/order/v1", strings.Replace(ok, `"85123A"`, strings.Repeat(`"85123A",`, 3000)+`"x"`, 1), "", 413, ""},
		{"form body", "/order/v1", ok, "application/x-www-form-urlencoded", 415, ""},
		{"bad order id", "/order/-x", ok, "", 400, "orderId"},
		{"reserved order id", "/order/manual:k1", ok, "", 400, "orderId"},
		{"long order id", "/order/" + strings.Repeat("a", 65), ok, "", 400, "orderId"},
		{"no customer", "/order/v1", strings.Replace(ok, `"customerId":"42",`, "", 1), "", 422, "customerId"},
		{"customer zero", "/order/v1", orderBody("0", "10", "GBP"), "", 422, "customerId"},
		{"customer text", "/order/v1", orderBody("abc", "10", "GBP"), "", 422, "customerId"},
		{"customer fraction", "/order/v1", orderBody(1.5, "10", "GBP"), "", 422, "customerId"},
		{"customer exponent", "/order/v1", orderBody("1e3", "10", "GBP"), "", 422, "customerId"},
		{"customer too big", "/order/v1", orderBody(uint64(1)<<53, "10", "GBP"), "", 422, "customerId"},
		{"customer negative", "/order/v1", orderBody(-3, "10", "GBP"), "", 422, "customerId"},
		{"customer bool", "/order/v1", strings.Replace(ok, `"42"`, `true`, 1), "", 422, "customerId"},
		{"channel", "/order/v1", strings.Replace(ok, `"web"`, `"fax"`, 1), "", 422, "channel"},
		{"no channel", "/order/v1", strings.Replace(ok, `"channel":"web",`, ``, 1), "", 422, "channel"},
		{"store without id", "/order/v1", strings.Replace(ok, `"web"`, `"store"`, 1), "", 422, "storeId"},
		{"amount as number", "/order/v1", strings.Replace(ok, `"10"`, `10`, 1), "", 422, "paymentDetails.amount"},
		{"amount exponent", "/order/v1", orderBody("42", "1e3", "GBP"), "", 422, "paymentDetails.amount"},
		{"amount text", "/order/v1", orderBody("42", "ten", "GBP"), "", 422, "paymentDetails.amount"},
		{"amount too large", "/order/v1", orderBody("42", "20000000", "GBP"), "", 422, "paymentDetails.amount"},
		{"amount 7 decimals", "/order/v1", orderBody("42", "10.0000001", "GBP"), "", 422, "paymentDetails.amount"},
		{"currency", "/order/v1", orderBody("42", "10", "USD"), "", 422, "paymentDetails.currency"},
		{"no currency", "/order/v1", orderBody("42", "10", ""), "", 422, "paymentDetails.currency"},
		{"no payment", "/order/v1", `{"customerId":"42","channel":"web","purchasedAt":"2025-01-01T00:00:00Z"}`, "", 422, "paymentDetails"},
		{"time format", "/order/v1", strings.Replace(ok, `Z"`, `"`, 1), "", 422, "purchasedAt"},
		{"time in future", "/order/v1", orderAt("42", "10", "GBP", future), "", 422, "purchasedAt"},
		{"bad item", "/order/v1", strings.Replace(ok, `"71053"`, `"a b"`, 1), "", 422, "itemIds"},
		{"items not array", "/order/v1", strings.Replace(ok, `["85123A","71053"]`, `"85123A"`, 1), "", 422, "itemIds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := req{method: "POST", path: c.path, token: ch, body: c.body}
			if c.ctype != "" {
				q.header = map[string]string{"Content-Type": c.ctype}
			}
			r := e.do(t, q)
			want(t, r, c.status)
			p := r.Problem(t)
			if c.field == "" {
				return
			}
			for _, fi := range p.Errors {
				if fi.Field == c.field && fi.Reason != "" {
					return
				}
			}
			t.Fatalf("problem %+v does not name field %s", p, c.field)
		})
	}
	// Nothing of it was applied.
	if seq, err := e.idx.Seq(t.Context()); err != nil || seq != 0 {
		t.Fatalf("index seq %d (err %v) after only bad orders, want 0", seq, err)
	}
}
