package ingest

import (
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WriteSummary writes the two lines that end an ingest run: the files,
// rows and orders by outcome, then the points, the time the run took and
// its rate in rows per second.
func (c Counts) WriteSummary(w io.Writer, took time.Duration) error {
	rate := float64(c.Rows) / max(took.Seconds(), 1e-9)
	_, err := fmt.Fprintf(w, "files %d, rows %d, orders applied %d, skipped (anonymous) %d, rejected %d, duplicates %d\n"+
		"points awarded %d, deducted %d, time %s, %.0f rows/s\n",
		c.Files, c.Rows, c.Applied, c.Skipped, c.Rejected, c.Duplicates,
		c.Awarded, c.Deducted, took.Round(time.Millisecond), rate)
	return err
}

// RunMetrics returns the gauges of a finished run with counts c, for a
// batch job's metrics file (node_exporter's textfile collector: a batch job
// has no /metrics to scrape): the orders, points, files, rows and rejected
// rows, how long it took, when it ended and whether it finished (ok; rows
// rejected included) or stopped.
func RunMetrics(c Counts, took time.Duration, ended time.Time, ok bool) []prometheus.Collector {
	var cs []prometheus.Collector
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		cs = append(cs, g)
	}
	orders := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loyalty_ingest_orders",
		Help: "Orders of the last `loyalty ingest` run by result: applied, skipped (anonymous), duplicate (applied before)."}, []string{"result"})
	orders.WithLabelValues("applied").Set(float64(c.Applied))
	orders.WithLabelValues("skipped").Set(float64(c.Skipped))
	orders.WithLabelValues("duplicate").Set(float64(c.Duplicates))
	pts := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loyalty_ingest_points",
		Help: "Points of the last `loyalty ingest` run by direction: awarded, deducted."}, []string{"direction"})
	pts.WithLabelValues("awarded").Set(float64(c.Awarded))
	pts.WithLabelValues("deducted").Set(float64(c.Deducted))
	cs = append(cs, orders, pts)
	gauge("loyalty_ingest_files", "Files of the last `loyalty ingest` run.", float64(c.Files))
	gauge("loyalty_ingest_rows", "Rows read by the last `loyalty ingest` run.", float64(c.Rows))
	gauge("loyalty_ingest_rejected_rows", "Rows the last `loyalty ingest` run wrote to a rejects file.", float64(c.Rejected))
	gauge("loyalty_ingest_duration_seconds", "How long the last `loyalty ingest` run took.", took.Seconds())
	gauge("loyalty_ingest_last_run_timestamp_seconds", "When the last `loyalty ingest` run ended (unix time).", float64(ended.UnixNano())/1e9)
	success := 0.0
	if ok {
		success = 1
	}
	gauge("loyalty_ingest_last_run_success", "1 when the last `loyalty ingest` run finished (rejected rows included), 0 when it stopped.", success)
	return cs
}
