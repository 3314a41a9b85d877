// Package redisindex is the Redis adapter of the ranking index: every
// customer's balance, the score histogram of package histogram kept as
// BITFIELD strings, the change log the rankers
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
//	{P}:g<G>:top         sorted set: every customer with at least
//	                     {P}:g<G>:topmin points, at most 1000 (the top N of a
//	                     dashboard while a process loads its board)
//	{P}:g<G>:s:<season>:...  a season board ("2026-12"): the same keys as the
//	                     all-time board (b:, h1, h2:, n, top, topmin) for the
//	                     points earned in the season; expires seasons.kept
//	                     seasons after its own ends
//	{P}:seq              seq of the last applied change (INCR per change)
//	{P}:log              stream, one entry per applied change, ID "<seq>-0":
//	                     u=customer k=id/128 b=balance d=delta t=unix
//	                     [s=season sd=season delta sb=season balance] c=JSON
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
// # Bucket math (package histogram, the same trees)
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
// Applying a change: one EVALSHA per batch of up to BatchSize changes (and,
// with MinReplicasAck, one WAIT in the same round trip); per change about
// DedupeDays+3 HGETs for the id, one HGET and HSET (or HDEL) of the balance,
// HSET of the id, XADD; per batch one BITFIELD per touched histogram tree
// (the net of all its moves), INCRBY of the ranked count, one EXPIRE per id
// hash, SET of the seq and the clock. A
// rank from Redis (Index.Rank): one script with two BITFIELD_RO reads.
// Dashboards do not read these keys at all: the ranker keeps a replica of
// balances and histogram in memory, fed by the log (package ranker), and
// asks Redis only for {P}:seq, once per batch of concurrent dashboards.
//
// # Scripts and keys
//
// The scripts are in lua/ (embedded); every one starts with lua/prelude.lua.
// Every key a script touches is passed in KEYS ({P}:gen first), as Redis
// Cluster requires; the numbers Go and Lua share (bucket width, buckets,
// MaxPoints, seconds a day) are passed as ARGV[1..4]. The keys a write
// touches depend on what it reads (the generation, the clock's day, the
// score bucket of the old balance), so a script first plans with reads only;
// if the plan needs a key the caller did not pass, it writes nothing and
// answers RETRY with the keys, and the caller calls again with them. The
// caller passes the keys it expects (the generation and clock it last saw,
// the 32 lowest score buckets, which hold nearly every customer, and the
// buckets it learnt), so a retry is rare: a rebuild's switch, a day turning,
// a customer above 131,071 points for the first time.
//
// # Exactly once
//
// The rule is stated in package ingest's documentation ("Exactly once") and
// lua/apply.lua: every remembered day is searched, whatever the change's own
// time; where the index may have forgotten an id it answers NeedLedger
// instead of guessing; a change the ledger was searched for is applied only
// if the ledger held every change the index forgot at that time.
package redisindex
