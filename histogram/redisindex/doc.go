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
// all of its keys. keys.go builds these names for the Go code (one helper
// per family); the scripts in lua/ build the same names from KEYS[1].
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
//	{P}:clock            the index's clock: the latest Redis TIME (unix
//	                     seconds) an apply saw, so days never go back after
//	                     a failover to a server whose clock is behind
//	{P}:log              stream, one entry per applied change, ID "<seq>-0":
//	                     the outbox of the ledger and the feed of the ranker
//	                     replicas. At format 2 ({P}:format) two fields:
//	                     e="customer id/128 delta balance unix [season
//	                     season-delta season-balance]" and c=JSON of the
//	                     ledger change; at format 1 the same values as the
//	                     fields u k b d t [s sd sb] c. Both are read.
//	{P}:shipped          seq up to which the log is in the ClickHouse ledger
//	                     (or set aside in {P}:dead)
//	{P}:dead             hash seq -> JSON dead letter: a log entry the ledger
//	                     refused (entry or raw fields, reason, time), until
//	                     it is retried into the ledger or dropped
//	{P}:dead:dropped     hash seq -> JSON: the dead letters dropped, with the
//	                     operator's reason and time
//	{P}:o:<day>:<part>   hash id field -> record: the ids applied on that
//	                     day (days since the epoch, on Redis's clock), part =
//	                     fnv32(id) mod DedupeParts. At format 2: field = the
//	                     first 10 bytes of SHA-256(id); record = the digest
//	                     (a zero byte and its 8 bytes) and varints seq,
//	                     delta, balance, unix, requested points
//	                     (lua/prelude.lua, packrec): ~38 B an id in a
//	                     listpack of ~95 (the brief's 100M a day over 2^20
//	                     parts). At format 1: field = the id, value = the
//	                     text "digest seq delta balance unix points" (~67 B
//	                     an id). Both are read (HMGET of the two fields).
//	                     Expires DedupeDays+1 days after the day
//	{P}:o:ahead          the latest day an id was remembered in (days after
//	                     the clock's hold ids timed ahead of it), kept at
//	                     both formats; at format 2 the search stops there;
//	                     absent, or at format 1, it goes up to the latest
//	                     day a memory day can be. The first write records
//	                     that day when the key is absent (so a new board
//	                     searches 2 hashes a change from its second day on)
//	{P}:format           the format remembered ids and log entries are
//	                     written in: absent or 1 = text, 2 = compact (see
//	                     "Upgrading: the format gate")
//	{P}:rebuilding       lock held while a rebuild runs (pauses log trimming)
//	{P}:probe            counter Index.Confirmed increments, so its WAIT has
//	                     a write to count the replicas of
//	{P}:lease:<name>     holder of the named lease, with its TTL (the
//	                     "shipper" lease: one ledger shipper per deployment)
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
// HMGET per day searched for the id (at format 2 DedupeDays+1 days, 2 by
// default, while no id is timed ahead of the clock's day, see {P}:o:ahead;
// at format 1 DedupeDays+3), one HGET and HSET of the balance, HSET of the
// id record, XADD of the log entry (two fields; eight at format 1); per
// batch one BITFIELD per touched histogram tree (the net of all
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
// # Upgrading: the format gate
//
// The compact remembered ids and two-field log entries replaced text
// records keyed by the id and eight-field log entries. This version reads
// both, but a version before it reads neither: it would not find an id
// remembered compactly (and would apply a retry twice), and its ranker
// replicas stop at the first two-field log entry. So what is written is
// chosen by {P}:format, which every script that writes ids or log entries
// reads (apply.lua, remember.lua):
//
//   - absent or 1 (text): byte for byte what the earlier version wrote, and
//     the id search runs to the latest day a memory day can be, as the
//     earlier version's does: its writers do not keep {P}:o:ahead, so they
//     may have remembered ids on later days than it says. Old and new
//     processes may run side by side: a rolling upgrade, and a rolling
//     rollback, are safe. An existing board ({P}:seq present) stays here.
//   - 2 (compact): the dense forms above, and the search trusts
//     {P}:o:ahead. A board never written (no {P}:seq, no {P}:format) starts
//     here: its first write sets it, in the same script, so no write of
//     an earlier version can be on it (one would have set {P}:seq). The
//     first write, not Index.Check at start, decides: Check also runs for
//     read-only commands and every 30 s in the Guard, and the write
//     script sees the seq and the format atomically.
//
// The switch is an operator's (`loyalty index-format compact`,
// Index.SetFormat), once every process runs this version or later. It
// raises {P}:o:ahead to the latest day a memory day can be at that moment
// (over every day an earlier writer may have used) and sets 2 in one
// script; every process reads the key at each script call, so it takes
// effect at once. A rollback to an earlier version after it:
// `loyalty index-format text` (safe at any time: this version reads both),
// then replace processes only once the compact ids have expired (SetFormat
// answers when: DedupeDays+2 days after the switch back, plus up to an
// hour; the compact log entries have long been shipped by then); an
// earlier version started sooner, even with every process of this one
// stopped first, would not find them and could apply a retry twice. A
// board that lost its data counts as fresh (its first write sets 2): if
// processes of an earlier version still run then, set it back to text
// with the rebuild.
//
// # Exactly once
//
// The rule is stated in package ingest's documentation ("Exactly once") and
// lua/apply.lua: every remembered day is searched, whatever the change's own
// time; where the index may have forgotten an id it answers NeedLedger
// instead of guessing; a change the ledger was searched for is applied only
// if the ledger held every change the index forgot at that time.
package redisindex
