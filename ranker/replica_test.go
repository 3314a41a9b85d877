package ranker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

// clock is a test clock: the real time plus an offset the test moves
// forward, so "five minutes later" takes no time.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// haRig is a Redis primary with one replica, the index on each, and a
// ranker replica following the Redis replica and asking the primary for the
// latest seq.
type haRig struct {
	primary, replica *testenv.Server
	write            *redisindex.Index
	rep              *ranker.Replica
	clock            *clock
	next             int
}

// openHA returns the index with prefix on the Redis server at addr, through
// a client that fails fast (no retries, timeout for each read and write)
// while that server is stopped or paused.
func openHA(t *testing.T, addr, prefix string, timeout time.Duration) *redisindex.Index {
	return redisindex.New(haClient(t, addr, timeout), haIndexConfig(prefix))
}

// haClient is openHA's client, for a test that also sends commands itself.
func haClient(t *testing.T, addr string, timeout time.Duration) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: timeout, WriteTimeout: timeout})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func haIndexConfig(prefix string) redisindex.Config {
	cfg := redisindex.DefaultConfig()
	cfg.Prefix, cfg.DedupeParts = prefix, 64
	return cfg
}

// waitReady waits until rep is ready, polling every `every`, or fails the
// test with what after within.
func waitReady(t *testing.T, rep *ranker.Replica, within, every time.Duration, what string) {
	t.Helper()
	testenv.Eventually(t, within, every, func() error {
		if !rep.Ready() {
			return errors.New(what)
		}
		return nil
	})
}

// runReplica runs rep until the test ends.
func runReplica(t *testing.T, rep *ranker.Replica) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rep.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func newHARig(t *testing.T) *haRig {
	t.Helper()
	p := testenv.Redis(t)
	r := testenv.RedisReplica(t, p)
	g := &haRig{primary: p, replica: r, write: openHA(t, p.Addr, "ha", time.Second), clock: &clock{}}
	cfg := ranker.DefaultReplicaConfig()
	cfg.Poll = 100 * time.Millisecond
	cfg.Now = g.clock.now
	g.rep = ranker.NewReplica(openHA(t, r.Addr, "ha", time.Second), g.write, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runReplica(t, g.rep)
	waitReady(t, g.rep, 10*time.Second, 5*time.Millisecond, "replica not ready")
	return g
}

// add applies one change of pts points to customer id on the primary.
func (g *haRig) add(t *testing.T, id uint64, pts int64) ledger.Outcome {
	t.Helper()
	g.next++
	c := ledger.Change{ID: fmt.Sprintf("ha-%d", g.next), CustomerID: id, Points: pts, Cause: ledger.CauseOrder,
		OccurredAt: time.Now().UTC().Truncate(time.Second)}
	c.Seal()
	out, err := g.write.Apply(t.Context(), []ledger.Change{c})
	if err != nil || out[0].Err != nil {
		t.Fatalf("apply %s: %v %v", c.ID, err, out)
	}
	return out[0]
}

func (g *haRig) dashboard(t *testing.T, id uint64) ranker.Dashboard {
	t.Helper()
	d, err := g.rep.Dashboard(t.Context(), id, 3, 1)
	if err != nil {
		t.Fatalf("dashboard of %d: %v", id, err)
	}
	return d
}

// TestReplicaPrimaryStopped: with the primary stopped (SIGSTOP), dashboards
// are answered from the board, marked stale, with the seq of the last change
// applied, and the replica stays ready; once the primary continues, the next
// dashboard after a write is fresh and shows it (read-your-own-writes
// resumes by itself).
func TestReplicaPrimaryStopped(t *testing.T) {
	t.Parallel()
	g := newHARig(t)
	g.add(t, 1, 50)
	last := g.add(t, 2, 70)
	// On a loaded machine the primary may miss the 50 ms head timeout: a
	// dashboard is then stale; the first fresh one must show the write.
	d := g.dashboard(t, 2)
	for end := time.Now().Add(10 * time.Second); d.Stale && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		d = g.dashboard(t, 2)
	}
	if d.Stale || d.Me.Points != 70 || d.Seq != last.Seq || d.At.IsZero() {
		t.Fatalf("fresh dashboard: stale %v points %d seq %d at %v; want 70 points at seq %d", d.Stale, d.Me.Points, d.Seq, d.At, last.Seq)
	}
	g.primary.Pause(t)
	for i := 0; i < 20; i++ {
		d := g.dashboard(t, 2)
		if !d.Stale || d.Me.Points != 70 || d.Me.Rank != 1 || d.Seq != last.Seq {
			t.Fatalf("dashboard %d with the primary stopped: stale %v points %d rank %d seq %d; want stale, 70 points, rank 1, seq %d",
				i, d.Stale, d.Me.Points, d.Me.Rank, d.Seq, last.Seq)
		}
	}
	if !g.rep.Ready() {
		t.Fatal("not ready with the primary stopped and the board just read from the replica")
	}
	g.primary.Resume(t)
	now := g.add(t, 1, 30)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		// The GET that hung on the stopped primary may still be answering
		// dashboards as stale for a moment; the first fresh one must show the
		// write.
		d := g.dashboard(t, 1)
		if !d.Stale {
			if d.Me.Points != 80 || d.Seq < now.Seq {
				t.Fatalf("fresh dashboard after the primary came back: %d points at seq %d; want 80 at seq >= %d", d.Me.Points, d.Seq, now.Seq)
			}
			return nil
		}
		return fmt.Errorf("dashboards still stale after the primary came back (the last: %d points at seq %d)", d.Me.Points, d.Seq)
	})
}

// TestReplicaRedisGone: with every Redis server killed, dashboards are still
// answered stale from the board; /readyz's Ready stays true until the board
// has gone MaxStaleness without reading the change log.
func TestReplicaRedisGone(t *testing.T) {
	t.Parallel()
	g := newHARig(t)
	last := g.add(t, 9, 12)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if pts := g.dashboard(t, 9).Me.Points; pts != 12 {
			return fmt.Errorf("the write never reached the board: customer 9 has %d points, want 12", pts)
		}
		return nil
	})
	g.primary.Stop()
	g.replica.Stop()
	d := g.dashboard(t, 9)
	if !d.Stale || d.Me.Points != 12 || d.Seq != last.Seq {
		t.Fatalf("dashboard with Redis gone: stale %v points %d seq %d; want stale, 12 points, seq %d", d.Stale, d.Me.Points, d.Seq, last.Seq)
	}
	if !g.rep.Ready() {
		t.Fatal("not ready right after Redis went away")
	}
	g.clock.advance(ranker.DefaultReplicaConfig().MaxStaleness + time.Second)
	if g.rep.Ready() {
		t.Fatal("still ready with a board older than MaxStaleness")
	}
	if d := g.dashboard(t, 9); !d.Stale || d.Me.Points != 12 {
		t.Fatalf("dashboard past MaxStaleness: stale %v points %d; want stale, 12", d.Stale, d.Me.Points)
	}
}

// TestReplicaPartialWhileLoading: while the board cannot load (the Redis
// replica it loads from is stopped), dashboards come from the Redis
// histogram on the primary, marked partial, with the exact points, rank and
// ties; once the replica continues, the board loads and answers in full.
func TestReplicaPartialWhileLoading(t *testing.T) {
	t.Parallel()
	p := testenv.Redis(t)
	r := testenv.RedisReplica(t, p)
	open := func(addr string) *redisindex.Index { return openHA(t, addr, "ha", 500*time.Millisecond) }
	g := &haRig{primary: p, replica: r, write: open(p.Addr)}
	// 1: 50, 2: 70, 3: 50, 4: 10: customer 1 is second with one tie.
	for id, pts := range []int64{50, 70, 50, 10} {
		g.add(t, uint64(id+1), pts)
	}
	r.Pause(t)
	cfg := ranker.DefaultReplicaConfig()
	cfg.Partial = g.write
	rep := ranker.NewReplica(open(r.Addr), g.write, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runReplica(t, rep)
	d, err := rep.Dashboard(t.Context(), 1, 3, 1)
	if err != nil {
		t.Fatalf("dashboard while the board can't load: %v", err)
	}
	top := []ranker.Entry{{CustomerID: 2, Rank: 1, Points: 70}, {CustomerID: 1, Rank: 2, Points: 50}, {CustomerID: 3, Rank: 2, Points: 50}}
	if !d.Partial || d.Me.Points != 50 || d.Me.Rank != 2 || d.Tied != 2 || d.Total != 4 || !d.Ranked || !slices.Equal(d.Top, top) || len(d.Above) != 0 {
		t.Fatalf("partial dashboard %+v; want partial, 50 points, rank 2, 2 tied, 4 ranked, top %v, no neighbours", d, top)
	}
	if d, err := rep.Dashboard(t.Context(), 99, 3, 1); err != nil || !d.Partial || d.Me.Points != 0 || d.Me.Rank != 5 || d.Ranked {
		t.Fatalf("partial dashboard of a customer without points: %+v %v; want rank 5, 0 points", d, err)
	}
	if rep.Ready() {
		t.Fatal("ready without a board")
	}
	r.Resume(t)
	waitReady(t, rep, 15*time.Second, 10*time.Millisecond, "board not loaded after the replica continued")
	d, err = rep.Dashboard(t.Context(), 1, 3, 1)
	if err != nil || d.Partial || d.Me.Rank != 2 || len(d.Top) != 3 || len(d.Above) != 1 || len(d.Below) != 1 {
		t.Fatalf("full dashboard %+v %v", d, err)
	}
}

// TestReplicaSourceWentBack: the Redis server the board follows is
// re-pointed at a primary that lacks the last changes the board applied
// (as after a failover to a replica that was behind), and that primary
// takes new changes under the same seqs. The replica notices and reloads:
// the board ends equal to the new primary, without the lost changes.
func TestReplicaSourceWentBack(t *testing.T) {
	t.Parallel()
	p := testenv.Redis(t)
	r := testenv.RedisReplica(t, p)
	q := testenv.RedisReplica(t, p)
	clients := map[string]*redis.Client{}
	open := func(addr string) *redisindex.Index {
		clients[addr] = haClient(t, addr, time.Second)
		return redisindex.New(clients[addr], haIndexConfig("ha"))
	}
	onP, onR, onQ := &haRig{write: open(p.Addr)}, open(r.Addr), &haRig{write: open(q.Addr)}
	cfg := ranker.DefaultReplicaConfig()
	cfg.Poll = 100 * time.Millisecond
	rep := ranker.NewReplica(onR, onR, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runReplica(t, rep)
	do := func(addr string, args ...any) {
		t.Helper()
		if err := clients[addr].Do(t.Context(), args...).Err(); err != nil {
			t.Fatalf("%s %v: %v", addr, args, err)
		}
	}
	waitBoard := func(want map[uint64]int64) {
		t.Helper()
		testenv.Eventually(t, 15*time.Second, 20*time.Millisecond, func() error {
			b := rep.Board()
			if b == nil {
				return fmt.Errorf("board never reached %v: no board", want)
			}
			got := map[uint64]int64{}
			for id := range want {
				got[id] = b.Balance(id)
			}
			if !maps.Equal(got, want) {
				return fmt.Errorf("board never reached %v: it has %v at seq %d", want, got, b.Seq())
			}
			return nil
		})
	}
	onP.next = 0
	for id := uint64(1); id <= 3; id++ {
		onP.add(t, id, 10)
	}
	do(p.Addr, "WAIT", 2, 5000)
	do(q.Addr, "REPLICAOF", "NO", "ONE") // q keeps changes 1-3 only
	onP.add(t, 4, 40)
	onP.add(t, 5, 50)
	waitBoard(map[uint64]int64{1: 10, 4: 40, 5: 50})
	// r now follows q, which never had changes 4 and 5; q takes three new
	// changes, seqs 4, 5 and 6.
	host, port, _ := strings.Cut(q.Addr, ":")
	do(r.Addr, "REPLICAOF", host, port)
	testenv.WaitReplicaSynced(t, r, 15*time.Second)
	onQ.next = 100
	for id := uint64(6); id <= 8; id++ {
		onQ.add(t, id, 60)
	}
	waitBoard(map[uint64]int64{1: 10, 4: 0, 5: 0, 6: 60, 7: 60, 8: 60})
}
