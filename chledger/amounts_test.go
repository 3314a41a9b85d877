package chledger

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
)

// TestAmountsRoundTrip stores the amounts validation accepts at its limits,
// built the way the write path builds them (ingest.Order.Validate, then
// Change with a rule), and reads them back exactly: 6 decimal places, EUR
// amounts in GBP with 12, the largest amounts, refunds, zero.
func TestAmountsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	rules := map[string]*points.Rule{}
	for _, rate := range []string{"0.851237", "9.999999", "0.000001"} {
		r, err := points.New(points.Config{EURToGBP: decimal.RequireFromString(rate)})
		if err != nil {
			t.Fatal(err)
		}
		rules[rate] = r
	}
	cases := []struct {
		amount, currency, rate string
		gbp                    string // the exact GBP amount
	}{
		{"10.0001", "GBP", "0.851237", "10.0001"},
		{"10.000001", "GBP", "0.851237", "10.000001"},
		{"0.000001", "GBP", "0.851237", "0.000001"},
		{"10000000", "GBP", "0.851237", "10000000"},
		{"-10000000", "GBP", "0.851237", "-10000000"},
		{"9999999.999999", "GBP", "0.851237", "9999999.999999"},
		{"-9999999.999999", "GBP", "0.851237", "-9999999.999999"},
		{"0", "GBP", "0.851237", "0"},
		{"17.620001", "EUR", "0.851237", "14.998796791237"},
		{"9999999.999999", "EUR", "0.851237", "8512369.999999148763"},
		{"-9999999.999999", "EUR", "9.999999", "-99999989.999990000001"}, // the largest |amount_gbp|
		{"10000000", "EUR", "9.999999", "99999990"},
		{"0.000001", "EUR", "0.000001", "0.000000000001"}, // the smallest
		{"-0.000001", "EUR", "0.000001", "-0.000000000001"},
	}
	now := day.Add(time.Hour)
	var entries []ledger.Entry
	for i, c := range cases {
		o := ingest.Order{
			ID: fmt.Sprintf("amt-%d", i), CustomerID: uint64(100 + i), Channel: ingest.ChannelWeb,
			Amount: decimal.RequireFromString(c.amount), Currency: c.currency, PurchasedAt: day,
		}
		if err := o.Validate(now); err != nil {
			t.Fatalf("%s %s: Validate = %v", c.amount, c.currency, err)
		}
		ch, err := o.Change(rules[c.rate], "test")
		if err != nil {
			t.Fatalf("%s %s: Change = %v", c.amount, c.currency, err)
		}
		if !ch.AmountGBP.Equal(decimal.RequireFromString(c.gbp)) {
			t.Fatalf("%s %s at %s = %s GBP, want %s (the table is wrong)", c.amount, c.currency, c.rate, ch.AmountGBP, c.gbp)
		}
		entries = append(entries, ledger.Entry{Change: ch, Seq: uint64(i + 1), Delta: max(ch.Points, 0), Balance: max(ch.Points, 0),
			RecordedAt: day.Add(time.Minute)})
	}
	if err := l.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	got, err := l.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range entries {
		g, ok := got[want.ID]
		switch {
		case !ok:
			t.Errorf("%s (%s %s) not found", want.ID, cases[i].amount, cases[i].currency)
		case !g.Amount.Equal(want.Amount) || !g.AmountGBP.Equal(want.AmountGBP):
			t.Errorf("%s read back as %s %s = %s GBP; stored %s = %s GBP", want.ID, g.Amount, g.Currency, g.AmountGBP, want.Amount, want.AmountGBP)
		}
		c := g.Change
		c.Seal()
		if c.Digest != want.Digest {
			t.Errorf("%s: the change read back has digest %s, want %s (a replay would conflict)", want.ID, c.Digest, want.Digest)
		}
	}

	// The text ClickHouse holds, at the columns' full scale.
	var amount, gbp string
	if err := l.conn.QueryRow(ctx, "SELECT toString(amount), toString(amount_gbp) FROM "+l.db+".ledger WHERE seq = 11").
		Scan(&amount, &gbp); err != nil {
		t.Fatal(err)
	}
	if amount != "-9999999.999999" || gbp != "-99999989.999990000001" {
		t.Errorf("seq 11 stored as %s, %s; want -9999999.999999, -99999989.999990000001", amount, gbp)
	}
}

// TestAppendRefusesInexact checks the last line of defence: an entry that
// validation should have refused is not sent (the driver would drop the
// extra decimal places), and the error names the entry and the field.
func TestAppendRefusesInexact(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	gbp := func(e ledger.Entry, s string) ledger.Entry {
		e.AmountGBP = decimal.RequireFromString(s)
		return e
	}
	zeroTime := entry(2, 1, "10", 1, 1, "web")
	zeroTime.OccurredAt = time.Time{}
	for _, tt := range []struct {
		e    ledger.Entry
		want string
	}{
		{entry(2, 1, "10.0000001", 1, 1, "web"), "entry seq 2 (change o-2): invalid ledger entry: amount 10.0000001 does not fit Decimal(18, 6)"},
		{entry(2, 1, "1000000000000", 1, 1, "web"), "amount 1000000000000 does not fit Decimal(18, 6)"},
		{entry(2, 1, "-1000000000000", 1, 1, "web"), "amount -1000000000000 does not fit Decimal(18, 6)"},
		{gbp(entry(2, 1, "10", 1, 1, "web"), "8.5000000000001"), "amount_gbp 8.5000000000001 does not fit Decimal(38, 12)"},
		{gbp(entry(2, 1, "10", 1, 1, "web"), "1e26"), "does not fit Decimal(38, 12)"},
		{zeroTime, "occurred_at"},
	} {
		// A good entry first: nothing of the batch may be stored.
		err := l.Append(ctx, []ledger.Entry{entry(1, 1, "10", 1, 1, "web"), tt.e})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Append = %v, want ErrInvalid saying %q", err, tt.want)
		}
	}
	// The largest values of the columns do fit.
	edge := gbp(entry(1, 1, "999999999999.999999", 1, 1, "web"), "-99999999999999.999999999999")
	if err := l.Append(ctx, []ledger.Entry{edge}); err != nil {
		t.Fatalf("Append at the columns' limits: %v", err)
	}
	got, err := l.Lookup(ctx, []string{"o-1"})
	if err != nil {
		t.Fatal(err)
	}
	if g := got["o-1"]; !g.Amount.Equal(edge.Amount) || !g.AmountGBP.Equal(edge.AmountGBP) {
		t.Errorf("read back %s, %s; want %s, %s", g.Amount, g.AmountGBP, edge.Amount, edge.AmountGBP)
	}
	if seq, err := l.MaxSeq(ctx); err != nil || seq != 1 {
		t.Errorf("MaxSeq = %d, %v; want 1 (only the entry at the limits stored)", seq, err)
	}
}

// TestAppendRefusesUnmigrated checks that Append does not write into amount
// columns of the old, narrower types (the driver would round to them): it
// says to migrate, and the error is not ErrInvalid (no entry is at fault).
func TestAppendRefusesUnmigrated(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	if err := l.conn.Exec(ctx, "ALTER TABLE "+l.db+".ledger MODIFY COLUMN amount Decimal(18, 3)"); err != nil {
		t.Fatal(err)
	}
	err := l.Append(ctx, []ledger.Entry{entry(1, 1, "10.0001", 1, 1, "web")})
	if err == nil || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "loyalty migrate") ||
		!strings.Contains(err.Error(), "amount is Decimal(18, 3), want Decimal(18, 6)") {
		t.Fatalf("Append into Decimal(18, 3) = %v; want an error saying to migrate, not ErrInvalid", err)
	}
	if seq, err := l.MaxSeq(ctx); err != nil || seq != 0 {
		t.Fatalf("MaxSeq = %d, %v; want 0 (nothing stored)", seq, err)
	}
	if err := l.conn.Exec(ctx, "ALTER TABLE "+l.db+".ledger MODIFY COLUMN amount Decimal(18, 6)"); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, []ledger.Entry{entry(1, 1, "10.0001", 1, 1, "web")}); err != nil {
		t.Fatalf("Append after the migration: %v", err)
	}
}
