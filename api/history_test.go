package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/api/mocks"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ranker"
	"github.com/xyz/loyalty/web"
	"go.uber.org/mock/gomock"
)

// histLine is what a test checks of one history entry.
type histLine struct {
	kind, orderID, channel, storeID, reason string
	points, balance                         int64
}

func historyLines(t testing.TB, m map[string]any) ([]histLine, []uint64) {
	t.Helper()
	var out []histLine
	var seqs []uint64
	for _, v := range m["entries"].([]any) {
		x := v.(map[string]any)
		str := func(k string) string { s, _ := x[k].(string); return s }
		out = append(out, histLine{str("kind"), str("orderId"), str("channel"), str("storeId"), str("reason"), num(t, x, "points"), num(t, x, "balance")})
		seqs = append(seqs, uint64(num(t, x, "seq")))
	}
	return out, seqs
}

// TestHistoryOverLedger applies orders, a store order, a refund, manual
// points and a correction through the API, ships them to a real ClickHouse
// ledger and reads the customer's history: every change once, newest first,
// the same through every page size, the last balance the dashboard's.
func TestHistoryOverLedger(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t)
	e.build(t, api.Deps{Ranker: e.rep, Writer: e.write, History: e.ledger})
	ch, staff, me := e.token(t, "pos-1", "channel"), e.token(t, "agent-7", "staff"), e.token(t, "4242", "customer")
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	want(t, e.post(t, "/order/web-1", ch, orderAt("4242", "100.00", "GBP", at)), http.StatusCreated)
	store := `{"customerId":"4242","channel":"store","storeId":"S-12","paymentDetails":{"amount":"54.99","currency":"GBP"},"purchasedAt":"` + at + `"}`
	want(t, e.post(t, "/order/pos-2", ch, store), http.StatusCreated)
	want(t, e.post(t, "/order/web-3", ch, orderAt("4242", "-30.00", "GBP", at)), http.StatusCreated)
	want(t, e.post(t, "/loyalty/4242", staff, `{"loyalty-points":12,"reason":"late delivery","idempotencyKey":"case-1"}`), http.StatusCreated)
	want(t, e.do(t, req{method: http.MethodPut, path: "/order/web-1", token: ch, body: orderAt("4242", "150.00", "GBP", at)}), http.StatusCreated)
	want(t, e.post(t, "/order/web-9", ch, orderAt("77", "10.00", "GBP", at)), http.StatusCreated)
	e.ship(t)

	wantLines := []histLine{
		{"correction", "web-1", "web", "", "", 5, 29},
		{"manual", "", "", "", "late delivery", 12, 24},
		{"refund", "web-3", "web", "", "", -3, 12},
		{"order", "pos-2", "store", "S-12", "", 5, 15},
		{"order", "web-1", "web", "", "", 10, 10},
	}
	r := e.get(t, "/loyalty/4242/history", me)
	want(t, r, http.StatusOK)
	m := r.JSON(t)
	all, seqs := historyLines(t, m)
	if fmt.Sprint(all) != fmt.Sprint(wantLines) || m["nextBefore"] != nil {
		t.Fatalf("history:\n got %v (next %v)\nwant %v", all, m["nextBefore"], wantLines)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] >= seqs[i-1] {
			t.Fatalf("seqs %v not newest first", seqs)
		}
	}
	first := m["entries"].([]any)[len(all)-1].(map[string]any)
	if first["amount"] != "100" || first["currency"] != "GBP" || first["at"] != at {
		t.Fatalf("the first order's line: %v", first)
	}
	d := e.get(t, "/loyalty/4242", me).JSON(t)
	if got := num(t, d["me"].(map[string]any), "points"); got != all[0].balance {
		t.Fatalf("dashboard points %d, history's last balance %d", got, all[0].balance)
	}

	for _, limit := range []int{1, 2, 4} {
		var got []histLine
		path := fmt.Sprintf("/loyalty/4242/history?limit=%d", limit)
		for pages := 0; ; pages++ {
			r := e.get(t, path, staff)
			want(t, r, http.StatusOK)
			m := r.JSON(t)
			page, _ := historyLines(t, m)
			got = append(got, page...)
			next, more := m["nextBefore"]
			if !more {
				break
			}
			if len(page) != limit || pages > len(wantLines) {
				t.Fatalf("limit %d: a page of %d with nextBefore %v", limit, len(page), next)
			}
			path = fmt.Sprintf("/loyalty/4242/history?limit=%d&before=%d", limit, int64(next.(float64)))
		}
		if fmt.Sprint(got) != fmt.Sprint(wantLines) {
			t.Fatalf("limit %d pages:\n got %v\nwant %v", limit, got, wantLines)
		}
	}

	r = e.get(t, "/loyalty/5/history", e.token(t, "5", "customer"))
	want(t, r, http.StatusOK)
	if m := r.JSON(t); len(m["entries"].([]any)) != 0 || m["nextBefore"] != nil {
		t.Fatalf("a customer with no entries: %s", r.Body)
	}
}

// TestHistoryRequests checks who may read a history and that bad query
// parameters get a 400 naming what to send.
func TestHistoryRequests(t *testing.T) {
	t.Parallel()
	st := openEmbedded(t)
	w := ingest.NewWriter(st, nil, newRule(t))
	e := &env{store: st, rank: ranker.Local{B: st.Board()}, write: w}
	e.build(t, api.Deps{Ranker: e.rank, Writer: w, History: st})
	me := e.token(t, "42", "customer")
	for _, tc := range []struct {
		path, token string
		status      int
		field       string
	}{
		{"/loyalty/42/history", me, 200, ""},
		{"/loyalty/42/history", e.token(t, "agent", "staff"), 200, ""},
		{"/loyalty/42/history", "", 401, ""},
		{"/loyalty/42/history", e.token(t, "43", "customer"), 403, ""},
		{"/loyalty/42/history", e.token(t, "pos", "channel"), 403, ""},
		{"/loyalty/0/history", e.token(t, "agent", "staff"), 400, "userId"},
		{"/loyalty/42/history?limit=0", me, 400, "limit"},
		{"/loyalty/42/history?limit=101", me, 400, "limit"},
		{"/loyalty/42/history?limit=ten", me, 400, "limit"},
		{"/loyalty/42/history?limit=100", me, 200, ""},
		{"/loyalty/42/history?before=0", me, 400, "before"},
		{"/loyalty/42/history?before=-5", me, 400, "before"},
		{"/loyalty/42/history?before=18446744073709551616", me, 400, "before"},
		{"/loyalty/42/history?before=18446744073709551615", me, 200, ""},
	} {
		r := e.get(t, tc.path, tc.token)
		if r.Status != tc.status {
			t.Fatalf("GET %s: %d, want %d; %s", tc.path, r.Status, tc.status, r.Body)
		}
		if tc.field != "" {
			p := r.Problem(t)
			if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || (tc.field != "userId" && !strings.Contains(p.Detail, tc.field)) {
				t.Fatalf("GET %s: problem %+v does not name %s", tc.path, p, tc.field)
			}
		}
	}
}

// TestHistoryUnavailable: a ledger that can't be reached answers 503 with a
// generic body and Retry-After, while the dashboard answers 200; any other
// failure is a generic 500.
func TestHistoryUnavailable(t *testing.T) {
	t.Parallel()
	st := openEmbedded(t)
	hist := mocks.NewMockHistoryReader(gomock.NewController(t))
	w := ingest.NewWriter(st, nil, newRule(t))
	e := &env{store: st, rank: ranker.Local{B: st.Board()}, write: w}
	e.build(t, api.Deps{Ranker: e.rank, Writer: w, History: hist})
	me := e.token(t, "42", "customer")
	hist.EXPECT().HistoryPage(gomock.Any(), uint64(42), uint64(0), api.HistoryDefaultLimit+1).
		Return(nil, fmt.Errorf("%w: clickhouse: dial tcp %s: connection refused", api.ErrHistoryUnavailable, secret))
	generic(t, e.get(t, "/loyalty/42/history", me), http.StatusServiceUnavailable)
	want(t, e.get(t, "/loyalty/42", me), http.StatusOK)
	hist.EXPECT().HistoryPage(gomock.Any(), uint64(42), uint64(9), 3).Return(nil, errors.New("bad reply from "+secret))
	generic(t, e.get(t, "/loyalty/42/history?limit=2&before=9", me), http.StatusInternalServerError)
	hist.EXPECT().HistoryPage(gomock.Any(), uint64(42), uint64(0), 3).Return(nil, context.DeadlineExceeded)
	generic(t, e.get(t, "/loyalty/42/history?limit=2", me), http.StatusServiceUnavailable)
}

// TestDevSignIn: POST /dev/token exists only when Config.DevSignIn is set,
// mints customer and staff tokens the API accepts, and names what to fix.
func TestDevSignIn(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t, func(c *api.Config) { c.DevSignIn = true })
	r := e.post(t, "/dev/token", "", `{"role":"customer","subject":"17850"}`)
	want(t, r, http.StatusCreated)
	cust := r.JSON(t)["token"].(string)
	want(t, e.get(t, "/loyalty/17850", cust), http.StatusOK)
	want(t, e.get(t, "/loyalty/17851", cust), http.StatusForbidden)
	r = e.post(t, "/dev/token", "", `{"role":"staff","subject":"alice"}`)
	want(t, r, http.StatusCreated)
	staff := r.JSON(t)["token"].(string)
	want(t, e.post(t, "/loyalty/17850", staff, `{"loyalty-points":5,"reason":"demo","idempotencyKey":"d-1"}`), http.StatusCreated)
	// Staff names follow the rule `loyalty token` applies (api.CheckSubject).
	want(t, e.post(t, "/dev/token", "", `{"role":"staff","subject":"ops:alice"}`), http.StatusCreated)
	for _, tc := range []struct{ body, field string }{
		{`{"role":"staff","subject":"-alice"}`, "subject"},
		{`{"role":"channel","subject":"pos"}`, "role"},
		{`{"role":"","subject":"1"}`, "role"},
		{`{"role":"customer","subject":"alice"}`, "subject"},
		{`{"role":"customer","subject":"0"}`, "subject"},
		{`{"role":"staff","subject":"a b"}`, "subject"},
		{`{"role":"staff","subject":""}`, "subject"},
	} {
		r := e.post(t, "/dev/token", "", tc.body)
		want(t, r, http.StatusUnprocessableEntity)
		if p := r.Problem(t); len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Fatalf("%s: %+v, want one issue naming %s", tc.body, p, tc.field)
		}
	}
	want(t, e.post(t, "/dev/token", "", `{"role":"staff","subject":"alice","extra":1}`), http.StatusBadRequest)
	if r := e.get(t, "/dev/token", ""); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"roles":["customer","staff"]`) {
		t.Fatalf("GET /dev/token: %d %s", r.Status, r.Body)
	}

	off := newEmbeddedEnv(t)
	want(t, off.post(t, "/dev/token", "", `{"role":"staff","subject":"alice"}`), http.StatusNotFound)
	want(t, off.get(t, "/dev/token", ""), http.StatusNotFound)

	cfg := testConfig()
	cfg.DevSignIn = true
	cfg.Auth.HS256Key = nil
	if _, err := api.New(cfg, api.Deps{Ranker: e.rank, Writer: e.write}, quiet); err == nil || !strings.Contains(err.Error(), "DevSignIn") {
		t.Fatalf("DevSignIn without an HS256 key: %v, want an error naming DevSignIn", err)
	}
}

// TestPageRoutes: the page and its files are served when Deps.Page is set,
// and are a 404 problem otherwise.
func TestPageRoutes(t *testing.T) {
	t.Parallel()
	page, err := web.Handler()
	if err != nil {
		t.Fatal(err)
	}
	e := newEmbeddedEnv(t)
	e.build(t, api.Deps{Ranker: e.rank, Writer: e.write, Page: page})
	for path, ctype := range map[string]string{"/": "text/html", "/app/app.js": "text/javascript", "/app/app.css": "text/css"} {
		r := e.get(t, path, "")
		want(t, r, http.StatusOK)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) {
			t.Fatalf("GET %s: %s", path, r.Header.Get("Content-Type"))
		}
	}
	want(t, e.get(t, "/app/missing.js", ""), http.StatusNotFound)
	want(t, e.get(t, "/healthz", ""), http.StatusOK)
	r := newEmbeddedEnv(t).get(t, "/", "")
	want(t, r, http.StatusNotFound)
	r.Problem(t)
}
