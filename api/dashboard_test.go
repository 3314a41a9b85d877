package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
	"go.uber.org/mock/gomock"
)

// seed puts n customers (ids 1..n, some left at 0) with random balances,
// many tied, on the board through the index.
func seed(t testing.TB, e *env, r *rand.Rand, n int) {
	t.Helper()
	var cs []ledger.Change
	for id := 1; id <= n; id++ {
		var p int64
		switch r.IntN(4) {
		case 0: // not on the board
			continue
		case 1:
			p = int64(r.IntN(5)) + 1
		default:
			p = int64(r.IntN(5000)) + 1
		}
		c := ledger.Change{ID: fmt.Sprintf("seed-%d", id), CustomerID: uint64(id), Points: p, Cause: ledger.CauseOrder,
			OccurredAt: time.Now().UTC().Truncate(time.Second)}
		c.Seal()
		cs = append(cs, c)
	}
	var err error
	if e.write != nil {
		_, err = e.write.Apply(t.Context(), cs)
	}
	if err != nil {
		t.Fatal(err)
	}
}

type rankJSON struct {
	Rank      int64  `json:"rank"`
	ProxyName string `json:"proxyName"`
	Points    int64  `json:"points"`
	You       bool   `json:"you"`
}

type dashJSON struct {
	Me          rankJSON   `json:"me"`
	Ranked      bool       `json:"ranked"`
	TiedWith    int64      `json:"tiedWith"`
	TotalRanked int64      `json:"totalRanked"`
	Top         []rankJSON `json:"top"`
	Above       []rankJSON `json:"above"`
	Below       []rankJSON `json:"below"`
	AsOf        asOfJSON   `json:"asOf"`
	Stale       bool       `json:"stale"`
	Partial     bool       `json:"partial"`
	CustomerID  string     `json:"customerId"`
	// The nudges: nil when null or absent.
	PointsToNextRank *int64   `json:"pointsToNextRank"`
	PointsToTop      *int64   `json:"pointsToTop"`
	TopPercent       *float64 `json:"topPercent"`
}

type asOfJSON struct {
	Seq uint64     `json:"seq"`
	At  *time.Time `json:"at"`
}

// expect maps the ranker's answer to what the API must show to a reader:
// the customer themself (own) or staff.
func expect(names *api.ProxyNamer, d ranker.Dashboard, own bool) dashJSON {
	line := func(x ranker.Entry) rankJSON {
		return rankJSON{x.Rank, names.Name(x.CustomerID), x.Points, own && x.CustomerID == d.Me.CustomerID}
	}
	lines := func(xs []ranker.Entry) []rankJSON {
		out := []rankJSON{}
		for _, x := range xs {
			out = append(out, line(x))
		}
		return out
	}
	tied := d.Tied
	if d.Ranked {
		tied--
	}
	gap := func(g ranker.Gap) *int64 {
		if !g.OK {
			return nil
		}
		return &g.Points
	}
	var pct *float64
	if d.TopPercent > 0 {
		pct = &d.TopPercent
	}
	return dashJSON{Me: line(d.Me), Ranked: d.Ranked, TiedWith: tied, TotalRanked: d.Total,
		Top: lines(d.Top), Above: lines(d.Above), Below: lines(d.Below), AsOf: asOfJSON{Seq: d.Seq}, Stale: d.Stale, Partial: d.Partial,
		CustomerID: strconv.FormatUint(d.Me.CustomerID, 10), PointsToNextRank: gap(d.NextRank), PointsToTop: gap(d.ToTop), TopPercent: pct}
}

// TestDashboardMatchesRanker reads random customers' dashboards over HTTP
// on a seeded board and compares them with the ranker's own answer.
func TestDashboardMatchesRanker(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	s := testenv.Seed(t)
	r := rand.New(rand.NewPCG(s, 7))
	const n = 3000
	seed(t, e, r, n)
	staff := e.token(t, "agent-7", "staff")
	for i := 0; i < 300; i++ {
		id := uint64(r.IntN(n+10)) + 1 // a few beyond the seeded ids
		top, around := r.IntN(e.cfg.MaxTop)+1, r.IntN(e.cfg.MaxAround+1)
		path := fmt.Sprintf("/loyalty/%d?top=%d&around=%d", id, top, around)
		tok, own := staff, i%2 == 0
		if own {
			tok = e.token(t, strconv.FormatUint(id, 10), "customer")
		}
		res := e.get(t, path, tok)
		want(t, res, 200)
		var got dashJSON
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		d, err := e.rank.Dashboard(t.Context(), id, top, around)
		if err != nil {
			t.Fatal(err)
		}
		if got.AsOf.At == nil || !got.AsOf.At.Equal(d.At.Truncate(time.Millisecond)) {
			t.Fatalf("%s: asOf.at %v, want %v", path, got.AsOf.At, d.At)
		}
		got.AsOf.At = nil
		// On a busy machine either answer may miss the 50 ms head budget and
		// be marked stale; nothing is written meanwhile, so the data agree.
		w := expect(e.names, d, own)
		got.Stale, w.Stale = false, false
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("seed %d: %s:\n got %+v\nwant %+v", s, path, got, w)
		}
		if got.Me.You != own {
			t.Fatalf("%s: me with you=%v, want it only for the customer themself (own %v)", path, got.Me.You, own)
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(res.Body, &raw)
		for k := range raw {
			switch k {
			case "me", "ranked", "tiedWith", "totalRanked", "top", "above", "below", "asOf", "stale", "partial", "board",
				"customerId", "pointsToNextRank", "pointsToTop", "topPercent":
			default:
				t.Fatalf("unexpected key %q in a dashboard", k)
			}
		}
	}
}

// TestDashboardQuery checks the defaults and limits of top and around and
// the path id.
func TestDashboardQuery(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	seed(t, e, rand.New(rand.NewPCG(1, 2)), 200)
	staff := e.token(t, "agent-7", "staff")
	var d dashJSON
	res := e.get(t, "/loyalty/5", staff)
	want(t, res, 200)
	_ = json.Unmarshal(res.Body, &d)
	if len(d.Top) != e.cfg.DefaultTop {
		t.Fatalf("default top: %d entries, want %d", len(d.Top), e.cfg.DefaultTop)
	}
	res = e.get(t, "/loyalty/5?top=100&around=10", staff)
	want(t, res, 200)
	for _, path := range []string{
		"/loyalty/5?top=0", "/loyalty/5?top=101", "/loyalty/5?top=abc", "/loyalty/5?top=", "/loyalty/5?top=1.5",
		"/loyalty/5?around=11", "/loyalty/5?around=-1", "/loyalty/5?around=x", "/loyalty/5?top=+5",
		"/loyalty/0", "/loyalty/abc", "/loyalty/05", "/loyalty/-5", "/loyalty/9007199254740992", "/loyalty/99999999999999999999",
	} {
		res := e.get(t, path, staff)
		want(t, res, 400)
		p := res.Problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Reason == "" {
			t.Fatalf("%s: problem %+v does not say what to fix", path, p)
		}
	}
	// The largest id is accepted; a customer with no points sees 0 and the K above.
	res = e.get(t, "/loyalty/9007199254740991?around=3", staff)
	want(t, res, 200)
	d = dashJSON{}
	_ = json.Unmarshal(res.Body, &d)
	if d.Ranked || d.Me.Points != 0 || d.Me.Rank != d.TotalRanked+1 || len(d.Above) != 3 || len(d.Below) != 0 {
		t.Fatalf("unranked customer: %+v", d)
	}
}

// TestManualPoints inserts points by hand: success, replays (body or
// header key), conflicts and each field's limits.
func TestManualPoints(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t)
	staff := e.token(t, "agent-7", "staff")
	body := func(pts any, reason, key string) string {
		rs, _ := json.Marshal(reason)
		ks, _ := json.Marshal(key)
		return fmt.Sprintf(`{"loyalty-points":%v,"reason":%s,"idempotencyKey":%s}`, pts, rs, ks)
	}
	r := e.post(t, "/loyalty/17850", staff, body(250, "goodwill: late delivery", "ticket-1"))
	want(t, r, 201)
	m := r.JSON(t)
	if num(t, m, "pointsAwarded") != 250 || num(t, m, "balance") != 250 || num(t, m, "ledgerId") != 1 || m["replayed"] != false {
		t.Fatalf("manual insert: %v", m)
	}
	// The same key in the header, the same content: the original result.
	r = e.do(t, req{method: "POST", path: "/loyalty/17850", token: staff, body: `{"loyalty-points":250,"reason":"goodwill: late delivery"}`,
		header: map[string]string{"Idempotency-Key": "ticket-1"}})
	want(t, r, 200)
	if m := r.JSON(t); m["replayed"] != true || num(t, m, "ledgerId") != 1 || num(t, m, "balance") != 250 {
		t.Fatalf("replay: %v", m)
	}
	// The same key, other content: 409.
	want(t, e.post(t, "/loyalty/17850", staff, body(300, "goodwill: late delivery", "ticket-1")), 409)
	want(t, e.post(t, "/loyalty/17851", staff, body(250, "goodwill: late delivery", "ticket-1")), 409)
	// Removing more than the balance is refused: 409, nothing deducted.
	r = e.post(t, "/loyalty/17850", staff, body(-1000, "correction", "ticket-2"))
	want(t, r, 409)
	if m := r.JSON(t); !strings.HasSuffix(fmt.Sprint(m["type"]), "/insufficient-points") || !strings.Contains(fmt.Sprint(m["detail"]), "250 points") {
		t.Fatalf("a deduction past the balance: %v", m)
	}
	if b, err := e.idx.Balance(testenv.Context(t), 17850); err != nil || b != 250 {
		t.Fatalf("balance after a refused deduction: %d, %v; want 250", b, err)
	}
	// Removing the whole balance is fine.
	r = e.post(t, "/loyalty/17850", staff, body(-250, "correction", "ticket-2"))
	want(t, r, 201)
	if m := r.JSON(t); num(t, m, "pointsAwarded") != -250 || num(t, m, "balance") != 0 || num(t, m, "ledgerId") != 2 {
		t.Fatalf("removal: %v", m)
	}
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'x'
	}
	cases := []struct {
		name, body, header, field string
		status                    int
	}{
		{"zero", body(0, "r", "k3"), "", "loyalty-points", 422},
		{"too many", body(1_000_001, "r", "k3"), "", "loyalty-points", 422},
		{"too few", body(-1_000_001, "r", "k3"), "", "loyalty-points", 422},
		{"fraction", body(1.5, "r", "k3"), "", "loyalty-points", 422},
		{"string", body(`"5"`, "r", "k3"), "", "loyalty-points", 422},
		{"missing points", `{"reason":"r","idempotencyKey":"k3"}`, "", "loyalty-points", 422},
		{"no reason", body(5, "", "k3"), "", "reason", 422},
		{"blank reason", body(5, "   ", "k3"), "", "reason", 422},
		{"long reason", body(5, string(long), "k3"), "", "reason", 422},
		{"control in reason", body(5, "a\u0007b", "k3"), "", "reason", 422},
		{"no key", body(5, "r", ""), "", "idempotencyKey", 422},
		{"bad key", body(5, "r", "a b"), "", "idempotencyKey", 422},
		{"long key", body(5, "r", string(long[:65])), "", "idempotencyKey", 422},
		{"bad header key", `{"loyalty-points":5,"reason":"r"}`, "a/b", "idempotencyKey", 422},
		{"keys differ", body(5, "r", "k3"), "k4", "idempotencyKey", 422},
		{"unknown field", `{"loyalty-points":5,"reason":"r","idempotencyKey":"k3","points":5}`, "", "points", 400},
		{"malformed", `{"loyalty-points":5,`, "", "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := req{method: "POST", path: "/loyalty/17850", token: staff, body: c.body}
			if c.header != "" {
				q.header = map[string]string{"Idempotency-Key": c.header}
			}
			r := e.do(t, q)
			want(t, r, c.status)
			p := r.Problem(t)
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) {
				t.Fatalf("problem %+v does not name %s", p, c.field)
			}
		})
	}
	want(t, e.post(t, "/loyalty/0", staff, body(5, "r", "k5")), 400)
	if seq, _ := e.idx.Seq(t.Context()); seq != 2 {
		t.Fatalf("index seq %d, want 2: a refused request applied something", seq)
	}
}

// TestDashboardStale checks how a dashboard answered without confirming the
// latest change is marked: stale in the body, the Loyalty-Stale header, and
// asOf with the seq and time of the last change applied; a fresh one says
// false in both.
func TestDashboardStale(t *testing.T) {
	t.Parallel()
	e, rk, _ := newMockEnv(t)
	at := time.Date(2026, 12, 1, 23, 59, 58, 123_000_000, time.UTC)
	d := ranker.Dashboard{Me: ranker.Entry{CustomerID: 42, Rank: 1, Points: 7}, Ranked: true, Tied: 1, Total: 1,
		Top: []ranker.Entry{{CustomerID: 42, Rank: 1, Points: 7}}, Seq: 19, At: at}
	me := e.token(t, "42", "customer")
	for _, stale := range []bool{true, false} {
		d.Stale = stale
		rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).Return(d, nil)
		res := e.get(t, "/loyalty/42", me)
		want(t, res, 200)
		var got dashJSON
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		if h := res.Header.Get("Loyalty-Stale"); h != strconv.FormatBool(stale) {
			t.Errorf("stale %v: Loyalty-Stale %q", stale, h)
		}
		if got.Stale != stale || got.AsOf.Seq != 19 || got.AsOf.At == nil || !got.AsOf.At.Equal(at) {
			t.Errorf("stale %v: body stale %v asOf %d %v, want seq 19 at %v", stale, got.Stale, got.AsOf.Seq, got.AsOf.At, at)
		}
	}
}

// TestReadyzFollowsRanker: /readyz is the ranker's Ready alone (the replica
// stays ready through a primary outage while its board is young enough).
func TestReadyzFollowsRanker(t *testing.T) {
	t.Parallel()
	e, rk, _ := newMockEnv(t)
	rk.EXPECT().Ready().Return(true)
	want(t, e.get(t, "/readyz", ""), 200)
	rk.EXPECT().Ready().Return(false)
	want(t, e.get(t, "/readyz", ""), 503)
}

// TestDashboardPartial: while the board loads, a dashboard from the Redis
// histogram says partial, with the customer's points, rank and ties.
func TestDashboardPartial(t *testing.T) {
	t.Parallel()
	e, rk, _ := newMockEnv(t)
	rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).Return(ranker.Dashboard{
		Me: ranker.Entry{CustomerID: 42, Rank: 7, Points: 30}, Ranked: true, Tied: 3, Total: 900, Partial: true}, nil)
	res := e.get(t, "/loyalty/42", e.token(t, "42", "customer"))
	want(t, res, 200)
	var got dashJSON
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Partial || got.Stale || got.Me.Rank != 7 || got.Me.Points != 30 || got.TiedWith != 2 || got.TotalRanked != 900 ||
		len(got.Top) != 0 || len(got.Above) != 0 || got.AsOf.At != nil {
		t.Fatalf("partial dashboard %s", res.Body)
	}
}
