package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
)

// dashboards runs the read phase: the baseline's dashboard, then ours.
func (b *bench) dashboards(ctx context.Context) ([]Phase, error) {
	c, d := b.cfg.Concurrency, b.cfg.Duration
	base := b.runPhase(ctx, "dashboard", "baseline", c, d, b.baselineDashboard)
	ours := b.runPhase(ctx, "dashboard", "ours", c, d, b.oursDashboard)
	return []Phase{base, ours, b.halfPeak(ctx, ours.PerSec)}, nil
}

// baselineDashboard is what a sorted-set leaderboard does for one dashboard:
// ZSCORE, ZREVRANK and the top N in one pipeline, then the competition rank
// (ZCOUNT of higher scores, + 1) and the K above and below in a second.
func (b *bench) baselineDashboard(ctx context.Context, rng *rand.Rand) (int, error) {
	m := strconv.FormatUint(b.randomCustomer(rng), 10)
	p := b.rdb.Pipeline()
	score := p.ZScore(ctx, b.zkey, m)
	pos := p.ZRevRank(ctx, b.zkey, m)
	p.ZRevRangeWithScores(ctx, b.zkey, 0, int64(b.cfg.Top)-1)
	if _, err := p.Exec(ctx); err != nil {
		return 0, err
	}
	k := int64(b.cfg.Around)
	p = b.rdb.Pipeline()
	p.ZCount(ctx, b.zkey, "("+strconv.FormatFloat(score.Val(), 'f', -1, 64), "+inf")
	p.ZRevRangeWithScores(ctx, b.zkey, max(0, pos.Val()-k), pos.Val()+k)
	_, err := p.Exec(ctx)
	return 1, err
}

func (b *bench) oursDashboard(ctx context.Context, rng *rand.Rand) (int, error) {
	_, err := b.rep.Dashboard(ctx, b.randomCustomer(rng), b.cfg.Top, b.cfg.Around)
	return 1, err
}

// change returns a new purchase of 1-10 points for a random customer, with
// an id never used before.
func (b *bench) change(rng *rand.Rand) ledger.Change {
	pts := 1 + rng.Int64N(10)
	amount := decimal.NewFromInt(pts * 10)
	c := ledger.Change{
		ID: "bench-" + b.nonce + "-" + strconv.FormatUint(b.changes.Add(1), 36), CustomerID: b.randomCustomer(rng),
		Points: pts, Cause: ledger.CauseOrder, Channel: "web", Amount: amount, Currency: "GBP", AmountGBP: amount,
		Actor: "bench", OccurredAt: time.Now().UTC(),
	}
	c.Seal()
	return c
}

// oursWrite returns an op applying n new changes in one Writer.Apply call.
func (b *bench) oursWrite(n int) func(context.Context, *rand.Rand) (int, error) {
	return b.oursWriteWith(b.writer, n)
}

// oursWriteWith is oursWrite through writer w.
func (b *bench) oursWriteWith(w *ingest.Writer, n int) func(context.Context, *rand.Rand) (int, error) {
	return func(ctx context.Context, rng *rand.Rand) (int, error) {
		cs := make([]ledger.Change, n)
		for i := range cs {
			cs[i] = b.change(rng)
		}
		out, err := w.Apply(ctx, cs)
		if err != nil {
			return 0, err
		}
		for _, o := range out {
			if o.Err != nil || o.Replayed {
				return 0, fmt.Errorf("change %s not applied: replayed %v, %v", o.ID, o.Replayed, o.Err)
			}
		}
		return n, nil
	}
}

// baselineWrite returns an op sending n ZINCRBY in one pipeline (one plain
// command when n is 1).
func (b *bench) baselineWrite(n int) func(context.Context, *rand.Rand) (int, error) {
	return func(ctx context.Context, rng *rand.Rand) (int, error) {
		if n == 1 {
			return 1, b.rdb.ZIncrBy(ctx, b.zkey, float64(1+rng.Int64N(10)), strconv.FormatUint(b.randomCustomer(rng), 10)).Err()
		}
		p := b.rdb.Pipeline()
		for range n {
			p.ZIncrBy(ctx, b.zkey, float64(1+rng.Int64N(10)), strconv.FormatUint(b.randomCustomer(rng), 10))
		}
		_, err := p.Exec(ctx)
		return n, err
	}
}

// writes runs the write phases: ours one change a call and 50 a call, then
// the baseline's ZINCRBY alone and 50 to a pipeline. It measures what our
// writes leave in Redis (the change log and the remembered change ids), then
// trims the log as shipping to the ledger would.
func (b *bench) writes(ctx context.Context) ([]Phase, error) {
	c, d := b.cfg.Concurrency, b.cfg.Duration
	m0, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	out := []Phase{
		b.runPhase(ctx, "write x1", "ours", c, d, b.oursWrite(1)),
		b.runPhase(ctx, "write x50", "ours", c, d, b.oursWrite(50)),
	}
	items := out[0].Items + out[1].Items
	// With a replica, the same writes acknowledged only once one replica
	// confirmed them (redis.min_replicas_ack 1): WAIT's price.
	if n, _ := infoField(ctx, b.rdb, "replication", "connected_slaves"); n != "" && n != "0" {
		out = append(out, b.runPhase(ctx, "write x1 WAIT 1", "ours", c, d, b.oursWriteWith(b.waitWriter, 1)))
		items += out[len(out)-1].Items
	} else {
		b.log.Info("bench: no replica connected: the write phase with WAIT (redis.min_replicas_ack 1) is skipped")
	}
	if err := b.measureWrites(ctx, m0, items); err != nil {
		return nil, err
	}
	return append(out,
		b.runPhase(ctx, "write x1", "baseline", c, d, b.baselineWrite(1)),
		b.runPhase(ctx, "write x50", "baseline", c, d, b.baselineWrite(50)),
	), nil
}

func (b *bench) measureWrites(ctx context.Context, m0 int64, changes uint64) error {
	mem := &b.rep0.Memory
	m1, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	n0, err := b.idx.LogLen(ctx)
	if err != nil {
		return err
	}
	head, err := b.idx.Seq(ctx)
	if err != nil {
		return err
	}
	if err := b.idx.MarkShipped(ctx, head); err != nil {
		return err
	}
	m2, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	n1, err := b.idx.LogLen(ctx)
	if err != nil {
		return err
	}
	mem.WritesRedisBytes, mem.WritesChanges = m1-m0, changes
	if changes > 0 {
		mem.WriteBytesPerChange = float64(m1-m0) / float64(changes)
	}
	if n0 > n1 {
		mem.LogBytesPerEntry = float64(m1-m2) / float64(n0-n1)
		mem.DedupeBytesPerChange = mem.WriteBytesPerChange - mem.LogBytesPerEntry
	}
	return nil
}

// mixed runs dashboards at full concurrency while paced writers apply
// WriteRate changes a second, MixedBatch a call: ours, then the baseline.
func (b *bench) mixed(ctx context.Context) ([]Phase, error) {
	ours := b.runMixed(ctx, "ours", b.oursDashboard, b.oursWrite(b.cfg.MixedBatch))
	base := b.runMixed(ctx, "baseline", b.baselineDashboard, b.baselineWrite(b.cfg.MixedBatch))
	head, err := b.idx.Seq(ctx)
	if err == nil {
		err = b.idx.MarkShipped(ctx, head)
	}
	return append(base, ours...), err
}

func (b *bench) runMixed(ctx context.Context, system string, dash, write func(context.Context, *rand.Rand) (int, error)) []Phase {
	cpu0 := redisCPU(ctx, b.rdb)
	writers := b.startPaced(ctx, float64(b.cfg.WriteRate)/float64(b.cfg.MixedBatch), mixedWriters, 1000, write)
	d := b.runPhase(ctx, "mixed: dashboard", system, b.cfg.Concurrency, b.cfg.Duration, dash)
	w := writers.finish("mixed: write", system)
	if cpu := redisCPU(ctx, b.rdb) - cpu0; cpu > 0 {
		w.RedisCPU = cpu / w.Seconds // dashboards and writes together
	}
	w.Note = fmt.Sprintf("target %d/s, %d a call", b.cfg.WriteRate, b.cfg.MixedBatch) + w.Note
	b.log.Info("bench: phase done", "phase", w.Name, "system", system, "per_sec", int(w.PerSec), "p99_us", w.P99us, "errors", w.Errors)
	return []Phase{d, w}
}

// paced is a set of workers calling op at a fixed total rate.
type paced struct {
	stop     atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	lat      Latency
	items    atomic.Uint64
	errs     atomic.Uint64
	firstErr atomic.Value
	start    time.Time
}

// startPaced starts workers that together call op perSec times a second
// (a worker that falls more than a second behind drops its backlog).
func (b *bench) startPaced(ctx context.Context, perSec float64, workers int, stream uint64, op func(context.Context, *rand.Rand) (int, error)) *paced {
	p := &paced{start: time.Now()}
	interval := time.Duration(float64(time.Second) * float64(workers) / perSec)
	for w := range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(b.cfg.Seed), stream+uint64(w)))
			l := &Latency{}
			next := p.start.Add(interval * time.Duration(w) / time.Duration(workers))
			for !p.stop.Load() && ctx.Err() == nil {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				} else if wait < -time.Second {
					next = time.Now()
				}
				next = next.Add(interval)
				t := time.Now()
				n, err := op(ctx, rng)
				if err != nil {
					p.errs.Add(1)
					p.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				l.Record(time.Since(t))
				p.items.Add(uint64(n))
			}
			p.mu.Lock()
			p.lat.Merge(l)
			p.mu.Unlock()
		}()
	}
	return p
}

// finish stops the workers and returns their phase.
func (p *paced) finish(name, system string) Phase {
	p.stop.Store(true)
	p.wg.Wait()
	ph := phaseOf(name, system, &p.lat, p.items.Load(), p.errs.Load(), time.Since(p.start))
	if e, ok := p.firstErr.Load().(string); ok {
		ph.Note += "; first error: " + e
	}
	return ph
}

// halfPeak runs our dashboards at half the rate the dashboards phase
// reached, for the latency at a load the service is sized for.
func (b *bench) halfPeak(ctx context.Context, peak float64) Phase {
	cpu0 := redisCPU(ctx, b.rdb)
	p := b.startPaced(ctx, peak/2, b.cfg.Concurrency, 2000, b.oursDashboard)
	select {
	case <-time.After(b.cfg.Duration):
	case <-ctx.Done():
	}
	ph := p.finish("dashboard at half peak", "ours")
	if cpu := redisCPU(ctx, b.rdb) - cpu0; cpu > 0 && ph.Items > 0 {
		ph.RedisUs, ph.RedisCPU = cpu*1e6/float64(ph.Items), cpu/ph.Seconds
	}
	ph.Note = fmt.Sprintf("target %.0f/s", peak/2) + ph.Note
	b.log.Info("bench: phase done", "phase", ph.Name, "system", "ours", "per_sec", int(ph.PerSec), "p99_us", ph.P99us, "errors", ph.Errors)
	return ph
}
