package chledger

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// TestHistoryPage pages through customers' histories with several page
// sizes, over a ledger written in batches of which some were sent twice,
// and compares every page with the entries filtered and sorted by hand.
func TestHistoryPage(t *testing.T) {
	t.Parallel()
	ctx, l, srv := openOwn(t)
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	const customers = 4
	var all []ledger.Entry
	bal := map[uint64]int64{}
	for seq := uint64(1); seq <= 60; seq++ {
		c := uint64(r.IntN(customers) + 1)
		d := int64(r.IntN(20) + 1)
		amount := "15.00"
		if bal[c] > 0 && r.IntN(4) == 0 {
			d, amount = -min(d, bal[c]), "-15.00"
		}
		bal[c] += d
		e := entry(seq, c, amount, d, bal[c], []string{"web", "app", "store"}[r.IntN(3)])
		if r.IntN(5) == 0 {
			e.ID, e.Cause, e.Reason, e.Channel, e.StoreID = "manual:k"+e.ID, ledger.CauseManual, "goodwill", "", ""
			e.Amount, e.AmountGBP, e.Currency, e.ItemIDs = e.Amount.Sub(e.Amount), e.AmountGBP.Sub(e.AmountGBP), "", nil
			e.Seal()
		}
		all = append(all, e)
	}
	for i := 0; i < len(all); i += 7 {
		batch := all[i:min(i+7, len(all))]
		if err := l.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 { // a re-sent batch: its entries must count once
			if err := l.Append(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	for c := uint64(1); c <= customers+1; c++ {
		var want []ledger.Entry
		for _, e := range slices.Backward(all) {
			if e.CustomerID == c {
				want = append(want, e)
			}
		}
		for _, limit := range []int{1, 3, 7, 100} {
			var got []ledger.Entry
			before := uint64(0)
			for pages := 0; ; pages++ {
				page, err := l.HistoryPage(ctx, c, before, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("customer %d limit %d: page of %d entries", c, limit, len(page))
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				before = page[len(page)-1].Seq
				if pages > len(all) {
					t.Fatalf("customer %d limit %d: pages never end", c, limit)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("customer %d limit %d: %d entries %v, want %d %v", c, limit, len(got), seqs(got), len(want), seqs(want))
			}
			for i := range want {
				w, g := want[i], got[i]
				if g.Seq != w.Seq || g.ID != w.ID || g.Cause != w.Cause || g.Delta != w.Delta || g.Balance != w.Balance ||
					g.Channel != w.Channel || g.StoreID != w.StoreID || g.Reason != w.Reason || !g.Amount.Equal(w.Amount) ||
					!g.OccurredAt.Equal(w.OccurredAt) || !g.RecordedAt.Equal(w.RecordedAt) || g.Points != w.Points ||
					g.Currency != w.Currency || g.CustomerID != w.CustomerID {
					t.Fatalf("customer %d limit %d entry %d:\n got %+v\nwant %+v", c, limit, i, g, w)
				}
			}
		}
	}
	if page, err := l.HistoryPage(ctx, 1, 1, 10); err != nil || len(page) != 0 {
		t.Fatalf("before the first seq: %v, %v; want nothing", seqs(page), err)
	}
	srv.Stop()
	if _, err := l.HistoryPage(ctx, 1, 0, 10); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("with the server down: %v, want ErrUnavailable", err)
	}
}

// BenchmarkHistoryPage reads a page of 20 entries of a random customer from a
// ledger of 1M entries of 100k customers: through ledger_by_customer (the
// primary keys), and, for comparison, by filtering the ledger on customer_id
// (a scan of the whole table).
func BenchmarkHistoryPage(b *testing.B) {
	ctx, l, _ := open(b)
	const entries, customers, batch = 1_000_000, 100_000, 20_000
	r := rand.New(rand.NewPCG(1, 2))
	bal := make([]int64, customers+1)
	es := make([]ledger.Entry, 0, batch)
	for seq := uint64(1); seq <= entries; seq++ {
		c := uint64(r.IntN(customers) + 1)
		bal[c] += 3
		es = append(es, entry(seq, c, "30.00", 3, bal[c], "web"))
		if len(es) == batch {
			if err := l.Append(ctx, es); err != nil {
				b.Fatal(err)
			}
			es = es[:0]
		}
	}
	for _, table := range []string{"ledger", "ledger_by_customer"} { // steady state: parts merged
		if err := l.conn.Exec(ctx, "OPTIMIZE TABLE "+l.db+"."+table+" FINAL"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("by_customer", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.HistoryPage(ctx, uint64(r.IntN(customers)+1), 0, 20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			rows, err := l.conn.Query(ctx, "SELECT "+historyColumns+" FROM "+l.db+".ledger WHERE customer_id = ? ORDER BY seq DESC LIMIT 20",
				uint64(r.IntN(customers)+1))
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
}
