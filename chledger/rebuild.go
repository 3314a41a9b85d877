package chledger

import (
	"context"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// BalancesUpTo calls fn with every customer's balance as the sum of their
// deltas over entries with seq <= upTo (copies counted once), in ascending
// customer id order, zeros included: what the Redis index is rebuilt from
// and reconciled against. Streamed; bounded by Config.ScanTimeout.
func (l *Ledger) BalancesUpTo(ctx context.Context, upTo uint64, fn func(customerID uint64, balance int64) error) error {
	return l.scanBalances(ctx, "balances up to seq", fn, "SELECT customer_id, sum(delta) FROM (SELECT customer_id, seq, any(delta) AS delta FROM "+
		l.db+".ledger_by_customer WHERE seq <= ? GROUP BY customer_id, seq) GROUP BY customer_id ORDER BY customer_id", upTo)
}

// Since returns every entry recorded at or after t (copies once), oldest
// first: the change ids the Redis index must remember after losing its data.
func (l *Ledger) Since(ctx context.Context, t time.Time) ([]ledger.Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ScanTimeout)
	defer cancel()
	rows, err := l.conn.Query(ctx, "SELECT "+entryColumns+" FROM "+l.db+".ledger WHERE recorded_at >= ? ORDER BY seq LIMIT 1 BY seq", t.UTC())
	if err != nil {
		return nil, l.wrap(ctx, "entries since", err)
	}
	defer rows.Close()
	var out []ledger.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, l.wrap(ctx, "entries since", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(ctx, "entries since", err)
	}
	return out, nil
}

// SeasonBalancesUpTo calls fn with every customer's balance on the board of
// season name as of seq upTo (the sum of their season deltas, copies
// counted once), in ascending customer id order, zeros included.
// Streamed; bounded by Config.ScanTimeout.
func (l *Ledger) SeasonBalancesUpTo(ctx context.Context, name string, upTo uint64, fn func(customerID uint64, balance int64) error) error {
	return l.scanBalances(ctx, "season "+name+" balances up to seq", fn, "SELECT customer_id, sum(sd) FROM (SELECT customer_id, seq, any(season_delta) AS sd FROM "+
		l.db+".ledger WHERE season = ? AND seq <= ? GROUP BY customer_id, seq) GROUP BY customer_id ORDER BY customer_id", name, upTo)
}

// Seasons returns the names of the seasons the ledger holds changes of,
// ascending.
func (l *Ledger) Seasons(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ScanTimeout)
	defer cancel()
	rows, err := l.conn.Query(ctx, "SELECT DISTINCT season FROM "+l.db+".ledger WHERE season != '' ORDER BY season")
	if err != nil {
		return nil, l.wrap(ctx, "seasons", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, l.wrap(ctx, "seasons", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(ctx, "seasons", err)
	}
	return out, nil
}
