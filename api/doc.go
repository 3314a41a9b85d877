// Package api is the loyalty HTTP API: a Gin router over the interfaces it
// declares (Ranker for dashboards, Writer for orders and manual points), with
// bearer-JWT authentication and roles, RFC 9457 problem+json errors, request
// ids, access logs, Prometheus metrics, health and readiness probes, and the
// OpenAPI 3.0 document it serves at /openapi.json.
//
// Routes:
//
//	POST /order/{orderId}     role channel: a purchase or refund
//	GET  /loyalty/{userId}    role customer (own id only) or staff: the dashboard
//	POST /loyalty/{userId}    role staff: insert points by hand
//	GET  /leaderboard         role staff: a page of the board (offset, limit)
//	GET  /leaderboard/distribution  role staff: counts per score range, quantiles
//	GET  /livez               the process only (liveness)
//	GET  /readyz              200 while dashboards can be served (readiness)
//	GET  /healthz             the process and each dependency (monitoring)
//	GET  /metrics             Prometheus metrics (unless Config.AdminOnlyMetrics)
//	GET  /openapi.json        the API description
//
// AdminHandler serves /metrics, the probes and pprof for a listener only
// operators reach. Metric labels are bounded: a method outside the
// standard set is "other", a route is its template.
//
// Customers are never shown to each other by id: every dashboard entry
// carries a proxy name (see ProxyNamer), a pseudonym derived from the id with
// a keyed hash.
package api
