package chledger

import (
	"context"
	"fmt"

	"github.com/xyz/loyalty/ledger"
)

// historyColumns are the ledger columns HistoryPage reads, in the order of
// its Scan.
const historyColumns = "seq, change_id, customer_id, cause, points, delta, balance, channel, store_id, " +
	"amount, currency, reason, occurred_at, recorded_at"

// HistoryPage returns up to limit of one customer's entries with a seq below
// before (before 0: no bound), newest first: one page of the customer's
// history, the next page starting below the last seq returned.
//
// The entries carry what a history shows: every field but ItemIDs,
// AmountGBP, Actor and Digest, which are not read (item_ids is the widest
// column).
//
// Both reads use a primary key: ledger_by_customer, sorted by (customer_id,
// seq), gives the page's seqs from the customer's own range, and the ledger,
// sorted by seq, gives their rows: about one granule (8,192 rows) per
// entry, whatever the size of the ledger, where filtering the ledger on
// customer_id would read that column whole. Copies of an entry (a re-sent
// batch) count once.
func (l *Ledger) HistoryPage(ctx context.Context, customerID, before uint64, limit int) ([]ledger.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before == 0 {
		before = ^uint64(0)
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.QueryTimeout)
	defer cancel()
	op := fmt.Sprintf("history of customer %d before seq %d", customerID, before)
	rows, err := l.conn.Query(ctx, "SELECT "+historyColumns+" FROM "+l.db+".ledger"+
		" WHERE seq IN (SELECT DISTINCT seq FROM "+l.db+".ledger_by_customer"+
		" WHERE customer_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?)"+
		" AND customer_id = ? ORDER BY seq DESC LIMIT 1 BY seq", customerID, before, limit, customerID)
	if err != nil {
		return nil, l.wrap(ctx, op, err)
	}
	defer rows.Close()
	out := make([]ledger.Entry, 0, limit)
	for rows.Next() {
		var (
			e     ledger.Entry
			cause string
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.CustomerID, &cause, &e.Points, &e.Delta, &e.Balance, &e.Channel, &e.StoreID,
			&e.Amount, &e.Currency, &e.Reason, &e.OccurredAt, &e.RecordedAt); err != nil {
			return nil, l.wrap(ctx, op, err)
		}
		e.Cause = ledger.Cause(cause)
		e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(ctx, op, err)
	}
	return out, nil
}
