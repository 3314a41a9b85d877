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
//	{P}:log              stream, one entry per applied change, ID "<seq>-0",
//	                     two fields: e="customer id/128 delta balance unix
//	                     [season season-delta season-balance]" and c=JSON of
//	                     the ledger change; the outbox of the ledger and the
//	                     feed of the ranker replicas. Entries written before
//	                     (fields u k d b t [s sd sb] c) are still read.
//	{P}:shipped          seq up to which the log is in the ClickHouse ledger
//	                     (or set aside in {P}:dead)
//	{P}:dead             hash seq -> JSON dead letter: a log entry the ledger
//	                     refused (entry or raw fields, reason, time), until
//	                     it is retried into the ledger or dropped
//	{P}:dead:dropped     hash seq -> JSON: the dead letters dropped, with the
//	                     operator's reason and time
//	{P}:o:<day>:<part>   hash id field -> record: the ids applied on that
//	                     day (days since the epoch, on Redis's clock), part =
//	                     fnv32(id) mod DedupeParts; field = the first 10 bytes
//	                     of SHA-256(id); record = the digest (a zero byte and
//	                     its 8 bytes) and varints seq, delta, balance, unix,
//	                     requested points (lua/prelude.lua, packrec): ~38 B
//	                     an id in a listpack of ~95 (the brief's 100M a day
//	                     over 2^20 parts). Expires DedupeDays+1 days after
//	                     the day. Hashes written before hold field = the id,
//	                     value = the text "digest seq delta balance unix
//	                     points"; both are read (HMGET of the two fields)
//	{P}:o:ahead          the latest day an id was remembered in (days after
//	                     the clock's hold ids timed ahead of it): the search
//	                     stops there; absent, it goes up to the latest day a
//	                     memory day can be, and the first write records that
//	                     day (so a new board searches 2 hashes a change from
//	                     its second day on)
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
// with MinReplicasAck, one WAIT in the same round trip); per change one
// HMGET per day searched for the id (DedupeDays+1 days, 2 by default, while
// no id is timed ahead of the clock's day; see {P}:o:ahead), one HGET and
// HSET of the balance, HSET of the id record, XADD of the two-field log
// entry; per batch one BITFIELD per touched histogram tree (the net of all
// its moves: a move within one score bucket leaves the bucket tree alone,
// and the two Fenwick paths of a move cancel where they meet), INCRBY of
// the ranked count, one EXPIRE per id hash, GET and SET of the seq and
// the clock. Measured inside the script on the project's 2-core machine
// (INFO commandstats, 1M customers): HMGET ~1.3 us, HGET of a balance
// ~3.6 (cache misses over 1M customers), HSET ~1.7, XADD ~1.7, EXPIRE ~2
// (one per change while the id hashes are sparse), BITFIELD ~13 a call:
// ~14 us of commands a change; the script's Lua around them (strings,
// number formatting, tables) and EVALSHA's arguments (14 and 8 keys a
// change, ~4 us a change with no work at all) about as much again; see
// docs/performance.md, "Write cost".
// A rank from Redis (Index.Rank): one script with two BITFIELD_RO reads.
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
// # Upgrading from the text formats
//
// The remembered-id records and the log entries above replaced text
// records keyed by the id and eight-field log entries. This version reads
// both, but a version before it reads neither new form: it would not find
// an id this one remembered (and could apply a retry twice), and its ranker
// replicas stop at the first two-field log entry. Stop every process of the
// earlier version (API, ingest, shipper) before starting this one, and the
// same for a rollback to it (it would not see the ids remembered since, nor
// keep {P}:o:ahead); no data needs migrating (old ids expire with their
// hashes, old log entries are shipped and trimmed as before).
//
// # Exactly once
//
// The rule is stated in package ingest's documentation ("Exactly once") and
// lua/apply.lua: every remembered day is searched, whatever the change's own
// time; where the index may have forgotten an id it answers NeedLedger
// instead of guessing; a change the ledger was searched for is applied only
// if the ledger held every change the index forgot at that time.
package redisindex
