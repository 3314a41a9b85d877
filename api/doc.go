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
//	GET  /healthz             the process and each dependency
//	GET  /readyz              200 once the ranking index is loaded
//	GET  /metrics             Prometheus metrics
//	GET  /openapi.json        the API description
//
// Customers are never shown to each other by id: every dashboard entry
// carries a proxy name (see ProxyNamer), a pseudonym derived from the id with
// a keyed hash.
package api
