package main

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/promtest"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

// TestReplicaLagMetrics: the lag gauges over the Redis index's change log
// (ranker.TestLagMetrics has them over a fake) read the primary's seq and the
// first change the board lacks: NaN before a board, the changes and their
// age while behind, 0 once caught up.
func TestReplicaLagMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t).Addr})
	t.Cleanup(func() { rdb.Close() })
	cfg := redisindex.DefaultConfig()
	cfg.Prefix, cfg.DedupeParts = "lag", 16
	x := redisindex.New(rdb, cfg)
	var cs []ledger.Change
	for i := 1; i <= 5; i++ {
		c := ledger.Change{ID: fmt.Sprintf("o-%d", i), CustomerID: uint64(i), Points: 3, Cause: ledger.CauseOrder, OccurredAt: time.Now().UTC().Truncate(time.Second)}
		c.Seal()
		cs = append(cs, c)
	}
	if _, err := x.Apply(ctx, cs); err != nil {
		t.Fatal(err)
	}
	var board *ranker.Board
	gauges := ranker.LagMetrics(func() *ranker.Board { return board }, x)
	g := promtest.Values(t, gauges...)
	if !math.IsNaN(g["loyalty_replica_lag_seqs"]) || !math.IsNaN(g["loyalty_replica_lag_seconds"]) {
		t.Fatalf("no board yet: %v, want NaN", g)
	}
	board = ranker.NewBoard()
	board.SetSeq(2, time.Now().Add(-time.Hour))
	g = promtest.Values(t, gauges...)
	if g["loyalty_replica_lag_seqs"] != 3 || g["loyalty_replica_lag_seconds"] < 0 || g["loyalty_replica_lag_seconds"] > 60 {
		t.Fatalf("board at seq 2 of 5: %v, want 3 changes behind, the age of change 3 (seconds, not the hour since the board last applied one)", g)
	}
	board.SetSeq(5, time.Now())
	g = promtest.Values(t, gauges...)
	if g["loyalty_replica_lag_seqs"] != 0 || g["loyalty_replica_lag_seconds"] != 0 {
		t.Fatalf("caught up: %v, want 0 and 0", g)
	}
}
