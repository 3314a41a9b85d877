package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/points"
	"github.com/xyz/loyalty/ranker"
	"github.com/xyz/loyalty/season"
)

// ErrMismatch means the correctness check found a dashboard where the index
// and the baseline disagree.
var ErrMismatch = errors.New("ranking index and baseline disagree")

// Config configures a run.
type Config struct {
	Customers   int           // customer ids 1..Customers
	Duration    time.Duration // per phase
	Concurrency int           // goroutines per phase
	Top, Around int           // dashboard shape: top N, K above and below
	Seed        int64         // balances and the random customers
	SkipSeed    bool          // reuse an already seeded prefix
	Prefix      string        // index board "{Prefix}", baseline key "Prefix:zset"
	WriteRate   int           // target writes/s in the mixed phase
	MixedBatch  int           // changes per write call in the mixed phase
	CheckSample int           // customers in the correctness check
	HTTPURL     string        // base URL of a running `loyalty serve` (optional): the http phase
	// HTTPBefore is the base URL of a second server on the same board (the
	// build before a change), measured in the same turns as HTTPURL.
	HTTPBefore string
	// Phases to run, of check, dashboards, writes, mixed, http. The check
	// compares with the baseline, so it is only valid before any writes (a
	// --skip-seed run after an earlier run's writes must leave it out).
	Phases []string
	Token  string `json:"-"` // bearer token for HTTPURL's dashboard route (never reported)
	// SeasonShare is the share of customers on the season board whose
	// memory is measured after seeding (0: not measured).
	SeasonShare float64
}

// DefaultConfig returns the defaults of `loyalty bench`.
func DefaultConfig() Config {
	return Config{Customers: 1_000_000, Duration: 20 * time.Second, Concurrency: 64, Top: 10, Around: 2,
		Seed: 1, Prefix: "bench", WriteRate: 20_000, MixedBatch: 1, CheckSample: 1000, SeasonShare: 0.3,
		Phases: []string{"check", "dashboards", "writes", "mixed", "http"}}
}

func (c Config) validate() error {
	switch {
	case c.Customers < 1:
		return errors.New("customers must be at least 1")
	case c.Duration <= 0:
		return errors.New("duration must be positive")
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.Top < 1 || c.Around < 0:
		return errors.New("top must be at least 1 and around not negative")
	case c.Prefix == "":
		return errors.New("prefix must not be empty")
	case c.WriteRate < 1 || c.MixedBatch < 1:
		return errors.New("write rate and mixed batch must be at least 1")
	}
	for _, p := range c.Phases {
		if !slices.Contains([]string{"check", "dashboards", "writes", "mixed", "http"}, p) {
			return fmt.Errorf("unknown phase %q: want check, dashboards, writes, mixed or http", p)
		}
	}
	return nil
}

// RedisOptions returns client options sized for the run: the bench's
// goroutines, the mixed phase's writers and the replica, on both the plain
// and the pipeline pool (from go-redis v9.23 on, pipelines have a separate
// pool of 10 connections by default; v9.22, which go.mod holds, shares the
// plain pool).
func RedisOptions(addr, password string, concurrency int) *redis.Options {
	n := concurrency + mixedWriters + 8
	return &redis.Options{Addr: addr, Password: password, PoolSize: n, PipelinePoolSize: n, ReadTimeout: 10 * time.Second}
}

// mixedWriters is the number of paced writer goroutines in the mixed phase.
const mixedWriters = 32

// Phase is one measured phase.
type Phase struct {
	Name     string  `json:"name"`
	System   string  `json:"system"` // ours, baseline, or before (Config.HTTPBefore)
	Ops      uint64  `json:"ops"`    // calls completed
	Items    uint64  `json:"items"`  // dashboards or changes (a batch call is several)
	Errors   uint64  `json:"errors"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"items_per_sec"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	P999us   float64 `json:"p999_us"`
	RedisUs  float64 `json:"redis_cpu_us_per_item"` // Redis main-thread CPU per item
	RedisCPU float64 `json:"redis_cpu_busy"`        // Redis main-thread CPU / wall time
	Note     string  `json:"note,omitempty"`
	lat      *Latency
}

// Memory is what the structures cost.
type Memory struct {
	Measured                bool    `json:"measured"` // false with SkipSeed
	OursRedisBytes          int64   `json:"ours_redis_bytes"`
	BaselineRedisBytes      int64   `json:"baseline_redis_bytes"`
	OursRedisPerCustomer    float64 `json:"ours_redis_bytes_per_customer"`
	BaselinePerCustomer     float64 `json:"baseline_redis_bytes_per_customer"`
	RankerRSSBytes          int64   `json:"ranker_rss_bytes"`
	RankerHeapBytes         int64   `json:"ranker_heap_bytes"`
	RankerRSSPerCustomer    float64 `json:"ranker_rss_bytes_per_customer"`
	WritesRedisBytes        int64   `json:"writes_redis_bytes"`      // growth of used_memory over our write phases
	WritesChanges           uint64  `json:"writes_changes"`          // changes applied by ours in them
	WriteBytesPerChange     float64 `json:"write_bytes_per_change"`  // change log + remembered change ids
	LogBytesPerEntry        float64 `json:"log_bytes_per_entry"`     // freed per change-log entry trimmed
	DedupeBytesPerChange    float64 `json:"dedupe_bytes_per_change"` // after the log is trimmed: remembered ids only
	SeedOursSeconds         float64 `json:"seed_ours_seconds"`       // redisindex.Index.Rebuild
	SeedBaselineSeconds     float64 `json:"seed_baseline_seconds"`   // pipelined ZADD
	ReplicaLoadSeconds      float64 `json:"replica_load_seconds"`    // snapshot into the ranker
	SeedOursCustomersPerSec float64 `json:"seed_ours_customers_per_sec"`
	// One season board (Config.SeasonShare of the customers on it).
	SeasonCustomers   int64   `json:"season_customers"`
	SeasonRedisBytes  int64   `json:"season_redis_bytes"`
	SeasonPerCustomer float64 `json:"season_redis_bytes_per_customer"`
}

// Check is the outcome of the correctness check.
type Check struct {
	Sampled    int      `json:"sampled"`
	Mismatches int      `json:"mismatches"`
	Examples   []string `json:"examples,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Config    Config             `json:"config"`
	Redis     string             `json:"redis_version"`
	GoMaxProc int                `json:"gomaxprocs"`
	Phases    []Phase            `json:"phases"`
	Memory    Memory             `json:"memory"`
	Ratios    map[string]float64 `json:"ratios"`
	Check     Check              `json:"check"`
	// HTTP is what an HTTP dashboard costs Redis, ours and the baseline's
	// (the http phase).
	HTTP []HTTPCost `json:"http_costs,omitempty"`
}

// bench is one run's state.
type bench struct {
	cfg     Config
	rdb     *redis.Client
	idx     *redisindex.Index
	writer  *ingest.Writer
	seasons season.Calendar
	// waitWriter acknowledges a change once a replica confirmed it.
	waitWriter *ingest.Writer
	rep        *ranker.Replica
	log        *slog.Logger
	zkey       string
	nonce      string        // makes this run's change ids unique
	changes    atomic.Uint64 // change ids used so far
	rep0       Report
}

// Run seeds (unless cfg.SkipSeed), runs every phase and the correctness
// check against the Redis behind rdb, and returns the report. The error
// wraps ErrMismatch when the check failed; the report is complete then.
func Run(ctx context.Context, rdb *redis.Client, cfg Config, log *slog.Logger) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b, err := newBench(rdb, cfg, log)
	if err != nil {
		return nil, err
	}
	r := &b.rep0
	r.Config, r.GoMaxProc, r.Ratios = cfg, runtime.GOMAXPROCS(0), map[string]float64{}
	r.Redis = redisVersion(ctx, rdb)
	if _, err := b.idx.Check(ctx); err != nil {
		return nil, err
	}
	if !cfg.SkipSeed {
		if err := b.seed(ctx); err != nil {
			return nil, err
		}
	} else if err := b.checkSeeded(ctx); err != nil {
		return nil, err
	}
	// The in-process replica answers our dashboards (check, dashboards, mixed).
	if slices.ContainsFunc(cfg.Phases, func(p string) bool { return p != "writes" && p != "http" }) {
		stop, err := b.startReplica(ctx)
		if err != nil {
			return nil, err
		}
		defer stop()
	}

	if slices.Contains(cfg.Phases, "check") {
		b.log.Info("bench: correctness check", "sample", cfg.CheckSample)
		if r.Check, err = b.check(ctx, b.sample(cfg.CheckSample)); err != nil {
			return nil, err
		}
	}
	phases := map[string]func(context.Context) ([]Phase, error){"dashboards": b.dashboards, "writes": b.writes, "mixed": b.mixed, "http": b.http}
	for _, name := range []string{"dashboards", "writes", "mixed", "http"} {
		if !slices.Contains(cfg.Phases, name) {
			continue
		}
		ps, err := phases[name](ctx)
		if err != nil {
			return nil, err
		}
		r.Phases = append(r.Phases, ps...)
	}
	r.ratios()
	r.httpCosts()
	if r.Check.Mismatches > 0 {
		return r, fmt.Errorf("%w: %d of %d sampled dashboards, e.g. %s", ErrMismatch, r.Check.Mismatches, r.Check.Sampled, r.Check.Examples[0])
	}
	return r, nil
}

func newBench(rdb *redis.Client, cfg Config, log *slog.Logger) (*bench, error) {
	hc := redisindex.DefaultConfig()
	hc.Prefix = cfg.Prefix
	cal, err := season.New(season.Month)
	if err != nil {
		return nil, err
	}
	hc.Seasons, hc.SeasonsKept = cal, 1
	idx := redisindex.New(rdb, hc)
	rule, err := points.New(points.DefaultConfig())
	if err != nil {
		return nil, err
	}
	hw := hc
	hw.MinReplicasAck, hw.WaitTimeout = 1, time.Second
	return &bench{
		cfg: cfg, rdb: rdb, idx: idx, log: log, zkey: cfg.Prefix + ":zset", seasons: cal,
		writer:     ingest.NewWriter(ingest.NewCoalescer(idx, ingest.CallChanges, ingest.CallsInFlight, 10*time.Second), nil, rule),
		waitWriter: ingest.NewWriter(ingest.NewCoalescer(redisindex.New(rdb, hw), ingest.CallChanges, ingest.CallsInFlight, 10*time.Second), nil, rule),
		nonce:      strconv.FormatInt(time.Now().UnixNano(), 36),
	}, nil
}

func redisVersion(ctx context.Context, rdb *redis.Client) string {
	v, _ := infoField(ctx, rdb, "server", "redis_version")
	return v
}

// checkSeeded verifies a reused prefix holds both structures.
func (b *bench) checkSeeded(ctx context.Context) error {
	n, err := b.rdb.ZCard(ctx, b.zkey).Result()
	if err != nil {
		return fmt.Errorf("read baseline size: %w", err)
	}
	if n != int64(b.cfg.Customers) {
		return fmt.Errorf("--skip-seed: %s holds %d customers, not %d: seed first (drop --skip-seed)", b.zkey, n, b.cfg.Customers)
	}
	return nil
}

// startReplica starts the ranker replica in process, waits until it has
// loaded the index and measures what it costs in RSS and heap.
func (b *bench) startReplica(ctx context.Context) (stop func(), err error) {
	rss0, heap0 := footprint()
	b.rep = ranker.NewReplica(b.idx, b.idx, ranker.DefaultReplicaConfig(), b.log)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = b.rep.Run(rctx) }()
	stop = func() { cancel(); wg.Wait() }
	start := time.Now()
	for !b.rep.Ready() {
		select {
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	m := &b.rep0.Memory
	m.ReplicaLoadSeconds = time.Since(start).Seconds()
	rss1, heap1 := footprint()
	m.RankerRSSBytes, m.RankerHeapBytes = rss1-rss0, heap1-heap0
	m.RankerRSSPerCustomer = float64(m.RankerRSSBytes) / float64(b.cfg.Customers)
	b.log.Info("bench: ranker replica ready", "took", time.Since(start).Round(time.Millisecond),
		"rss_bytes_per_customer", fmt.Sprintf("%.1f", m.RankerRSSPerCustomer))
	return stop, nil
}

// footprint returns the process's resident set and live heap after a full
// collection that returns freed memory to the OS.
func footprint() (rss, heap int64) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return vmRSS(), int64(ms.HeapAlloc)
}

// sample returns n distinct random customer ids (all of them when n is at
// least Customers).
func (b *bench) sample(n int) []uint64 {
	rng := rand.New(rand.NewPCG(uint64(b.cfg.Seed), 0xc0ffee))
	seen := make(map[uint64]bool, n)
	out := make([]uint64, 0, n)
	for len(out) < min(n, b.cfg.Customers) {
		id := 1 + rng.Uint64N(uint64(b.cfg.Customers))
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// runPhase runs op in conc goroutines for d (each with its own random
// source) and measures every call; op returns the items the call handled.
func (b *bench) runPhase(ctx context.Context, name, system string, conc int, d time.Duration, op func(ctx context.Context, rng *rand.Rand) (int, error)) Phase {
	p := b.measure(ctx, name, system, conc, d, op)
	b.logPhase(p)
	return p
}

// logPhase logs a finished phase's figures.
func (b *bench) logPhase(p Phase) {
	b.log.Info("bench: phase done", "phase", p.Name, "system", p.System, "per_sec", int(p.PerSec), "p99_us", p.P99us, "errors", p.Errors)
}

// measure is runPhase without the log line.
func (b *bench) measure(ctx context.Context, name, system string, conc int, d time.Duration, op func(ctx context.Context, rng *rand.Rand) (int, error)) Phase {
	var stop atomic.Bool
	var mu sync.Mutex
	total := &Latency{}
	var ops, items, errs atomic.Uint64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	cpu0 := redisCPU(ctx, b.rdb)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(b.cfg.Seed), uint64(w)<<32|uint64(len(name))))
			lat := &Latency{}
			for !stop.Load() && ctx.Err() == nil {
				t := time.Now()
				n, err := op(ctx, rng)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat.Record(time.Since(t))
				ops.Add(1)
				items.Add(uint64(n))
			}
			mu.Lock()
			total.Merge(lat)
			mu.Unlock()
		}()
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	stop.Store(true)
	wg.Wait()
	p := phaseOf(name, system, total, items.Load(), errs.Load(), time.Since(start))
	p.Ops = ops.Load()
	if cpu := redisCPU(ctx, b.rdb) - cpu0; cpu > 0 && p.Items > 0 {
		p.RedisUs, p.RedisCPU = cpu*1e6/float64(p.Items), cpu/p.Seconds
	}
	if e, ok := firstErr.Load().(string); ok {
		p.Note = "first error: " + e
	}
	return p
}

// merge returns the phase of p's and q's calls together, as if measured
// in one phase lasting both.
func merge(p, q Phase) Phase {
	lat := &Latency{}
	for _, l := range []*Latency{p.lat, q.lat} {
		if l != nil {
			lat.Merge(l)
		}
	}
	redis := p.RedisCPU*p.Seconds + q.RedisCPU*q.Seconds
	m := phaseOf(p.Name, p.System, lat, p.Items+q.Items, p.Errors+q.Errors, time.Duration((p.Seconds+q.Seconds)*float64(time.Second)))
	m.Ops = p.Ops + q.Ops
	if redis > 0 && m.Items > 0 {
		m.RedisUs, m.RedisCPU = redis*1e6/float64(m.Items), redis/m.Seconds
	}
	m.Note = p.Note
	if m.Note == "" {
		m.Note = q.Note
	}
	return m
}

func phaseOf(name, system string, lat *Latency, items, errs uint64, took time.Duration) Phase {
	us := func(q float64) float64 { return float64(lat.Quantile(q).Nanoseconds()/100) / 10 }
	return Phase{Name: name, System: system, Ops: lat.Count(), Items: items, Errors: errs, Seconds: took.Seconds(),
		PerSec: float64(items) / took.Seconds(), P50us: us(0.5), P99us: us(0.99), P999us: us(0.999), lat: lat}
}

func (b *bench) randomCustomer(rng *rand.Rand) uint64 {
	return 1 + rng.Uint64N(uint64(b.cfg.Customers))
}
