package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
	"go.uber.org/mock/gomock"
)

type lineJSON struct {
	Rank       int64  `json:"rank"`
	ProxyName  string `json:"proxyName"`
	Points     int64  `json:"points"`
	CustomerID string `json:"customerId"`
}

type pageJSON struct {
	Board       string     `json:"board"`
	Offset      int64      `json:"offset"`
	Limit       int        `json:"limit"`
	TotalRanked int64      `json:"totalRanked"`
	Entries     []lineJSON `json:"entries"`
	NextOffset  *int64     `json:"nextOffset"`
	AsOf        asOfJSON   `json:"asOf"`
}

type distJSON struct {
	Board       string `json:"board"`
	TotalRanked int64  `json:"totalRanked"`
	Min, Max    int64
	Buckets     []struct{ From, To, Count int64 } `json:"buckets"`
	Quantiles   map[string]int64                  `json:"quantiles"`
}

// decode unmarshals a 200 answer into v.
func decode(t *testing.T, r *response, v any) {
	t.Helper()
	want(t, r, http.StatusOK)
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
}

// gapOf is what the API shows for a gap: the number, or nil for null.
func gapOf(g ranker.Gap) *int64 {
	if !g.OK {
		return nil
	}
	return &g.Points
}

func eqInt(a, b *int64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func show(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}

// TestLeaderboardOracleOverHTTP writes random balances through the API's
// writer on a real Redis, then checks over HTTP against the brute-force
// oracle (a sorted list of all balances): the dashboard's nudges and "you",
// pages at random offsets and a walk through every page by nextOffset, and
// the distribution's counts and quantiles.
func TestLeaderboardOracleOverHTTP(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t)
	s := testenv.Seed(t)
	r := rand.New(rand.NewPCG(s, 10))
	o := oracle.New()
	const customers = 1500
	var cs []ledger.Change
	for i := 0; i < 4000; i++ {
		id := uint64(r.IntN(customers)) + 1
		pts := int64(r.IntN(6)) + 1
		switch r.IntN(8) {
		case 0:
			pts = -int64(r.IntN(30))
		case 1:
			pts = int64(r.IntN(20_000))
		}
		o.Add(id, pts)
		c := ledger.Change{ID: fmt.Sprintf("lb-%d", i), CustomerID: id, Points: pts, Cause: ledger.CauseOrder,
			OccurredAt: time.Now().UTC().Truncate(time.Second)}
		c.Seal()
		cs = append(cs, c)
	}
	if _, err := e.write.Apply(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	// Pages come from what the replica has applied: wait until it has
	// applied the last write.
	last, err := e.idx.Seq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if seq := e.rep.Board().Seq(); seq < last {
			return fmt.Errorf("replica at seq %d, want %d", seq, last)
		}
		return nil
	})
	staff := e.token(t, "agent-7", "staff")
	all := o.Sorted()

	for i := 0; i < 150; i++ {
		id := uint64(r.IntN(customers+20)) + 1
		top := 1 + r.IntN(e.cfg.MaxTop)
		tok, own := staff, i%2 == 0
		if own {
			tok = e.token(t, strconv.FormatUint(id, 10), "customer")
		}
		var got dashJSON
		decode(t, e.get(t, fmt.Sprintf("/loyalty/%d?top=%d&around=1", id, top), tok), &got)
		w := o.Dashboard(id, top, 1)
		var wantPct *float64
		if w.Ranked {
			wantPct = &w.TopPercent
		}
		if !eqInt(got.PointsToNextRank, gapOf(w.NextRank)) || !eqInt(got.PointsToTop, gapOf(w.ToTop)) ||
			(got.TopPercent == nil) != (wantPct == nil) || got.TopPercent != nil && *got.TopPercent != *wantPct {
			t.Fatalf("seed %d: customer %d top %d (rank %d, %d points): nudges next %s top %s percent %v; want %s %s %v", s, id, top, w.Me.Rank, w.Me.Points,
				show(got.PointsToNextRank), show(got.PointsToTop), got.TopPercent, show(gapOf(w.NextRank)), show(gapOf(w.ToTop)), wantPct)
		}
		if got.CustomerID != strconv.FormatUint(id, 10) || got.Me.You != own {
			t.Fatalf("customer %d read by the customer %v: customerId %q, me.you %v", id, own, got.CustomerID, got.Me.You)
		}
		for _, l := range append(append(got.Top, got.Above...), got.Below...) {
			if l.You && (!own || l.ProxyName != e.names.Name(id)) {
				t.Fatalf("customer %d read by the customer %v: line %+v says you", id, own, l)
			}
		}
	}

	line := func(x ranker.Entry) lineJSON {
		return lineJSON{x.Rank, e.names.Name(x.CustomerID), x.Points, strconv.FormatUint(x.CustomerID, 10)}
	}
	checkPage := func(offset int64, limit int) pageJSON {
		t.Helper()
		var pg pageJSON
		decode(t, e.get(t, fmt.Sprintf("/leaderboard?offset=%d&limit=%d", offset, limit), staff), &pg)
		wantLines := o.Page(offset, limit)
		if pg.TotalRanked != int64(len(all)) || pg.Offset != offset || pg.Limit != limit || len(pg.Entries) != len(wantLines) || pg.Board != "all-time" || pg.AsOf.Seq != last {
			t.Fatalf("seed %d: page(%d, %d): %d of %d entries at seq %d; want %d of %d at %d", s, offset, limit, len(pg.Entries), pg.TotalRanked, pg.AsOf.Seq, len(wantLines), len(all), last)
		}
		for i, x := range wantLines {
			if pg.Entries[i] != line(x) {
				t.Fatalf("seed %d: page(%d, %d)[%d] = %+v, want %+v", s, offset, limit, i, pg.Entries[i], line(x))
			}
		}
		return pg
	}
	for i := 0; i < 40; i++ {
		checkPage(int64(r.IntN(len(all)+5)), 1+r.IntN(1000))
	}
	checkPage(int64(len(all)), 10)
	limit, seen := 1+r.IntN(300), 0
	for off := int64(0); ; {
		pg := checkPage(off, limit)
		seen += len(pg.Entries)
		if pg.NextOffset == nil {
			break
		}
		off = *pg.NextOffset
	}
	if seen != len(all) {
		t.Fatalf("seed %d: walking by %d met %d customers of %d", s, limit, seen, len(all))
	}

	for _, buckets := range []int{1, 20, 100} {
		var d distJSON
		decode(t, e.get(t, fmt.Sprintf("/leaderboard/distribution?buckets=%d", buckets), staff), &d)
		var sum int64
		for i, b := range d.Buckets {
			if want := o.Count(b.From, b.To); b.Count != want || i > 0 && b.From != d.Buckets[i-1].To+1 {
				t.Fatalf("seed %d: bucket %+v counts %d (oracle %d) in %+v", s, b, b.Count, want, d.Buckets)
			}
			sum += b.Count
		}
		if sum != int64(len(all)) || d.TotalRanked != sum || len(d.Buckets) == 0 || len(d.Buckets) > buckets || d.Buckets[0].From != 1 || d.Max != all[0].Points {
			t.Fatalf("seed %d: %d buckets count %d of %d (max %d): %+v", s, buckets, sum, len(all), d.Max, d)
		}
		for name, q := range map[string]int64{"p50": 5000, "p90": 9000, "p99": 9900, "p99.9": 9990} {
			if got, want := d.Quantiles[name], o.Quantile(q); got != want {
				t.Fatalf("seed %d: %s = %d, want %d", s, name, got, want)
			}
		}
	}
}

// TestLeaderboardAccess: staff only (a customer or channel token is 403,
// none 401), parameters out of range are 400 naming the parameter, unknown
// boards 404.
func TestLeaderboardAccess(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	staff := e.token(t, "agent-7", "staff")
	for _, path := range []string{"/leaderboard", "/leaderboard/distribution"} {
		want(t, e.get(t, path, ""), http.StatusUnauthorized)
		want(t, e.get(t, path, e.token(t, "7", "customer")), http.StatusForbidden)
		want(t, e.get(t, path, e.token(t, "pos-1", "channel")), http.StatusForbidden)
		want(t, e.get(t, path, staff), http.StatusOK)
		want(t, e.get(t, path+"?board=weekly", staff), http.StatusNotFound)
	}
	for _, c := range []struct{ query, param string }{
		{"/leaderboard?offset=-1", "offset"}, {"/leaderboard?offset=abc", "offset"}, {"/leaderboard?offset=", "offset"},
		{"/leaderboard?offset=+3", "offset"}, {"/leaderboard?offset=1000000000001", "offset"},
		{"/leaderboard?limit=0", "limit"}, {"/leaderboard?limit=1001", "limit"}, {"/leaderboard?limit=x", "limit"},
		{"/leaderboard/distribution?buckets=0", "buckets"}, {"/leaderboard/distribution?buckets=101", "buckets"},
	} {
		r := e.get(t, c.query, staff)
		want(t, r, http.StatusBadRequest)
		if p := r.Problem(t); len(p.Errors) != 1 || p.Errors[0].Field != c.param || p.Errors[0].Reason == "" {
			t.Errorf("%s: problem %+v does not name %s with what to fix", c.query, p, c.param)
		}
	}
	// The empty board: no lines, no buckets, no quantiles.
	var pg pageJSON
	decode(t, e.get(t, "/leaderboard", staff), &pg)
	if pg.TotalRanked != 0 || len(pg.Entries) != 0 || pg.NextOffset != nil || pg.Limit != 100 {
		t.Fatalf("empty board page: %+v", pg)
	}
	var d distJSON
	decode(t, e.get(t, "/leaderboard/distribution", staff), &d)
	if d.TotalRanked != 0 || len(d.Buckets) != 0 || len(d.Quantiles) != 0 {
		t.Fatalf("empty board distribution: %+v", d)
	}
}

// TestPartialDashboardNudges: on a partial dashboard a nudge the Redis
// index could not give exactly is absent (not null, which means "none"),
// and topPercent is absent; a known one is shown.
func TestPartialDashboardNudges(t *testing.T) {
	t.Parallel()
	e, rk, _ := newMockEnv(t)
	d := ranker.Dashboard{Me: ranker.Entry{CustomerID: 42, Rank: 30, Points: 7}, Ranked: true, Tied: 1, Total: 90, Partial: true,
		ToTop: ranker.Gap{Points: 93, OK: true}}
	rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).Return(d, nil)
	var raw map[string]json.RawMessage
	decode(t, e.get(t, "/loyalty/42", e.token(t, "42", "customer")), &raw)
	if _, ok := raw["pointsToNextRank"]; ok {
		t.Errorf("unknown pointsToNextRank shown: %s", raw["pointsToNextRank"])
	}
	if _, ok := raw["topPercent"]; ok {
		t.Errorf("unknown topPercent shown: %s", raw["topPercent"])
	}
	if string(raw["pointsToTop"]) != "93" {
		t.Errorf("pointsToTop %s, want 93", raw["pointsToTop"])
	}
	// At rank 1 the next rank is null: there is none.
	d = ranker.Dashboard{Me: ranker.Entry{CustomerID: 42, Rank: 1, Points: 7}, Ranked: true, Tied: 1, Total: 1,
		NextRank: ranker.Gap{None: true}, ToTop: ranker.Gap{OK: true}, TopPercent: 100}
	rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).Return(d, nil)
	raw = nil
	decode(t, e.get(t, "/loyalty/42", e.token(t, "42", "customer")), &raw)
	if string(raw["pointsToNextRank"]) != "null" || string(raw["pointsToTop"]) != "0" || string(raw["topPercent"]) != "100" {
		t.Errorf("rank 1: next %s, top %s, percent %s; want null, 0, 100", raw["pointsToNextRank"], raw["pointsToTop"], raw["topPercent"])
	}
	// A tiny percentage is written without an exponent.
	d.TopPercent, d.Me.Rank, d.NextRank = 0.000002, 2, ranker.Gap{Points: 1, OK: true}
	rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).Return(d, nil)
	raw = nil
	decode(t, e.get(t, "/loyalty/42", e.token(t, "42", "customer")), &raw)
	if string(raw["topPercent"]) != "0.000002" {
		t.Errorf("topPercent %s, want 0.000002", raw["topPercent"])
	}
}

// TestLeaderboardSeasons: the season board pages, describes and nudges like
// the all-time board: two customers this month, three last month.
func TestLeaderboardSeasons(t *testing.T) {
	t.Parallel()
	e, cal := newSeasonEnv(t)
	ch, staff := e.token(t, "pos-1", "channel"), e.token(t, "agent-7", "staff")
	now := time.Now().UTC()
	lastMonth := cal.Start(now).Add(-time.Hour)
	for _, o := range []struct {
		id, cust, amount string
		at               time.Time
	}{
		{"a", "501", "300", lastMonth}, {"b", "502", "100", lastMonth}, {"c", "503", "40", lastMonth},
		{"d", "502", "50", now.Add(-time.Minute)}, {"e", "503", "20", now.Add(-time.Minute)},
	} {
		want(t, e.post(t, "/order/"+o.id, ch, orderAt(o.cust, o.amount, "GBP", o.at.Format(time.RFC3339))), http.StatusCreated)
	}
	// This month: 502 has 5, 503 has 2; 501 has none.
	var pg pageJSON
	decode(t, e.get(t, "/leaderboard?board=season", staff), &pg)
	if pg.Board != cal.Of(now) || pg.TotalRanked != 2 || len(pg.Entries) != 2 || pg.Entries[0].CustomerID != "502" || pg.Entries[0].Points != 5 || pg.Entries[1].Points != 2 {
		t.Fatalf("season page: %+v", pg)
	}
	var d distJSON
	decode(t, e.get(t, "/leaderboard/distribution?board="+cal.Of(lastMonth), staff), &d)
	if d.Board != cal.Of(lastMonth) || d.TotalRanked != 3 || d.Max != 30 || d.Quantiles["p50"] != 10 || d.Quantiles["p99"] != 30 {
		t.Fatalf("last season's distribution: %+v", d)
	}
	var dash dashJSON
	decode(t, e.get(t, "/loyalty/503?board=season&top=1", e.token(t, "503", "customer")), &dash)
	if dash.PointsToNextRank == nil || *dash.PointsToNextRank != 3 || dash.PointsToTop == nil || *dash.PointsToTop != 3 || dash.TopPercent == nil || *dash.TopPercent != 100 {
		t.Fatalf("season dashboard of 503 (2 points, 502 has 5): next %s top %s percent %v", show(dash.PointsToNextRank), show(dash.PointsToTop), dash.TopPercent)
	}
	dash = dashJSON{}
	decode(t, e.get(t, "/loyalty/501?board=season&top=1", e.token(t, "501", "customer")), &dash)
	if dash.Ranked || dash.PointsToNextRank == nil || *dash.PointsToNextRank != 2 || dash.PointsToTop == nil || *dash.PointsToTop != 5 || dash.TopPercent != nil {
		t.Fatalf("season dashboard of 501 (no points this month): next %s top %s percent %v", show(dash.PointsToNextRank), show(dash.PointsToTop), dash.TopPercent)
	}
}
