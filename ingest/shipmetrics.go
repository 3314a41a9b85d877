package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the shipper's metrics, read at each scrape: the
// shipping rounds that failed and were retried, and the age of the oldest
// change not yet in the ledger.
func (s *Shipper) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loyalty_ledger_ship_retries_total",
			Help: "Shipping rounds that failed (ClickHouse or Redis unreachable) and were retried with backoff.",
		}, func() float64 { return float64(s.Retries()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loyalty_ledger_oldest_unshipped_seconds",
			Help: "Age of the oldest change applied to the index and not yet in the ClickHouse ledger, as of the shipper's last round (0: none waiting; 0 too where this process does not hold the shipper lease).",
		}, func() float64 {
			at := s.OldestUnshipped()
			if at.IsZero() {
				return 0
			}
			return max(0, time.Since(at).Seconds())
		}),
	}
}
