package api

import (
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus metrics, in a registry of their own.
type metrics struct {
	reg     *prometheus.Registry
	latency *prometheus.HistogramVec
	orders  *prometheus.CounterVec
	points  *prometheus.CounterVec
}

func newMetrics(deps Deps) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loyalty_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_orders_total",
			Help: "Orders received over HTTP by result: applied, replayed, conflict, invalid, failed.",
		}, []string{"result"}),
		points: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_points_total",
			Help: "Points applied over HTTP by cause (order, refund, manual) and direction (awarded, removed).",
		}, []string{"cause", "direction"}),
	}
	m.reg.MustRegister(m.latency, m.orders, m.points,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(deps.Metrics...)
	if deps.IndexSize != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loyalty_index_customers", Help: "Customers in the ranking index.",
		}, deps.IndexSize))
	}
	if deps.LedgerBacklog != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loyalty_ledger_backlog", Help: "Changes applied to the index and not yet in the ledger.",
		}, deps.LedgerBacklog))
	}
	if deps.LedgerDeadLetters != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loyalty_ledger_dead_letters",
			Help: "Changes the ledger refused, set aside and not yet retried or dropped (see `loyalty deadletters`); as of the last shipping round of this process (0 where it does not hold the shipper lease).",
		}, deps.LedgerDeadLetters))
	}
	if deps.LedgerDeadLettered != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "loyalty_ledger_dead_lettered_total",
			Help: "Changes this process set aside as dead letters because the ledger refused them.",
		}, deps.LedgerDeadLettered))
	}
	return m
}

// applied counts the points of one applied change.
func (m *metrics) applied(cause string, delta int64) {
	switch {
	case delta > 0:
		m.points.WithLabelValues(cause, "awarded").Add(float64(delta))
	case delta < 0:
		m.points.WithLabelValues(cause, "removed").Add(float64(-delta))
	}
}

func (s *Server) metricsHandler() gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
}
