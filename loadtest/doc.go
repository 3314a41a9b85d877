// Package loadtest is the project's benchmark: it seeds one Redis with the
// same customers twice, once in the ranking index (histogram.Index, read
// through an in-process ranker.Replica) and once in the plain approach users
// would otherwise pick (one sorted set driven with ZINCRBY, ZSCORE, ZREVRANK,
// ZCOUNT and ZREVRANGE), then runs the same phases against both in one run:
// dashboards, writes, writes at a fixed rate during dashboards, and,
// optionally, the HTTP dashboard route of a running `loyalty serve` against
// its /readyz. It reports throughput, latency percentiles, memory per
// customer and every ratio ours/baseline, and checks on a sample that both
// answer the same ranks and points.
//
// The bench owns the keys under its prefix: unless told to reuse them
// (SkipSeed), it deletes "{prefix}:*" and "prefix:zset" before seeding.
// Point it at a scratch Redis, never at production.
package loadtest
