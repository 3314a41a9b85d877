package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ranker"
)

func tinyConfig() Config {
	c := DefaultConfig()
	c.Customers, c.Duration, c.Concurrency, c.CheckSample, c.WriteRate = 10_000, time.Second, 8, 1000, 2000
	return c
}

func client(t *testing.T, c Config) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(RedisOptions(testenv.Redis(t).Addr, "", c.Concurrency))
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// seededBench is a bench on its own Redis, seeded, with its replica
// started (stopped in t.Cleanup).
func seededBench(t *testing.T, ctx context.Context, cfg Config) *bench {
	t.Helper()
	b, err := newBench(client(t, cfg), cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.seed(ctx); err != nil {
		t.Fatal(err)
	}
	stop, err := b.startReplica(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return b
}

// TestTinyRun runs alone (not in parallel): its memory figures are deltas
// of Redis's used_memory, which a loaded machine skews (a full parallel
// run once measured a negative baseline).
func TestTinyRun(t *testing.T) {
	cfg := tinyConfig()
	// Each of the ten phases runs this long: enough for items in every
	// one, and a tenth of the CPU a second each burnt.
	cfg.Duration = 250 * time.Millisecond
	ctx := testenv.Context(t)
	r, err := Run(ctx, client(t, cfg), cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if r.Check.Sampled != 1000 || r.Check.Mismatches != 0 {
		t.Fatalf("check: %+v", r.Check)
	}
	for _, want := range []struct{ name, system string }{
		{"dashboard", "baseline"}, {"dashboard", "ours"}, {"write x1", "ours"}, {"write x50", "ours"},
		{"write x1", "baseline"}, {"write x50", "baseline"}, {"mixed: dashboard", "ours"}, {"mixed: write", "ours"},
		{"mixed: dashboard", "baseline"}, {"mixed: write", "baseline"},
	} {
		p := r.phase(want.name, want.system)
		if p == nil || p.Items == 0 || p.Errors != 0 {
			t.Errorf("phase %s/%s: %+v", want.name, want.system, p)
		}
	}
	m := r.Memory
	if !m.Measured || m.OursRedisPerCustomer <= 0 || m.BaselinePerCustomer <= 0 {
		t.Errorf("memory: %+v", m)
	}
	if _, ok := r.Ratios["dashboard: per sec"]; !ok {
		t.Errorf("ratios: %v", r.Ratios)
	}
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
}

// TestCheckDetectsWrongAnswers corrupts the baseline after seeding and
// expects the check to flag the dashboards that differ.
func TestCheckDetectsWrongAnswers(t *testing.T) {
	t.Parallel()
	cfg := tinyConfig()
	ctx := testenv.Context(t)
	b := seededBench(t, ctx, cfg)
	ids := b.sample(200)
	c, err := b.check(ctx, ids)
	if err != nil || c.Mismatches != 0 {
		t.Fatalf("before corrupting: %+v, %v", c, err)
	}

	// One customer's balance in the baseline moves from the middle of the
	// board to the top: every top-N and many ranks now differ.
	victim := strconv.FormatUint(ids[0], 10)
	if err := b.rdb.ZIncrBy(ctx, b.zkey, 500_000, victim).Err(); err != nil {
		t.Fatal(err)
	}
	c, err = b.check(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mismatches != len(ids) {
		t.Fatalf("want all %d dashboards flagged, got %+v", len(ids), c)
	}

	// A subtler corruption: one point more for one customer only changes
	// that customer's own points and some neighbours.
	if err := b.rdb.ZIncrBy(ctx, b.zkey, -500_000, victim).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.rdb.ZIncrBy(ctx, b.zkey, 1, victim).Err(); err != nil {
		t.Fatal(err)
	}
	c, err = b.check(ctx, ids[:1])
	if err != nil {
		t.Fatal(err)
	}
	if c.Mismatches != 1 {
		t.Fatalf("a one-point difference went unnoticed: %+v", c)
	}
}

// TestRunFailsOnMismatch: Run itself returns ErrMismatch (and so the command
// exits non-zero) when the structures disagree.
func TestRunFailsOnMismatch(t *testing.T) {
	t.Parallel()
	cfg := tinyConfig()
	// The check is the phase that compares; the timed phases (TestTinyRun
	// runs them) have nothing to add here.
	cfg.Phases = []string{"check"}
	ctx := testenv.Context(t)
	rdb := client(t, cfg)
	if _, err := Run(ctx, rdb, cfg, quiet()); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, cfg.Prefix+":zset", redis.Z{Score: 1e6, Member: "1"}).Err(); err != nil {
		t.Fatal(err)
	}
	cfg.SkipSeed = true
	r, err := Run(ctx, rdb, cfg, quiet())
	if !errors.Is(err, ErrMismatch) || r == nil || r.Check.Mismatches == 0 {
		t.Fatalf("want ErrMismatch with a report, got %v", err)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	t.Parallel()
	var l Latency
	for i := 1; i <= 100_000; i++ {
		l.Record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := q * 100_000 * float64(time.Microsecond)
		got := float64(l.Quantile(q))
		if got < want*0.99 || got > want*1.01 {
			t.Errorf("q%v = %v, want %v within 1%%", q, time.Duration(got), time.Duration(want))
		}
	}
	var small Latency
	for i := range 300 {
		small.Record(time.Duration(i))
		if b := bucket(int64(i)); bucketMid(b) > int64(i)+1 || bucketMid(b) < int64(i) {
			t.Fatalf("bucket of %d: mid %d", i, bucketMid(b))
		}
	}
}

func TestBalanceDistribution(t *testing.T) {
	t.Parallel()
	const n = 200_000
	vals := make([]int64, n)
	distinct := map[int64]bool{}
	for i := range vals {
		vals[i] = Balance(1, uint64(i+1))
		distinct[vals[i]] = true
		if vals[i] < 1 || vals[i] > balanceMax {
			t.Fatalf("balance %d out of [1, %d]", vals[i], balanceMax)
		}
	}
	slices.Sort(vals)
	if med := vals[n/2]; med < 36 || med > 44 {
		t.Errorf("median %d, want ~40", med)
	}
	if p99 := vals[n*99/100]; p99 < 800 || p99 > 1400 {
		t.Errorf("p99 %d, want ~1,000", p99)
	}
	if Balance(1, 7) != Balance(1, 7) || Balance(1, 7) == Balance(2, 7) && Balance(1, 8) == Balance(2, 8) {
		t.Error("balances must be a function of (seed, id)")
	}
	t.Logf("%d distinct scores among %d customers, max %d", len(distinct), n, vals[n-1])
}

// TestAlternativeAnswersOurs: the user's alternative over the sorted set
// answers what our ranker answers (points, ranks, tie count, board size, the
// top, the nudges) for random customers, the first on the board and one not
// on it, in several shapes; and its neighbours are those of a brute-force
// sort in the sorted set's order (ties by member, descending, where ours
// orders them by id), with their competition ranks.
func TestAlternativeAnswersOurs(t *testing.T) {
	t.Parallel()
	cfg := tinyConfig()
	ctx := testenv.Context(t)
	b := seededBench(t, ctx, cfg)
	first, err := b.rep.Dashboard(ctx, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := append(b.sample(300), first.Top[0].CustomerID, uint64(cfg.Customers)+1)
	alt := newAlternative(b.rdb, b.zkey)

	// The oracle of the neighbours: everyone sorted as ZREVRANGE lists them.
	type line struct {
		member    string
		points    int64
		rank, pos int64
	}
	order := make([]line, cfg.Customers)
	for i := range order {
		order[i] = line{member: strconv.Itoa(i + 1), points: Balance(cfg.Seed, uint64(i+1))}
	}
	slices.SortFunc(order, func(a, b line) int {
		if a.points != b.points {
			return int(b.points - a.points)
		}
		return strings.Compare(b.member, a.member)
	})
	at := map[string]line{}
	for i := range order {
		order[i].pos, order[i].rank = int64(i), int64(i)+1
		if i > 0 && order[i].points == order[i-1].points {
			order[i].rank = order[i-1].rank
		}
		at[order[i].member] = order[i]
	}
	window := func(lo, hi int64) []ranker.Entry {
		var es []ranker.Entry
		for _, l := range order[max(lo, 0):min(hi, int64(len(order)))] {
			es = append(es, ranker.Entry{Rank: l.rank, Points: l.points})
		}
		return es
	}
	for _, shape := range []struct{ n, k int }{{10, 2}, {1, 0}, {100, 10}} {
		for _, id := range ids {
			ours, err := b.rep.Dashboard(ctx, id, shape.n, shape.k)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := alt.dashboard(ctx, id, shape.n, shape.k)
			if err != nil {
				t.Fatal(err)
			}
			if l, ok := at[strconv.FormatUint(id, 10)]; ok {
				ours.Above, ours.Below = window(l.pos-int64(shape.k), l.pos), window(l.pos+1, l.pos+1+int64(shape.k))
			} else {
				ours.Above, ours.Below = window(int64(len(order)-shape.k), int64(len(order))), nil
			}
			if diffs := diffAlternative(ours, theirs); len(diffs) > 0 {
				t.Fatalf("customer %d, top %d, around %d: %v", id, shape.n, shape.k, diffs)
			}
		}
	}
}

func diffAlternative(ours ranker.Dashboard, theirs altDashboard) []string {
	var diffs []string
	differ := func(format string, a ...any) { diffs = append(diffs, fmt.Sprintf(format, a...)) }
	lines := func(what string, o []ranker.Entry, a []altLine) {
		if len(o) != len(a) {
			differ("%s: %d lines, alternative %d", what, len(o), len(a))
			return
		}
		for i := range o {
			if o[i].Points != a[i].Points || o[i].Rank != a[i].Rank {
				differ("%s[%d]: rank %d with %d points, alternative rank %d with %d", what, i, o[i].Rank, o[i].Points, a[i].Rank, a[i].Points)
			}
		}
	}
	lines("me", []ranker.Entry{ours.Me}, []altLine{theirs.Me})
	tied := ours.Tied
	if ours.Ranked {
		tied--
	}
	if ours.Ranked != theirs.Ranked || tied != theirs.TiedWith || ours.Total != theirs.TotalRanked {
		differ("ranked %v, tied with %d, of %d; alternative %v, %d, %d", ours.Ranked, tied, ours.Total, theirs.Ranked, theirs.TiedWith, theirs.TotalRanked)
	}
	lines("top", ours.Top, theirs.Top)
	lines("above", ours.Above, theirs.Above)
	lines("below", ours.Below, theirs.Below)
	gap := func(what string, o ranker.Gap, a *int64) {
		if o.OK != (a != nil) || a != nil && *a != o.Points {
			differ("%s: %+v, alternative %v", what, o, a)
		}
	}
	gap("pointsToNextRank", ours.NextRank, theirs.PointsToNextRank)
	gap("pointsToTop", ours.ToTop, theirs.PointsToTop)
	if ours.Ranked != (theirs.TopPercent != nil) || theirs.TopPercent != nil && *theirs.TopPercent != ours.TopPercent {
		differ("topPercent %v, alternative %v", ours.TopPercent, theirs.TopPercent)
	}
	return diffs
}

// TestHTTPPhase runs the http phase against our API in process (over the
// bench's replica, with a staff token) and the alternative: four phases
// without errors, the ratios, and the Redis cost of the alternative's
// dashboards.
func TestHTTPPhase(t *testing.T) {
	t.Parallel()
	cfg := tinyConfig()
	cfg.Duration = 300 * time.Millisecond
	ctx := testenv.Context(t)
	b := seededBench(t, ctx, cfg)
	acfg := api.DefaultConfig()
	acfg.Auth.HS256Key = []byte("loadtest-hs256-key-of-at-least-32-bytes")
	acfg.ProxyKey = []byte("loadtest-proxy-key-of-at-least-32-bytes")
	srv, err := api.New(acfg, api.Deps{Ranker: b.rep, Writer: b.writer}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	if b.cfg.Token, err = api.MintToken(acfg.Auth, "bench", api.RoleStaff, time.Hour); err != nil {
		t.Fatal(err)
	}
	b.cfg.HTTPURL = ts.URL
	ps, err := b.http(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Phases: ps, Ratios: map[string]float64{}}
	r.ratios()
	r.httpCosts()
	for _, system := range []string{"ours", "baseline"} {
		for _, name := range []string{"GET /readyz", "GET /loyalty/{id}"} {
			if p := r.phase(name, system); p == nil || p.Items == 0 || p.Errors != 0 {
				t.Errorf("phase %s/%s: %+v", name, system, p)
			}
		}
	}
	for _, k := range []string{"GET /loyalty/{id}: per sec", "http dashboard / readyz: per sec", "http baseline's dashboard / its readyz: per sec"} {
		if r.Ratios[k] <= 0 {
			t.Errorf("ratio %q missing: %v", k, r.Ratios)
		}
	}
	i := slices.IndexFunc(r.HTTP, func(c HTTPCost) bool { return c.System == "baseline" })
	if i < 0 {
		t.Fatalf("no Redis cost of the alternative's dashboards: %+v", r.HTTP)
	}
	if c := r.HTTP[i]; c.RedisUs <= 0 || math.Abs(c.ProcessesPerRedisCore*c.PerSec-c.PerRedisCore) > 1e-6*c.PerRedisCore ||
		math.Abs(c.RedisCores-BriefDashboardsPerSec/c.PerRedisCore) > 1e-9 {
		t.Errorf("alternative's cost: %+v", c)
	}
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "http dashboard, baseline:") {
		t.Errorf("the table does not show the alternative's Redis cost:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}
