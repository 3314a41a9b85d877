package redisindex_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func newIndex(t *testing.T) (*redisindex.Index, *redis.Client) {
	t.Helper()
	return newIndexWith(t, func(*redisindex.Config) {})
}

// newIndexWith is newIndex with tweak applied to the config.
func newIndexWith(t *testing.T, tweak func(*redisindex.Config)) (*redisindex.Index, *redis.Client) {
	t.Helper()
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	t.Cleanup(func() { rdb.Close() })
	cfg := redisindex.DefaultConfig()
	cfg.Prefix = t.Name()
	cfg.DedupeParts = 64
	tweak(&cfg)
	x := redisindex.New(rdb, cfg)
	if _, err := x.Check(testenv.Context(t)); err != nil {
		t.Fatal(err)
	}
	return x, rdb
}

// checkRanks compares the Redis histogram's ranks at scores with the
// oracle's.
func checkRanks(t *testing.T, x *redisindex.Index, o *oracle.Oracle, scores ...int64) {
	t.Helper()
	for _, s := range scores {
		above, total, err := x.Rank(testenv.Context(t), s)
		if err != nil {
			t.Fatal(err)
		}
		if want := o.Above(s); above != want || total != int64(len(o.Bal)) {
			t.Fatalf("Rank(%d) = %d of %d, want %d of %d", s, above, total, want, len(o.Bal))
		}
	}
}

// checkPartial compares the Redis-only place (Index.Partial) of customer id
// with the oracle's dashboard: points, rank, ranked and, when the top list
// says it is full, the top n.
func checkPartial(t *testing.T, x *redisindex.Index, o *oracle.Oracle, id uint64, n int) {
	t.Helper()
	p, err := x.Partial(testenv.Context(t), id, n)
	if err != nil {
		t.Fatal(err)
	}
	want := o.Dashboard(id, n, 0)
	if p.Points != want.Me.Points || p.Above+1 != want.Me.Rank || p.Ranked != want.Total {
		t.Fatalf("Partial(%d): %d points, %d above, %d ranked; want %d points, rank %d of %d", id, p.Points, p.Above, p.Ranked,
			want.Me.Points, want.Me.Rank, want.Total)
	}
	if !p.TopFull {
		t.Fatalf("Partial(%d, %d): top list not full", id, n)
	}
	if len(p.Top) != len(want.Top) {
		t.Fatalf("Partial(%d, %d): %d top entries, want %d", id, n, len(p.Top), len(want.Top))
	}
	for i, e := range want.Top {
		if p.Top[i].CustomerID != e.CustomerID || p.Top[i].Points != e.Points {
			t.Fatalf("Partial top[%d] = %+v, want customer %d with %d", i, p.Top[i], e.CustomerID, e.Points)
		}
	}
}

// patientReplica is the replica's default config with waits a loaded
// machine can't run out of: a dashboard the tests compare with the oracle
// waits for the latest seq rather than answer stale from an older board.
func patientReplica() ranker.ReplicaConfig {
	cfg := ranker.DefaultReplicaConfig()
	cfg.HeadTimeout, cfg.MaxWait = 10*time.Second, 10*time.Second
	// A blocking read returns after 100 ms when nothing arrives, and the
	// replica then looks at the generation: a test that rebuilds sees the
	// replica reload within ~0.1 s instead of the second production waits.
	cfg.Poll = 100 * time.Millisecond
	return cfg
}

func change(id string, customer uint64, pts int64) ledger.Change {
	c := ledger.Change{ID: id, CustomerID: customer, Points: pts, Cause: ledger.CauseOrder, OccurredAt: time.Now().UTC().Truncate(time.Second)}
	if pts < 0 {
		c.Cause = ledger.CauseRefund
	}
	c.Seal()
	return c
}

func startReplica(t *testing.T, x *redisindex.Index) *ranker.Replica {
	t.Helper()
	r := ranker.NewReplica(x, x, patientReplica(), quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if !r.Ready() {
			return errors.New("replica not ready")
		}
		return nil
	})
	return r
}

func TestApplyOnceAndConflicts(t *testing.T) {
	t.Parallel()
	x, _ := newIndex(t)
	ctx := testenv.Context(t)
	apply := func(cs ...ledger.Change) []ledger.Outcome {
		t.Helper()
		out, err := x.Apply(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	o := apply(change("o1", 7, 5), change("o2", 7, 3), change("o1", 7, 5))
	if o[0].Seq != 1 || o[0].Balance != 5 || o[1].Balance != 8 || !o[2].Replayed || o[2].Seq != 1 || o[2].Balance != 5 {
		t.Fatalf("outcomes %+v", o)
	}
	// Same id, other content: a conflict, nothing applied.
	o = apply(change("o2", 7, 300))
	if !errors.Is(o[0].Err, ledger.ErrConflict) {
		t.Fatalf("want conflict, got %+v", o[0])
	}
	// A refund larger than the balance stops at zero.
	o = apply(change("r1", 7, -100))
	if o[0].Delta != -8 || o[0].Balance != 0 {
		t.Fatalf("refund: %+v", o[0])
	}
	if b, _ := x.Balance(ctx, 7); b != 0 {
		t.Fatalf("balance %d, want 0", b)
	}
	if seq, _ := x.Seq(ctx); seq != 3 {
		t.Fatalf("seq %d, want 3 (replays and conflicts take none)", seq)
	}
	es, err := x.Entries(ctx, 0, 10)
	if err != nil || len(es) != 3 || es[2].Delta != -8 || es[2].Cause != ledger.CauseRefund || es[0].ID != "o1" {
		t.Fatalf("log entries %+v, err %v", es, err)
	}
}

// TestOracle checks the Redis index and the replica's dashboards against
// the brute-force oracle on a random workload.
func TestOracle(t *testing.T) {
	t.Parallel()
	x, rdb := newIndex(t)
	ctx := testenv.Context(t)
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	rep := startReplica(t, x)
	o := oracle.New()
	const customers = 10_000
	check := func(id uint64, n, k int) {
		t.Helper()
		got, err := rep.Dashboard(ctx, id, n, k)
		if err != nil {
			t.Fatal(err)
		}
		if diff := oracle.Diff(got, o.Dashboard(id, n, k)); diff != "" {
			t.Fatalf("seed %d: dashboard(%d,%d,%d): %s", seed, id, n, k, diff)
		}
	}
	check(1, 10, 2) // the empty board
	next := 0
	for round := 0; round < 20; round++ {
		batch := make([]ledger.Change, 0, 1000)
		for i := 0; i < 1000; i++ {
			id := uint64(r.IntN(customers)) + 1
			var pts int64
			switch r.IntN(10) {
			case 0:
				pts = -int64(r.IntN(60))
			case 1:
				pts = int64([]int{4095, 4096, 4097, 8191, 8192}[r.IntN(5)]) - o.Bal[id]
			case 2:
				pts = int64(r.IntN(100_000))
			default:
				pts = int64(r.IntN(8))
			}
			next++
			batch = append(batch, change(fmt.Sprintf("ord-%d", next), id, pts))
		}
		out, err := x.Apply(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range batch {
			d, bal := o.Add(c.CustomerID, c.Points)
			if out[i].Delta != d || out[i].Balance != bal || out[i].Err != nil {
				t.Fatalf("seed %d: change %s: got %+v, want delta %d balance %d", seed, c.ID, out[i], d, bal)
			}
		}
		for i := 0; i < 30; i++ {
			check(uint64(r.IntN(customers+50))+1, r.IntN(30), r.IntN(12))
		}
		checkRanks(t, x, o, 0, 1, 4095, 4096, 4097, int64(r.IntN(100_000)), histogram.MaxPoints)
		for i := 0; i < 5; i++ {
			checkPartial(t, x, o, uint64(r.IntN(customers+50))+1, 1+r.IntN(100))
		}
		checkTrees(t, rdb, "{"+t.Name()+"}:g1", o)
	}
	top := o.Dashboard(1, 1, 0).Top[0].CustomerID
	check(top, 10, 10)
	all := o.Dashboard(1, customers+1, 0).Top
	check(all[len(all)-1].CustomerID, 2*customers, 10)
}

// TestConcurrent applies changes from many goroutines (with replays) while
// others read dashboards: every dashboard is consistent, and the end state
// equals the oracle replayed in seq order.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	x, _ := newIndex(t)
	ctx := testenv.Context(t)
	seed := testenv.Seed(t)
	rep := startReplica(t, x)
	const writers, readers, perWriter, customers = 6, 6, 3000, 500
	var mu sync.Mutex
	var applied []ledger.Outcome
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; i < perWriter; i += 50 {
				batch := make([]ledger.Change, 0, 50)
				for j := 0; j < 50; j++ {
					pts := int64(r.IntN(20)) - 5
					batch = append(batch, change(fmt.Sprintf("w%d-%d", w, i+j), uint64(r.IntN(customers))+1, pts))
				}
				batch = append(batch, batch[r.IntN(len(batch))]) // a replay
				out, err := x.Apply(ctx, batch)
				if err != nil {
					errs <- err
					return
				}
				if !out[len(out)-1].Replayed {
					errs <- fmt.Errorf("replayed change not recognised: %+v", out[len(out)-1])
					return
				}
				mu.Lock()
				applied = append(applied, out[:len(out)-1]...)
				mu.Unlock()
			}
		}(w)
	}
	stopReaders := oracle.Readers(readers, seed, func(r *rand.Rand) error {
		d, err := rep.Dashboard(ctx, uint64(r.IntN(customers))+1, 10, 3)
		if err != nil {
			return err
		}
		return oracle.Consistent(d)
	})
	wg.Wait()
	if err := stopReaders(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	close(errs)
	for err := range errs {
		t.Fatalf("seed %d: %v", seed, err)
	}
	sort.Slice(applied, func(i, j int) bool { return applied[i].Seq < applied[j].Seq })
	o := oracle.New()
	for i, a := range applied {
		if a.Seq != uint64(i+1) {
			t.Fatalf("seq %d at position %d: gaps or doubles", a.Seq, i)
		}
		if d, b := o.Add(a.CustomerID, a.Points); d != a.Delta || b != a.Balance {
			t.Fatalf("seq %d: index said delta %d balance %d, oracle %d %d", a.Seq, a.Delta, a.Balance, d, b)
		}
	}
	for id := uint64(1); id <= customers; id++ {
		got, err := rep.Dashboard(ctx, id, 20, 5)
		if err != nil {
			t.Fatal(err)
		}
		if diff := oracle.Diff(got, o.Dashboard(id, 20, 5)); diff != "" {
			t.Fatalf("seed %d: final dashboard(%d): %s", seed, id, diff)
		}
	}
}

// TestRebuild recreates the index from the oracle's balances while changes
// keep arriving, and checks nothing is lost.
func TestRebuild(t *testing.T) {
	t.Parallel()
	x, rdb := newIndex(t)
	ctx := testenv.Context(t)
	o := oracle.New()
	var batch []ledger.Change
	for i := 1; i <= 3000; i++ {
		batch = append(batch, change(fmt.Sprintf("a%d", i), uint64(i%700)+1, int64(i%13)))
	}
	if _, err := x.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, c := range batch {
		o.Add(c.CustomerID, c.Points)
	}
	upTo, _ := x.Seq(ctx)
	snapshot := map[uint64]int64{}
	for id, p := range o.Bal {
		snapshot[id] = p
	}
	snapshot[9001], snapshot[9002] = 100000, 4096
	o.Add(9001, 100000-o.Bal[9001])
	o.Add(9002, 4096-o.Bal[9002])
	rep := startReplica(t, x)
	// Corrupt a balance in the live generation: the rebuild must repair it.
	gen, _ := x.Generation(ctx)
	rdb.HSet(ctx, fmt.Sprintf("{%s}:g%d:b:0", t.Name(), gen), "5", 999999)
	var more []ledger.Change
	gen2, err := x.Rebuild(ctx, upTo, func(put func(uint64, int64) error) error {
		// Changes that land while the rebuild loads.
		for i := 1; i <= 500; i++ {
			c := change(fmt.Sprintf("b%d", i), uint64(i%50)+1, 3)
			more = append(more, c)
			if _, err := x.Apply(ctx, []ledger.Change{c}); err != nil {
				return err
			}
		}
		for id, p := range snapshot {
			if err := put(id, p); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gen2 != gen+1 {
		t.Fatalf("generation %d, want %d", gen2, gen+1)
	}
	for _, c := range more {
		o.Add(c.CustomerID, c.Points)
	}
	for _, id := range append([]uint64{9001, 9002}, func() []uint64 {
		var ids []uint64
		for id := uint64(1); id <= 701; id++ {
			ids = append(ids, id)
		}
		return ids
	}()...) {
		b, err := x.Balance(ctx, id)
		if err != nil || b != o.Bal[id] {
			t.Fatalf("customer %d: balance %d (%v), want %d", id, b, err, o.Bal[id])
		}
	}
	// The bulk-loaded histogram answers ranks exactly.
	checkRanks(t, x, o, 0, 1, 2, 5, 12, 30, 4095, 4096, 100000)
	for _, id := range []uint64{1, 2, 3, 7, 9999} {
		checkPartial(t, x, o, id, 10)
	}
	// The replica notices the new generation and reloads.
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		d, err := rep.Dashboard(ctx, 5, 10, 2)
		if diff := oracle.Diff(d, o.Dashboard(5, 10, 2)); err != nil || diff != "" {
			return fmt.Errorf("replica did not converge after the rebuild: %v %s", err, diff)
		}
		return nil
	})
	if n, _ := rdb.Keys(ctx, fmt.Sprintf("{%s}:g%d:*", t.Name(), gen)).Result(); len(n) != 0 {
		t.Fatalf("old generation keys left: %v", n)
	}
}

func TestLease(t *testing.T) {
	t.Parallel()
	x, _ := newIndex(t)
	ctx := testenv.Context(t)
	held := func(holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := x.Lease(ctx, "shipper", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !held("a", time.Second) || held("b", time.Second) || !held("a", time.Second) {
		t.Fatal("a should hold the lease and b not")
	}
	// Redis's clock ends the lease: b polls until it takes it, and then a
	// can't.
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !held("b", time.Second) {
			return errors.New("after expiry b should take the lease")
		}
		return nil
	})
	if held("a", time.Second) {
		t.Fatal("a took the lease b holds")
	}
}

// TestReplicaReadiness: with Redis gone the replica answers from memory,
// marked stale, until its board is older than MaxStaleness; then it is not
// ready, and it recovers when Redis is back.
func TestReplicaReadiness(t *testing.T) {
	t.Parallel()
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	x := redisindex.New(rdb, redisindex.DefaultConfig())
	if _, err := x.Apply(testenv.Context(t), []ledger.Change{change("r1", 1, 5)}); err != nil {
		t.Fatal(err)
	}
	r := ranker.NewReplica(x, x, ranker.ReplicaConfig{MaxWait: time.Second, Poll: 100 * time.Millisecond,
		HeadTimeout: 50 * time.Millisecond, MaxStaleness: time.Second}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wait := func(want bool) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
			if r.Ready() != want {
				return fmt.Errorf("Ready() stayed %v", !want)
			}
			return nil
		})
	}
	wait(true)
	srv.Stop()
	d, err := r.Dashboard(ctx, 1, 10, 2)
	if err != nil || !d.Stale || d.Me.Points != 5 {
		t.Fatalf("dashboard with Redis gone: %+v, %v; want 5 points, stale", d, err)
	}
	wait(false)
	srv.Start(t)
	wait(true)
	if d, err := r.Dashboard(ctx, 1, 10, 2); err != nil || d.Stale {
		t.Fatalf("dashboard with Redis back: %+v, %v; want fresh", d, err)
	}
}
