package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
)

// seed deletes the prefix's keys, then loads the index (through
// redisindex.Index.Rebuild) and the baseline sorted set (pipelined ZADD),
// measuring Redis memory around each.
func (b *bench) seed(ctx context.Context) error {
	if err := b.reset(ctx); err != nil {
		return err
	}
	m := &b.rep0.Memory
	m.Measured = true
	m0, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	n := b.cfg.Customers
	b.log.Info("bench: seeding the index (redisindex.Index.Rebuild)", "customers", n)
	start := time.Now()
	_, err = b.idx.Rebuild(ctx, 0, func(put func(id uint64, points int64) error) error {
		for id := uint64(1); id <= uint64(n); id++ {
			if err := put(id, Balance(b.cfg.Seed, id)); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("seed the index: %w", err)
	}
	m.SeedOursSeconds = time.Since(start).Seconds()
	m.SeedOursCustomersPerSec = float64(n) / m.SeedOursSeconds
	m1, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	b.log.Info("bench: seeding the baseline (pipelined ZADD)", "customers", n, "index_took", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := b.seedBaseline(ctx); err != nil {
		return err
	}
	m.SeedBaselineSeconds = time.Since(start).Seconds()
	m2, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	m.OursRedisBytes, m.BaselineRedisBytes = m1-m0, m2-m1
	m.OursRedisPerCustomer = float64(m.OursRedisBytes) / float64(n)
	m.BaselinePerCustomer = float64(m.BaselineRedisBytes) / float64(n)
	b.log.Info("bench: seeded", "baseline_took", time.Since(start).Round(time.Millisecond),
		"ours_bytes_per_customer", fmt.Sprintf("%.1f", m.OursRedisPerCustomer),
		"baseline_bytes_per_customer", fmt.Sprintf("%.1f", m.BaselinePerCustomer))
	return b.seedSeason(ctx, m2)
}

// seedSeason measures what one season board costs: the index is rebuilt
// with the same all-time board plus a season board on which SeasonShare of
// the customers earned a share of their points; the growth of used_memory
// (after the old generation is dropped) is the season board's.
func (b *bench) seedSeason(ctx context.Context, before int64) error {
	share := b.cfg.SeasonShare
	if share <= 0 {
		return nil
	}
	n := b.cfg.Customers
	every := max(uint64(1/share+0.5), 1)
	m := &b.rep0.Memory
	start := time.Now()
	_, err := b.idx.Rebuild(ctx, 0, func(put func(id uint64, points int64) error) error {
		for id := uint64(1); id <= uint64(n); id++ {
			if err := put(id, Balance(b.cfg.Seed, id)); err != nil {
				return err
			}
		}
		return nil
	}, []redisindex.SeasonLoad{{Season: b.seasons.Of(time.Now()), Load: func(put func(id uint64, points int64) error) error {
		for id := uint64(1); id <= uint64(n); id += every {
			m.SeasonCustomers++
			if err := put(id, Balance(b.cfg.Seed, id)/4+1); err != nil {
				return err
			}
		}
		return nil
	}}})
	if err != nil {
		return fmt.Errorf("seed a season board: %w", err)
	}
	after, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	m.SeasonRedisBytes = after - before
	m.SeasonPerCustomer = float64(m.SeasonRedisBytes) / float64(max(m.SeasonCustomers, 1))
	b.log.Info("bench: season board seeded", "customers", m.SeasonCustomers, "took", time.Since(start).Round(time.Millisecond),
		"bytes_per_customer", fmt.Sprintf("%.1f", m.SeasonPerCustomer))
	return nil
}

// seedBaseline loads the sorted set with ZADD of 1000 members a command, 16
// commands a pipeline.
func (b *bench) seedBaseline(ctx context.Context) error {
	const members, depth = 1000, 16
	n := uint64(b.cfg.Customers)
	pipe := b.rdb.Pipeline()
	zs := make([]redis.Z, 0, members)
	for id := uint64(1); id <= n; id++ {
		zs = append(zs, redis.Z{Score: float64(Balance(b.cfg.Seed, id)), Member: strconv.FormatUint(id, 10)})
		if len(zs) == members || id == n {
			pipe.ZAdd(ctx, b.zkey, zs...)
			zs = make([]redis.Z, 0, members)
		}
		if pipe.Len() == depth || (id == n && pipe.Len() > 0) {
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("seed the baseline: %w", err)
			}
		}
	}
	return nil
}

// reset deletes the bench's keys: the index under "{prefix}" and the
// baseline sorted set, and waits for Redis to free them.
func (b *bench) reset(ctx context.Context) error {
	var cursor uint64
	match := "{" + b.cfg.Prefix + "}:*"
	for {
		keys, next, err := b.rdb.Scan(ctx, cursor, match, 5000).Result()
		if err != nil {
			return fmt.Errorf("reset: scan %s: %w", match, err)
		}
		if len(keys) > 0 {
			if err := b.rdb.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("reset: %w", err)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if err := b.rdb.Unlink(ctx, b.zkey).Err(); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	for {
		v, err := infoField(ctx, b.rdb, "memory", "lazyfree_pending_objects")
		if err != nil {
			return err
		}
		if v == "0" || v == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// infoField returns one field of INFO section.
func infoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
	s, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", fmt.Errorf("redis INFO %s: %w", section, err)
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", nil
}

// usedMemory returns Redis's used_memory.
func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	v, err := infoField(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis used_memory %q: %w", v, err)
	}
	return n, nil
}

// vmRSS returns this process's resident set size in bytes (0 where
// /proc/self/status is missing).
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// redisCPU returns the CPU seconds Redis's main thread has used (0 if the
// server doesn't say).
func redisCPU(ctx context.Context, rdb *redis.Client) float64 {
	var sum float64
	for _, f := range []string{"used_cpu_sys_main_thread", "used_cpu_user_main_thread"} {
		v, _ := infoField(ctx, rdb, "cpu", f)
		x, _ := strconv.ParseFloat(v, 64)
		sum += x
	}
	return sum
}
