package api

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -source=deps.go -destination=mocks/deps.go -package=mocks

// Ranker answers dashboards: ranker.Replica (over Redis) or ranker.Local
// (embedded).
type Ranker interface {
	// Dashboard returns one consistent snapshot for customer id with the top
	// n and k neighbours on each side.
	Dashboard(ctx context.Context, customerID uint64, n, k int) (ranker.Dashboard, error)
	// SeasonDashboard is Dashboard on the board of season name.
	SeasonDashboard(ctx context.Context, name string, customerID uint64, n, k int) (ranker.Dashboard, error)
	// Ready reports whether dashboards can be answered.
	Ready() bool
}

// Writer applies orders and manual points exactly once: ingest.Writer.
type Writer interface {
	// ApplyOrder validates and applies one order on behalf of actor.
	ApplyOrder(ctx context.Context, o ingest.Order, actor string) (ledger.Outcome, error)
	// Apply applies sealed changes in order.
	Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error)
	// Correct applies a correction of an order applied before: o is the
	// whole corrected order (ingest.ErrNotFound if it was never applied).
	Correct(ctx context.Context, o ingest.Order, actor string) (ledger.Outcome, error)
}

// Check is one dependency as /healthz reports it.
type Check struct {
	Name  string                          // e.g. "redis", "clickhouse"
	Check func(ctx context.Context) error // nil error: up
}

// Deps are what the API is built on. Ranker and Writer are required.
type Deps struct {
	Ranker Ranker
	Writer Writer
	// Seasons are the season boards the ranker keeps (none when its
	// calendar is off): ?board=season and the kept seasons by name.
	Seasons ranker.Seasons
	// Settings, if set, reports a dependency configured unsafely (a Redis
	// whose maxmemory-policy may evict keys): /readyz answers 503 while it
	// returns an error.
	Settings func() error
	// Checks are the dependencies /healthz reports (it answers 503 when one is
	// down). /readyz depends on Ranker.Ready alone.
	Checks []Check
	// IndexSize, if set, reports the customers in the ranking index (a gauge).
	IndexSize func() float64
	// LedgerBacklog, if set, reports the changes not yet shipped to the
	// ledger (a gauge).
	LedgerBacklog func() float64
	// LedgerDeadLetters, if set, reports the dead letters pending: changes
	// the ledger refused, set aside until an operator deals with them (a
	// gauge, as of the shipper's last round).
	LedgerDeadLetters func() float64
	// LedgerDeadLettered, if set, reports how many changes this process set
	// aside as dead letters (a counter).
	LedgerDeadLettered func() float64
	// History, if set, answers GET /loyalty/{userId}/history (the route is
	// absent without it).
	History HistoryReader
	// Metrics are more collectors /metrics exports beside the API's own
	// (the stores' command latency, the replica's lag, build_info).
	Metrics []prometheus.Collector
	// Page, if set, serves the web page at / and its files at /app/ (see
	// package web).
	Page http.Handler
}
