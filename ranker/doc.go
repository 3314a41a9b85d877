// Package ranker answers dashboards: the customer's points and rank, how
// many share them, the top N and the K customers just above and below, as
// one consistent snapshot.
//
// Board is the in-memory board: balances in a compact hash table, the
// two-level score histogram (package histogram's Counts) for ranks by prefix
// sums, and for each score the customers in tie-break order, customer id
// ascending, in sorted blocks. A dashboard is a handful of prefix sums and
// block walks under a read lock, never a scan.
//
// A dashboard also says how far the customer is from a better place
// (NextRank, ToTop) and how good theirs is (TopPercent), from what it
// already holds: Me's rank and points, the tie count and the top N. Staff
// page through a board (Board.Page: the score at a position by prefix sums,
// then the tie groups) and describe it (Board.Distribution: counts per
// log-spaced score range and exact quantiles); Replica.Leaderboard and
// Local.Leaderboard give them the board to read.
//
// In embedded mode the Board is the index itself (ranker.Local). With Redis,
// every API process keeps a Replica: a snapshot of the balances, then every
// change from the Redis change log. A dashboard asks the primary for the
// latest seq (one GET shared by every dashboard waiting at that moment),
// waits until the replica has applied it, and answers from memory, so a
// customer always sees their own last purchase.
//
// Cold start: the snapshot comes from Source.Scan in ascending customer id
// order (package histogram/redisindex reads the balance hashes over several
// connections), so the board is built in bulk rather than customer by
// customer: each tie group filled block by block, the histogram added once
// per score, the balance table filled in slot order (loader). The board is
// the Redis balances as of the seq read before the scan, give or take the
// changes made during it, which the change log then applies again from that
// seq (balances are absolute, so applying one twice changes nothing).
//
// High availability: when the primary does not answer that GET within
// HeadTimeout (down, stopped, failing over), the dashboard is answered from
// what the board has applied, marked Stale, with the seq and time of its last
// change; the replica stays Ready while it has read the change log within
// MaxStaleness, and fresh answers resume by themselves. Before the first
// board is loaded, dashboards come from the Redis histogram (exact points and
// rank, no neighbours), marked Partial. Before applying new log entries the
// replica checks that the log still holds the last entry it applied, as
// applied: after a failover to a server that was behind, seqs are taken
// again for other changes, and the board reloads instead of mixing two
// histories.
package ranker
