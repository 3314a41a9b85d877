package loadtest

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/internal/testenv"
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

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTinyRun(t *testing.T) {
	cfg := tinyConfig()
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
	cfg := tinyConfig()
	ctx := testenv.Context(t)
	rdb := client(t, cfg)
	b, err := newBench(rdb, cfg, quiet())
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
	defer stop()
	ids := b.sample(200)
	c, err := b.check(ctx, ids)
	if err != nil || c.Mismatches != 0 {
		t.Fatalf("before corrupting: %+v, %v", c, err)
	}

	// One customer's balance in the baseline moves from the middle of the
	// board to the top: every top-N and many ranks now differ.
	victim := strconv.FormatUint(ids[0], 10)
	if err := rdb.ZIncrBy(ctx, b.zkey, 500_000, victim).Err(); err != nil {
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
	if err := rdb.ZIncrBy(ctx, b.zkey, -500_000, victim).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZIncrBy(ctx, b.zkey, 1, victim).Err(); err != nil {
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
	cfg := tinyConfig()
	cfg.Duration = 100 * time.Millisecond
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
