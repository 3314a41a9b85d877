package ranker

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xyz/loyalty/ledger"
)

// ChangeLog is the primary's change log as the lag gauges read it
// (redisindex.Index).
type ChangeLog interface {
	Seq(ctx context.Context) (uint64, error)
	Entries(ctx context.Context, after uint64, count int64) ([]ledger.Entry, error)
}

// LagMetrics returns the lag gauges of the board a process follows (board
// returns it; nil while it loads): the changes the primary has that the
// board lacks, and the age of the oldest of them (how far behind the board
// is in time). Each scrape reads the primary's seq, and the first missing
// entry when behind, within a second; a gauge is NaN while there is no
// board or the primary does not answer.
func LagMetrics(board func() *Board, primary ChangeLog) []prometheus.Collector {
	gauge := func(name, help string, withAge bool, value func(behind uint64, age time.Duration) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			n, d, ok := lag(board(), primary, withAge)
			if !ok {
				return math.NaN()
			}
			return value(n, d)
		})
	}
	return []prometheus.Collector{
		gauge("loyalty_replica_lag_seqs",
			"Changes the primary has that this process's board has not applied yet (NaN while the board loads or the primary does not answer).",
			false, func(n uint64, _ time.Duration) float64 { return float64(n) }),
		gauge("loyalty_replica_lag_seconds",
			"Age of the oldest change the primary has and this process's board has not applied (seconds, to the second the change was recorded); 0 when caught up (NaN while the board loads or the primary does not answer).",
			true, func(_ uint64, d time.Duration) float64 { return d.Seconds() }),
	}
}

// lag returns how many changes b lacks of the primary's and, withAge, the
// age of the first of them; ok is false when it can't tell.
func lag(b *Board, primary ChangeLog, withAge bool) (behind uint64, age time.Duration, ok bool) {
	if b == nil {
		return 0, 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	head, err := primary.Seq(ctx)
	if err != nil {
		return 0, 0, false
	}
	seq, _ := b.Applied()
	if head <= seq {
		return 0, 0, true
	}
	if !withAge {
		return head - seq, 0, true
	}
	es, err := primary.Entries(ctx, seq, 1)
	if err != nil || len(es) == 0 {
		return head - seq, 0, false
	}
	return head - seq, max(0, time.Since(es[0].RecordedAt)), true
}
