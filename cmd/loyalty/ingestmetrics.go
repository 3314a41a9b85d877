package main

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// writeMetrics writes the run's counts to path in the Prometheus text
// format, for node_exporter's textfile collector (a batch job has no
// /metrics to scrape). The file is replaced whole, never half written.
func (r *ingestRun) writeMetrics(path string, runErr error) error {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	orders := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loyalty_ingest_orders",
		Help: "Orders of the last `loyalty ingest` run by result: applied, skipped (anonymous), duplicate (applied before)."}, []string{"result"})
	orders.WithLabelValues("applied").Set(float64(r.counts.Applied))
	orders.WithLabelValues("skipped").Set(float64(r.counts.Skipped))
	orders.WithLabelValues("duplicate").Set(float64(r.counts.Duplicates))
	pts := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loyalty_ingest_points",
		Help: "Points of the last `loyalty ingest` run by direction: awarded, deducted."}, []string{"direction"})
	pts.WithLabelValues("awarded").Set(float64(r.counts.Awarded))
	pts.WithLabelValues("deducted").Set(float64(r.counts.Deducted))
	reg.MustRegister(orders, pts, buildInfoMetric())
	gauge("loyalty_ingest_files", "Files of the last `loyalty ingest` run.", float64(r.counts.Files))
	gauge("loyalty_ingest_rows", "Rows read by the last `loyalty ingest` run.", float64(r.counts.Rows))
	gauge("loyalty_ingest_rejected_rows", "Rows the last `loyalty ingest` run wrote to a rejects file.", float64(r.counts.Rejected))
	gauge("loyalty_ingest_duration_seconds", "How long the last `loyalty ingest` run took.", time.Since(r.started).Seconds())
	gauge("loyalty_ingest_last_run_timestamp_seconds", "When the last `loyalty ingest` run ended (unix time).", float64(time.Now().UnixNano())/1e9)
	ok := 1.0
	if runErr != nil {
		ok = 0
	}
	gauge("loyalty_ingest_last_run_success", "1 when the last `loyalty ingest` run finished (rejected rows included), 0 when it stopped.", ok)
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("ingest --metrics-file: %w", err)
	}
	return nil
}
