package redisindex_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// idsPerHash is how many change ids a remembered-id hash holds a day at the
// brief's rate: 100M changes a day over the default 2^20 parts.
const idsPerHash = 100_000_000 >> 20

// BenchmarkRememberedIDs applies b.N new changes, 1, 16 (about what the
// Coalescer gathers at one change a request) or 256 a call, with
// DedupeParts chosen so each id hash holds as many ids as at the brief's
// rate, and reports the Redis CPU per change (redis-us/op) and the Redis
// memory each remembered id takes once the change log is trimmed: as
// MEMORY USAGE of the id hashes (hash-B/id) and as used_memory growth
// (B/id, which also holds a few MB that do not grow with the ids). Run it
// with a fixed count: go test -run X -bench RememberedIDs -benchtime
// 200000x ./histogram/redisindex/
func BenchmarkRememberedIDs(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) { benchRemembered(b, n) })
	}
}

func benchRemembered(b *testing.B, size int) {
	srv := testenv.Redis(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { rdb.Close() })
	ctx := testenv.Context(b)
	cfg := redisindex.DefaultConfig()
	cfg.Prefix, cfg.DedupeParts = "bench", max(1, b.N/idsPerHash)
	x := redisindex.New(rdb, cfg)
	now := time.Now().UTC()
	batch := make([]ledger.Change, 0, size)
	flush := func() {
		if _, err := x.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	// Few customers: the balances add next to nothing; the histogram's
	// strings exist before the count starts.
	batch = append(batch, ledger.Change{ID: "warm-up", CustomerID: 1, Points: 1, Cause: ledger.CauseManual, OccurredAt: now})
	flush()
	// A board past its first day, no id timed into a later day: the id
	// search covers the window's days only (see doc.go, {P}:o:ahead).
	if err := rdb.Set(ctx, "{bench}:o:ahead", now.Unix()/86400, 0).Err(); err != nil {
		b.Fatal(err)
	}
	mem0, cpu0 := usedMemory(b, rdb), redisCPU(b, rdb)
	b.ResetTimer()
	for i := range b.N {
		c := ledger.Change{ID: "order-" + strconv.Itoa(1_000_000_000+i), CustomerID: uint64(1 + i%100), Points: 3,
			Cause: ledger.CauseOrder, Channel: "web", OccurredAt: now}
		c.Seal()
		if batch = append(batch, c); len(batch) == size {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	b.StopTimer()
	b.ReportMetric((redisCPU(b, rdb)-cpu0)*1e6/float64(b.N), "redis-us/op")
	if err := rdb.Del(ctx, "{bench}:log").Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(usedMemory(b, rdb)-mem0)/float64(b.N), "B/id")
	var keys, hashes int64
	iter := rdb.Scan(ctx, 0, "{bench}:o:*", 1000).Iterator()
	for iter.Next(ctx) {
		n, err := rdb.MemoryUsage(ctx, iter.Val(), 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		keys += n
		hashes++
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(keys)/float64(b.N), "hash-B/id")
	b.ReportMetric(float64(b.N)/float64(hashes), "ids/hash")
}

func infoFloat(b *testing.B, rdb *redis.Client, section, field string) float64 {
	b.Helper()
	s, err := rdb.Info(testenv.Context(b), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	b.Fatalf("INFO %s has no %s", section, field)
	return 0
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	return int64(infoFloat(b, rdb, "memory", "used_memory"))
}

func redisCPU(b *testing.B, rdb *redis.Client) float64 {
	return infoFloat(b, rdb, "cpu", "used_cpu_user_main_thread") + infoFloat(b, rdb, "cpu", "used_cpu_sys_main_thread")
}
