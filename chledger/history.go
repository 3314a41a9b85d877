package chledger

import (
	"context"
	"fmt"

	"github.com/xyz/loyalty/ledger"
)

// HistoryPage returns up to limit of one customer's entries with a seq below
// before (before 0: no bound), newest first: one page of the customer's
// history, the next page starting below the last seq returned.
//
// Both reads use a primary key: ledger_by_customer, sorted by (customer_id,
// seq), gives the page's seqs from the customer's own range, and the ledger,
// sorted by seq, gives their rows. Copies of an entry (a re-sent batch)
// count once.
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
	rows, err := l.conn.Query(ctx, "SELECT "+entryColumns+" FROM "+l.db+".ledger"+
		" WHERE seq IN (SELECT DISTINCT seq FROM "+l.db+".ledger_by_customer"+
		" WHERE customer_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?)"+
		" AND customer_id = ? ORDER BY seq DESC LIMIT 1 BY seq", customerID, before, limit, customerID)
	if err != nil {
		return nil, l.wrap(ctx, op, err)
	}
	defer rows.Close()
	out := make([]ledger.Entry, 0, limit)
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, l.wrap(ctx, op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(ctx, op, err)
	}
	return out, nil
}
