package chledger

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/xyz/loyalty/ledger"
)

// Bounds of one Lookup query: the ids are sent in the query text, which
// ClickHouse limits to max_query_size (256 KiB by default).
const (
	lookupMaxIDs   = 2000
	lookupMaxBytes = 128 << 10
)

// Lookup returns the entries recorded for these change ids, keyed by change
// id; ids never applied are absent. Should a change id have been recorded
// under two seqs, the first is returned.
func (l *Ledger) Lookup(ctx context.Context, changeIDs []string) (map[string]ledger.Entry, error) {
	found := make(map[string]ledger.Entry, len(changeIDs))
	seen := make(map[string]bool, len(changeIDs))
	var chunk []any
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := l.lookup(ctx, chunk, found)
		chunk, size = chunk[:0], 0
		return err
	}
	for _, id := range changeIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		chunk = append(chunk, id)
		size += len(id) + 4
		if len(chunk) >= lookupMaxIDs || size >= lookupMaxBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return found, nil
}

func (l *Ledger) lookup(ctx context.Context, ids []any, found map[string]ledger.Entry) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.QueryTimeout)
	defer cancel()
	op := fmt.Sprintf("lookup %d change ids", len(ids))
	// ledger_by_change is sorted by change_id, the ledger by seq: both reads
	// use the primary key. GroupSet renders ('a', 'b'): 18.16 refuses an
	// array on the right of IN.
	rows, err := l.conn.Query(ctx, "SELECT "+entryColumns+" FROM "+l.db+".ledger"+
		" WHERE seq IN (SELECT seq FROM "+l.db+".ledger_by_change WHERE change_id IN ?)"+
		" ORDER BY seq LIMIT 1 BY seq", clickhouse.GroupSet{Value: ids})
	if err != nil {
		return l.wrap(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return l.wrap(ctx, op, err)
		}
		if _, ok := found[e.ID]; !ok {
			found[e.ID] = e
		}
	}
	if err := rows.Err(); err != nil {
		return l.wrap(ctx, op, err)
	}
	return nil
}

// MaxSeq returns the highest seq stored, 0 for an empty ledger. The shipper
// resumes after it.
func (l *Ledger) MaxSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.QueryTimeout)
	defer cancel()
	var seq uint64
	if err := l.conn.QueryRow(ctx, "SELECT max(seq) FROM "+l.db+".ledger").Scan(&seq); err != nil {
		return 0, l.wrap(ctx, "max seq", err)
	}
	return seq, nil
}

// Balances calls fn with every customer's balance after their latest entry
// (highest seq), in ascending customer id order, zeros included. Rows are
// streamed from the server block by block, never all held in memory. An error
// from fn stops the scan and is returned wrapped. The whole call is bounded
// by Config.ScanTimeout.
func (l *Ledger) Balances(ctx context.Context, fn func(customerID uint64, balance int64) error) error {
	return l.scanBalances(ctx, "balances", fn, "SELECT customer_id, argMax(balance, seq) FROM "+l.db+".ledger"+
		" GROUP BY customer_id ORDER BY customer_id")
}

// scanBalances runs query, whose rows are (customer id, balance), and calls
// fn with each row as the server streams them, within Config.ScanTimeout.
// An error from fn stops the scan and is returned wrapped; op names the
// read in errors.
func (l *Ledger) scanBalances(ctx context.Context, op string, fn func(customerID uint64, balance int64) error, query string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ScanTimeout)
	defer cancel()
	rows, err := l.conn.Query(ctx, query, args...)
	if err != nil {
		return l.wrap(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			customer uint64
			balance  int64
		)
		if err := rows.Scan(&customer, &balance); err != nil {
			return l.wrap(ctx, op, err)
		}
		if err := fn(customer, balance); err != nil {
			cancel() // so Close drops the rest of the stream instead of reading it
			return fmt.Errorf("chledger: %s: customer %d: %w", op, customer, err)
		}
	}
	if err := rows.Err(); err != nil {
		return l.wrap(ctx, op, err)
	}
	return nil
}

// Balance returns one customer's balance after their latest entry, 0 for a
// customer with no entries.
func (l *Ledger) Balance(ctx context.Context, customerID uint64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.QueryTimeout)
	defer cancel()
	var balance int64
	err := l.conn.QueryRow(ctx, "SELECT argMax(balance, seq) FROM "+l.db+".ledger_by_customer WHERE customer_id = ?",
		customerID).Scan(&balance)
	if err != nil {
		return 0, l.wrap(ctx, fmt.Sprintf("balance of customer %d", customerID), err)
	}
	return balance, nil
}

// History returns up to limit of one customer's entries, newest first.
func (l *Ledger) History(ctx context.Context, customerID uint64, limit int) ([]ledger.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.QueryTimeout)
	defer cancel()
	op := fmt.Sprintf("history of customer %d", customerID)
	rows, err := l.conn.Query(ctx, "SELECT "+entryColumns+" FROM "+l.db+".ledger"+
		" WHERE seq IN (SELECT DISTINCT seq FROM "+l.db+".ledger_by_customer WHERE customer_id = ?"+
		" ORDER BY seq DESC LIMIT ?) ORDER BY seq DESC LIMIT 1 BY seq", customerID, limit)
	if err != nil {
		return nil, l.wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []ledger.Entry
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

// scanEntry reads one row of entryColumns.
func scanEntry(rows driver.Rows) (ledger.Entry, error) {
	var (
		e     ledger.Entry
		cause string
	)
	err := rows.Scan(&e.Seq, &e.ID, &e.CustomerID, &cause, &e.Points, &e.Delta, &e.Balance, &e.Channel, &e.StoreID,
		&e.Amount, &e.Currency, &e.AmountGBP, &e.ItemIDs, &e.Reason, &e.Actor, &e.Digest, &e.OccurredAt, &e.RecordedAt,
		&e.Season, &e.SeasonDelta, &e.SeasonBalance)
	e.Cause = ledger.Cause(cause)
	e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
	return e, err
}
