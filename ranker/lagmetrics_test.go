package ranker_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xyz/loyalty/internal/promtest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

// primaryLog is the primary's change log in memory: entry i (1-based) was
// recorded at recorded[i-1].
type primaryLog struct {
	recorded []time.Time
	err      error
	seqReads int
}

func (p *primaryLog) Seq(context.Context) (uint64, error) {
	p.seqReads++
	return uint64(len(p.recorded)), p.err
}

func (p *primaryLog) Entries(_ context.Context, after uint64, count int64) ([]ledger.Entry, error) {
	var es []ledger.Entry
	for s := after + 1; s <= uint64(len(p.recorded)) && int64(len(es)) < count; s++ {
		es = append(es, ledger.Entry{Seq: s, RecordedAt: p.recorded[s-1]})
	}
	return es, p.err
}

func lagGauges(t *testing.T, cs []prometheus.Collector) (seqs, seconds float64) {
	t.Helper()
	v := promtest.Values(t, cs...)
	if len(v) != 2 {
		t.Fatalf("metrics %v, want the two lag gauges", v)
	}
	return v["loyalty_replica_lag_seqs"], v["loyalty_replica_lag_seconds"]
}

// TestLagMetrics: NaN before a board and while the primary does not
// answer; behind, the changes missing and the age of the first of them
// (not the time since the board last applied one); 0 and 0 once caught up.
// One scrape reads the primary's seq once for both gauges.
func TestLagMetrics(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	log := &primaryLog{recorded: []time.Time{now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-10 * time.Second), now, now}}
	var board *ranker.Board
	gauges := ranker.Lag{Board: func() *ranker.Board { return board }, Primary: log, Now: func() time.Time { return now }}.Collectors()
	if n, d := lagGauges(t, gauges); !math.IsNaN(n) || !math.IsNaN(d) {
		t.Fatalf("no board yet: %v, %v; want NaN", n, d)
	}
	board = ranker.NewBoard()
	board.SetSeq(2, now.Add(-time.Hour))
	log.seqReads = 0
	if n, d := lagGauges(t, gauges); n != 3 || d != 10 {
		t.Fatalf("board at seq 2 of 5: %v changes, %v s; want 3 changes, the 10 s age of change 3", n, d)
	}
	if log.seqReads != 1 {
		t.Errorf("one scrape read the primary's seq %d times, want once", log.seqReads)
	}
	log.err = errors.New("primary down")
	if n, d := lagGauges(t, gauges); !math.IsNaN(n) || !math.IsNaN(d) {
		t.Fatalf("primary down: %v, %v; want NaN", n, d)
	}
	log.err = nil
	board.SetSeq(5, now)
	if n, d := lagGauges(t, gauges); n != 0 || d != 0 {
		t.Fatalf("caught up: %v, %v; want 0 and 0", n, d)
	}
}
