package main

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xyz/loyalty/ingest"
)

// writeIngestMetrics writes a run's gauges (ingest.RunMetrics) and the
// build's to path in the Prometheus text format, for node_exporter's
// textfile collector. The file is replaced whole, never half written.
func writeIngestMetrics(path string, c ingest.Counts, took time.Duration, runErr error) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(append(ingest.RunMetrics(c, took, time.Now(), runErr == nil), buildInfoMetric())...)
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("ingest --metrics-file: %w", err)
	}
	return nil
}
