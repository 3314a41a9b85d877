package ingest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/promtest"
)

var summaryCounts = Counts{Files: 2, Rows: 12345, Applied: 9000, Skipped: 300, Rejected: 45, Duplicates: 6,
	Awarded: 123456, Deducted: 789, File: "b.csv", FileRows: 100}

// TestWriteSummary: the two summary lines, the rate in rows per second of
// the time given.
func TestWriteSummary(t *testing.T) {
	var b strings.Builder
	if err := summaryCounts.WriteSummary(&b, 2500*time.Millisecond+400*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	want := "files 2, rows 12345, orders applied 9000, skipped (anonymous) 300, rejected 45, duplicates 6\n" +
		"points awarded 123456, deducted 789, time 2.5s, 4937 rows/s\n"
	if b.String() != want {
		t.Fatalf("summary:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := (Counts{}).WriteSummary(&b, 0); err != nil || !strings.HasSuffix(b.String(), "time 0s, 0 rows/s\n") {
		t.Fatalf("an empty run's summary: %q, %v", b.String(), err)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// TestWriteSummaryError: a summary that can't be written is an error.
func TestWriteSummaryError(t *testing.T) {
	closed := errors.New("broken pipe")
	if err := summaryCounts.WriteSummary(failWriter{closed}, time.Second); !errors.Is(err, closed) {
		t.Fatalf("WriteSummary = %v, want the writer's error", err)
	}
}

// TestRunMetrics: the gauges of a run's metrics file carry its counts, its
// time, its end and whether it finished.
func TestRunMetrics(t *testing.T) {
	ended := time.Unix(1_764_633_600, 500_000_000)
	got := promtest.Values(t, RunMetrics(summaryCounts, 2500*time.Millisecond, ended, true)...)
	want := map[string]float64{
		`loyalty_ingest_orders{result="applied"}`:     9000,
		`loyalty_ingest_orders{result="skipped"}`:     300,
		`loyalty_ingest_orders{result="duplicate"}`:   6,
		`loyalty_ingest_points{direction="awarded"}`:  123456,
		`loyalty_ingest_points{direction="deducted"}`: 789,
		"loyalty_ingest_files":                        2,
		"loyalty_ingest_rows":                         12345,
		"loyalty_ingest_rejected_rows":                45,
		"loyalty_ingest_duration_seconds":             2.5,
		"loyalty_ingest_last_run_timestamp_seconds":   1_764_633_600.5,
		"loyalty_ingest_last_run_success":             1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("metrics:\n%v\nwant\n%v", got, want)
	}
	if v := promtest.Values(t, RunMetrics(summaryCounts, time.Second, ended, false)...)["loyalty_ingest_last_run_success"]; v != 0 {
		t.Fatalf("a run that stopped: success %v, want 0", v)
	}
}

// TestShipperCollectors: the retry counter and the age of the oldest
// change waiting, read from the shipper at each scrape (0 when none waits).
func TestShipperCollectors(t *testing.T) {
	s := &Shipper{}
	cs := s.Collectors()
	if got := promtest.Values(t, cs...); got["loyalty_ledger_ship_retries_total"] != 0 || got["loyalty_ledger_oldest_unshipped_seconds"] != 0 {
		t.Fatalf("a new shipper: %v, want 0 and 0", got)
	}
	s.retries.Add(3)
	s.oldest.Store(time.Now().Add(-time.Minute).UnixNano())
	got := promtest.Values(t, cs...)
	if got["loyalty_ledger_ship_retries_total"] != 3 {
		t.Errorf("retries %v, want 3", got["loyalty_ledger_ship_retries_total"])
	}
	if age := got["loyalty_ledger_oldest_unshipped_seconds"]; math.Abs(age-60) > 30 {
		t.Errorf("oldest unshipped %v s ago, want about 60", age)
	}
}
