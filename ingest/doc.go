// Package ingest is how orders come in: the order model and its validation,
// the one write path every channel uses (Writer: the points rule, then
// exactly-once application to the index, which queues the ledger entry), and
// the Shipper that moves applied entries into the ClickHouse ledger. The POS
// file parsers are in ingest/posfile.
//
// # The write path and its source of truth
//
// Redis (with its append-only file, appendfsync always) is the point where
// every change is decided: one Lua script checks the change id, moves the
// balance (never below zero), updates the histogram, takes the next seq and
// appends the ledger entry to the change log, atomically. The ClickHouse
// ledger is the durable record and the source of truth for the balances: the
// Shipper copies the log into it in batches of up to 10,000 rows, keyed by
// seq, so a batch sent twice after a crash is stored once; `loyalty rebuild`
// recreates Redis from it and `loyalty reconcile` compares the two.
//
// How a crash heals: a change is acknowledged only after the script ran, so
// it is in the Redis log; if the process dies before shipping, the next
// shipper round (any process holding the lease) ships it. If ClickHouse is
// down, the log grows in Redis and nothing is lost. A retried order finds its
// id in Redis (remembered DedupeDays days after it was applied) or, for an
// order that happened earlier than that, in the ledger (Writer looks those up
// first), and returns the original result.
package ingest
