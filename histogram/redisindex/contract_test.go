package redisindex_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/internal/writecontract"
	"github.com/xyz/loyalty/points"
)

// harnesses numbers the contract's stores: each its own prefix and
// database on the shared ClickHouse, also under -count.
var harnesses atomic.Int64

// TestWriteContract holds the Redis index, with the ClickHouse ledger
// behind it for the ids it no longer remembers, to the write path's
// exactly-once contract; wired as serve wires it (a Coalescer in front).
// It runs at each format the index writes (redisindex.Format).
func TestWriteContract(t *testing.T) {
	t.Parallel()
	for _, f := range []redisindex.Format{redisindex.FormatText, redisindex.FormatCompact} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			writeContract(t, f)
		})
	}
}

// writeContract runs the contract on boards at format f.
func writeContract(t *testing.T, f redisindex.Format) {
	rs, cs := testenv.Redis(t), testenv.SharedClickHouse(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 16})
	t.Cleanup(func() { rdb.Close() })
	rule, err := points.New(points.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	writecontract.Run(t, func(t *testing.T) writecontract.Harness {
		ctx := testenv.Context(t)
		name := fmt.Sprintf("%s_%d", strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()), harnesses.Add(1))
		cfg := redisindex.DefaultConfig()
		cfg.Prefix, cfg.DedupeParts = name, 64
		cfg.Seasons, cfg.SeasonsKept = writecontract.Calendar(), 1000
		x := redisindex.New(rdb, cfg)
		if _, err := x.SetFormat(ctx, f); err != nil {
			t.Fatal(err)
		}
		lc := chledger.DefaultConfig()
		lc.Addr, lc.Database = cs.Addr, name
		led, err := chledger.Open(ctx, lc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { led.Close() })
		shipper := ingest.NewShipper(x, nil, led, 10_000, quiet)
		coal := ingest.NewCoalescer(x, cfg.BatchSize, 4, 10*time.Second)
		return writecontract.Harness{
			Writer: func(now func() time.Time) *ingest.Writer {
				return ingest.NewWriter(coal, led, rule).WithClock(now).WithRecall(x).WithSeasons(writecontract.Calendar())
			},
			Balance:       x.Balance,
			Settle:        func(ctx context.Context) error { _, err := shipper.ShipOnce(ctx); return err },
			AdvanceClock:  x.SetClockAhead,
			MaxPoints:     histogram.MaxPoints,
			SeasonBalance: x.SeasonBalance,
		}
	})
}
