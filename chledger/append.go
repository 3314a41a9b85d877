package chledger

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ledger"
)

// entryColumns are the ledger columns an Entry maps to, in the order of
// Append's columns and scanEntry's destinations. inserted_at is left to its
// default.
const entryColumns = "seq, change_id, customer_id, cause, points, delta, balance, channel, store_id, " +
	"amount, currency, amount_gbp, item_ids, reason, actor, digest, occurred_at, recorded_at, season, season_delta, season_balance"

// The ledger's amount columns (schema migration 0004). Validation
// (ingest.Order.Validate, points.New) keeps amounts to 6 decimal places and
// 10^7, EUR rates to 6 places, so every accepted amount_gbp has at most 12:
// both fit with room to spare. Append checks each entry against these types
// and the server's columns against them.
var (
	amountCol    = decimalType{"amount", 18, 6}
	amountGBPCol = decimalType{"amount_gbp", 38, 12}
	minTime      = time.Unix(1, 0)
	maxTime      = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
)

// decimalType is a Decimal(precision, scale) column.
type decimalType struct {
	name             string
	precision, scale int32
}

func (d decimalType) String() string { return fmt.Sprintf("Decimal(%d, %d)", d.precision, d.scale) }

// fits reports whether v is stored exactly: no more decimal places than the
// scale, and |v| < 10^(precision-scale). (The driver would drop extra places
// without a word.)
func (d decimalType) fits(v decimal.Decimal) bool {
	return v.Equal(v.Truncate(d.scale)) && v.Abs().LessThan(decimal.New(1, d.precision-d.scale))
}

// Append stores entries in one batch insert. Sending entries that are already
// stored (a retried batch) is harmless: reads deduplicate by seq. An entry the
// ledger can't store exactly is refused with ErrInvalid and nothing is sent.
func (l *Ledger) Append(ctx context.Context, entries []ledger.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	var (
		seq, customer                  = make([]uint64, n), make([]uint64, n)
		points, delta, balance         = make([]int64, n), make([]int64, n), make([]int64, n)
		changeID, cause, channel       = make([]string, n), make([]string, n), make([]string, n)
		store, currency, reason, actor = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		digest                         = make([]string, n)
		amount, amountGBP              = make([]decimal.Decimal, n), make([]decimal.Decimal, n)
		items                          = make([][]string, n)
		occurred, recorded             = make([]time.Time, n), make([]time.Time, n)
		season                         = make([]string, n)
		seasonDelta, seasonBalance     = make([]int64, n), make([]int64, n)
	)
	for i := range entries {
		e := &entries[i]
		if err := storable(e); err != nil {
			return fmt.Errorf("chledger: append entry seq %d (change %s): %w: %s", e.Seq, e.ID, ErrInvalid, err)
		}
		seq[i], changeID[i], customer[i], cause[i] = e.Seq, e.ID, e.CustomerID, string(e.Cause)
		points[i], delta[i], balance[i] = e.Points, e.Delta, e.Balance
		channel[i], store[i], currency[i], reason[i], actor[i], digest[i] = e.Channel, e.StoreID, e.Currency, e.Reason, e.Actor, e.Digest
		amount[i], amountGBP[i] = e.Amount, e.AmountGBP
		items[i] = e.ItemIDs
		if items[i] == nil {
			items[i] = []string{}
		}
		occurred[i], recorded[i] = e.OccurredAt.UTC(), e.RecordedAt.UTC()
		season[i], seasonDelta[i], seasonBalance[i] = e.Season, e.SeasonDelta, e.SeasonBalance
	}

	ctx, cancel := context.WithTimeout(ctx, l.cfg.QueryTimeout)
	defer cancel()
	op := fmt.Sprintf("append %d entries (seq %d..%d)", n, entries[0].Seq, entries[n-1].Seq)
	b, err := l.conn.PrepareBatch(ctx, "INSERT INTO "+l.db+".ledger ("+entryColumns+")")
	if err != nil {
		return l.wrap(ctx, op, err)
	}
	defer b.Close()
	if err := checkColumns(b.Columns()); err != nil {
		return fmt.Errorf("chledger: %s: %w", op, err)
	}
	for i, col := range []any{seq, changeID, customer, cause, points, delta, balance, channel, store,
		amount, currency, amountGBP, items, reason, actor, digest, occurred, recorded, season, seasonDelta, seasonBalance} {
		if err := b.Column(i).Append(col); err != nil {
			return l.wrap(ctx, op, err)
		}
	}
	if err := b.Send(); err != nil {
		return l.wrap(ctx, op, err)
	}
	return nil
}

// storable says why e can't be stored exactly, or returns nil.
func storable(e *ledger.Entry) error {
	switch {
	case e.Seq == 0:
		return fmt.Errorf("seq 0: sequence numbers start at 1")
	case !amountCol.fits(e.Amount):
		return fmt.Errorf("amount %s does not fit %s", e.Amount, amountCol)
	case !amountGBPCol.fits(e.AmountGBP):
		return fmt.Errorf("amount_gbp %s does not fit %s", e.AmountGBP, amountGBPCol)
	case e.OccurredAt.Before(minTime) || e.OccurredAt.After(maxTime):
		return fmt.Errorf("occurred_at %s outside DateTime's range", e.OccurredAt.Format(time.RFC3339))
	case e.RecordedAt.Before(minTime) || e.RecordedAt.After(maxTime):
		return fmt.Errorf("recorded_at %s outside DateTime's range", e.RecordedAt.Format(time.RFC3339))
	}
	return nil
}

// checkColumns refuses to insert into a ledger whose amount columns are not
// the types storable checked against (a database not migrated to 0004): the
// driver would round 10.0001 to 10.000 without a word. Not ErrInvalid: no
// entry is at fault, and once the schema is migrated the same batch goes in.
func checkColumns(cols []column.Interface) error {
	for _, want := range []decimalType{amountCol, amountGBPCol} {
		for _, c := range cols {
			if c.Name() == want.name && string(c.Type()) != want.String() {
				return fmt.Errorf("ledger column %s is %s, want %s: run `loyalty migrate` (schema migration 0004)", want.name, c.Type(), want)
			}
		}
	}
	return nil
}
