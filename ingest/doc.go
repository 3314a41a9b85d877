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
//
// # Dead letters
//
// No single entry can stop the ledger. When ClickHouse refuses a batch's
// data (an error whose Refused method answers true, chledger.ErrInvalid: a
// value it can't store, which validation should have kept out), the Shipper
// appends each half of the batch in turn, down to the single entries it
// refuses (about 2*log2(n) inserts per bad entry), sets each of those aside
// in the dead-letter store (Redis, {P}:dead, with the full entry, the reason
// and the time), logs one error and counts it (loyalty_ledger_dead_letters,
// loyalty_ledger_dead_lettered_total), and ships the rest. A change log entry
// that can't even be decoded is set aside the same way, with its raw fields.
// An outage (ErrUnavailable) or a server error that blames no value (a
// schema not migrated) is never a dead letter: the Shipper retries with
// backoff and nothing moves.
//
// The shipped mark passes an entry only once it is in the ledger or in the
// store; setting aside is idempotent by seq, so a crash between setting
// aside and marking sets nothing aside twice (and logs it once). A dead
// letter's change stays applied in Redis: the customer's balance holds it,
// the ledger does not. `loyalty reconcile` fails (exit 4) while any is
// pending, and `loyalty rebuild` refuses to run (it would take the points
// off). The operator lists them (`loyalty deadletters`), fixes the cause and
// retries them (`loyalty deadletters retry [SEQ...]`, Shipper.RetryDeadLetters:
// a letter leaves the store only once its entry is in the ledger), or drops
// one that can never be stored (`loyalty deadletters drop SEQ --reason
// TEXT`): a dropped letter is kept apart with the reason, never shipped, and
// its points leave the balance at the next `loyalty rebuild` (the ledger is
// the source of truth).
package ingest
