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
// recreates Redis from it (Rebuild) and `loyalty reconcile` compares the two
// (Reconcile).
//
// How a crash heals: a change is acknowledged only after the script ran, so
// it is in the Redis log; if the process dies before shipping, the next
// shipper round (any process holding the lease) ships it. If ClickHouse is
// down, the log grows in Redis and nothing is lost.
//
// # Exactly once
//
// Every change has an id: the order id, "manual:" + the idempotency key of a
// manual insert, or "orderId#n" for an order's n-th correction. The first
// change under an id applies; the same id with the same content (the digest
// of everything but the actor) answers the original result (Replayed); with
// other content it is a conflict (ledger.ErrConflict) and applies nothing.
// This holds inside one batch, across processes, across retries at any time
// and whatever the clocks say. The rule, as the Redis index keeps it (the
// embedded store remembers every id for ever, so it needs none of this):
//
//   - The index has its own clock: Redis's TIME, never behind the largest
//     time it saw before (a failover to a server whose clock is behind does
//     not turn days back). A change whose time of purchase is more than
//     redisindex.Config.MaxAhead (25 h: validation's 24 h plus an hour of
//     skew between the API's and Redis's clocks) past that clock is refused.
//   - An applied id is remembered in a hash of its memory day: the day of the
//     later of its time of purchase and the index's clock at application. A
//     day's hash lives until DedupeDays days after that day have passed.
//   - Every remembered day is searched for every change, from the window's
//     first day to the latest day a memory day can be now (so an order dated
//     ahead is found, however far ahead within the accepted range).
//   - An id not found whose time of purchase is on or after the window's
//     first day was never applied: its memory day would have been searched.
//     One dated earlier, or with no time that bounds its application (manual
//     inserts and corrections carry the time of the request), may have been
//     forgotten: the index stops there and Writer searches the ClickHouse
//     ledger (and the dead letters) for it and the changes after it. Found,
//     it is a replay or a conflict; not found, Writer sends it again marked
//     "checked at shipped mark S", and the index applies it only if every
//     change it has forgotten is at or below S (the first log entry after S
//     is still inside its memory): the ledger held them all when searched.
//
// So a retry is decided by Redis alone when its order is recent (the usual
// case: no ClickHouse call), by the ledger when it is older, and never by
// the sender's clock. Manual inserts and corrections are decided by the
// ledger unless Redis still remembers them: they need ClickHouse, orders do
// not. internal/writecontract holds every store to this contract.
//
// # Limits
//
// What an order is (Order.Validate, used by the API and both POS formats):
// an id of 1-64 letters, digits or . _ : / - (not "manual:..."), a customer
// id up to 2^53-1, channel web, app or store (a store id for stores), an
// amount of at most MaxAmountScale decimal places and MaxAmount in absolute
// value, GBP or EUR, at most MaxItems item ids, a time of purchase from
// EarliestPurchase to MaxAhead past the server's clock. A balance never goes
// below zero: a refund removes at most what the balance holds (the ledger
// records the delta applied). A manual deduction larger than the balance is
// refused (ledger.ErrInsufficient). No balance exceeds histogram.MaxPoints.
//
// # Corrections
//
// An order applied with wrong content is corrected on purpose, never by
// sending other content under its id (a conflict): Writer.Correct (PUT
// /order/{orderId}, `loyalty ingest --corrections`) takes the whole
// corrected order, reads the order's history (the original and earlier
// corrections, from the index and the ledger) and applies the difference
// between the corrected order's points and the points the order stands at
// as a new change "orderId#n" (cause correction, the corrected content,
// floored at zero like a refund). The ledger keeps the original and every
// correction. The same correction sent again is a replay; two different
// corrections racing for the same n: one applies, the other is a conflict.
// The customer of an order can't be corrected (refund it, send a new one).
//
// # Dead letters
//
// No single entry can stop the ledger. When ClickHouse refuses a batch's
// data (an error of the class ledger.ErrInvalid, chledger.ErrInvalid: a
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
// the source of truth). Pending or dropped, a dead letter's change id stays
// known: the Writer looks old ids up among the dead letters before the
// ledger (WithDeadLetters), so an order resent after the index forgot its id
// is a replay, never applied twice.
package ingest
