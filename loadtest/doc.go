// Package loadtest is the project's benchmark: it seeds one Redis with the
// same customers twice, once in the ranking index (redisindex.Index, read
// through an in-process ranker.Replica) and once in the plain approach users
// would otherwise pick (one sorted set driven with ZINCRBY, ZSCORE, ZREVRANK,
// ZCOUNT and ZREVRANGE), then runs the same phases against both in one run:
// dashboards, writes, writes at a fixed rate during dashboards, and,
// optionally, over HTTP: the dashboard route of a running `loyalty serve`
// and its /readyz against the user's alternative, a Gin route of the bench's
// own serving the same dashboard from the sorted set (and its /readyz). It
// reports throughput, latency percentiles, memory per customer, Redis CPU
// per item (over HTTP: how many API processes one Redis core feeds) and every
// ratio ours/baseline, and checks on a sample that both answer the same ranks
// and points.
//
// The bench owns the keys under its prefix: unless told to reuse them
// (SkipSeed), it deletes "{prefix}:*" and "prefix:zset" before seeding.
// Point it at a scratch Redis, never at production.
package loadtest
