// Package histogram is the Redis ranking index: every customer's balance, a
// bucketed score histogram with prefix sums, the change log the rankers
// follow, and the memory of applied change ids. It is the only package that
// knows Redis keys and commands. Every change of a balance runs in one Lua
// script: atomic, and idempotent by change id.
//
// # Key layout
//
// All keys share the hash tag {P} (P = Config.Prefix, "loyalty" by default),
// so one board lives in one Redis Cluster slot and every script may touch
// all of its keys.
//
//	{P}:gen              current generation G (absent = 1); bumped by a rebuild
//	{P}:g<G>:b:<id/128>  hash customer id -> points, at most 128 customers per
//	                     hash, so each stays a listpack (~8-10 bytes a customer)
//	{P}:g<G>:h1          string: Fenwick tree of i32 counts over the 2^19
//	                     buckets of 4096 scores each (2 MB)
//	{P}:g<G>:h2:<b>      string: Fenwick tree of i32 counts over the 4096
//	                     scores of bucket b (16 KB), only for non-empty buckets
//	{P}:g<G>:n           customers with points > 0 (the ranked)
//	{P}:seq              seq of the last applied change (INCR per change)
//	{P}:log              stream, one entry per applied change, ID "<seq>-0":
//	                     u=customer k=id/128 b=balance d=delta t=unix c=JSON
//	                     of the ledger change; the outbox of the ledger and
//	                     the feed of the ranker replicas
//	{P}:shipped          seq up to which the log is in the ClickHouse ledger
//	                     (or set aside in {P}:dead)
//	{P}:dead             hash seq -> JSON dead letter: a log entry the ledger
//	                     refused (entry or raw fields, reason, time), until
//	                     it is retried into the ledger or dropped
//	{P}:dead:dropped     hash seq -> JSON: the dead letters dropped, with the
//	                     operator's reason and time
//	{P}:o:<day>:<part>   hash change id -> "digest seq delta balance unix",
//	                     the ids applied on that day (days since the epoch,
//	                     on Redis's clock), part = fnv32(id) mod DedupeParts;
//	                     expires DedupeDays+1 days after its last write
//	{P}:rebuilding       lock held while a rebuild runs (pauses log trimming)
//
// # Bucket math
//
// Scores run from 0 to MaxPoints (2^31-1). Score s is in bucket
// b = s/4096 (Fenwick index b+1) at offset j = s mod 4096 (index j+1).
// "Customers with at most s points" is the prefix sum of h1 over the buckets
// before b (at most 19 cells: the approximate rank, exact to the bucket)
// plus the prefix sum of h2:<b> up to j (at most 12 cells: exact). The rank
// is 1 + (ranked - atMost(s)). A change from score a to score c adds -1
// along a's two Fenwick paths and +1 along c's: two BITFIELD INCRBY calls of
// about 19 and 12 operations each.
//
// # Costs
//
// Applying a change: one EVALSHA per batch of up to BatchSize changes; per
// change about DedupeDays+1 HGETs for the id, one HGET and HSET (or HDEL) of
// the balance, four BITFIELD calls, INCR, HSET+EXPIRE of the id, XADD. A
// rank from Redis (Index.Rank): one script with two BITFIELD_RO reads.
// Dashboards do not read these keys at all: the ranker keeps a replica of
// balances and histogram in memory, fed by the log (package ranker), and
// asks Redis only for {P}:seq, once per batch of concurrent dashboards.
//
// # Exactly once
//
// A change id is looked up in the id hashes of every day from the day it
// happened (or DedupeDays ago, whichever is later) to today. Ids older than
// that are the ledger's to remember (ingest.Writer looks them up in
// ClickHouse first). The same id with the same digest is a replay and
// returns the original result; with another digest it is a conflict and
// nothing changes.
package histogram
