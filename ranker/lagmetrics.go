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
// returns it; nil while it loads) on the wall clock: see Lag.
func LagMetrics(board func() *Board, primary ChangeLog) []prometheus.Collector {
	return Lag{Board: board, Primary: primary, Now: time.Now}.Collectors()
}

// Lag is how far the board a process follows is behind the primary: the
// changes the primary has that the board lacks, and the age of the oldest
// of them (how far behind the board is in time).
type Lag struct {
	Board   func() *Board // nil while the board loads
	Primary ChangeLog
	Now     func() time.Time
}

// Collectors returns the two lag gauges. Each scrape reads the primary's
// seq once for both, and the first missing entry when behind, within a
// second; a gauge is NaN while there is no board or the primary does not
// answer.
func (l Lag) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&lagCollector{Lag: l,
		seqs: prometheus.NewDesc("loyalty_replica_lag_seqs",
			"Changes the primary has that this process's board has not applied yet (NaN while the board loads or the primary does not answer).", nil, nil),
		seconds: prometheus.NewDesc("loyalty_replica_lag_seconds",
			"Age of the oldest change the primary has and this process's board has not applied (seconds, to the second the change was recorded); 0 when caught up (NaN while the board loads or the primary does not answer).", nil, nil),
	}}
}

type lagCollector struct {
	Lag
	seqs, seconds *prometheus.Desc
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.seqs; ch <- c.seconds }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	behind, age := c.measure()
	ch <- prometheus.MustNewConstMetric(c.seqs, prometheus.GaugeValue, behind)
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, age)
}

// measure returns how many changes the board lacks of the primary's and
// the age of the first of them in seconds, each NaN when it can't tell.
func (c *lagCollector) measure() (behind, age float64) {
	b := c.Board()
	if b == nil {
		return math.NaN(), math.NaN()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	head, err := c.Primary.Seq(ctx)
	if err != nil {
		return math.NaN(), math.NaN()
	}
	seq, _ := b.Applied()
	if head <= seq {
		return 0, 0
	}
	es, err := c.Primary.Entries(ctx, seq, 1)
	if err != nil || len(es) == 0 {
		return float64(head - seq), math.NaN()
	}
	return float64(head - seq), max(0, c.Now().Sub(es[0].RecordedAt)).Seconds()
}
