package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// TestHistoryPage pages through customers' histories with several page
// sizes and compares every page with the applied entries filtered and
// sorted by hand, before and after a restart. Customer ids that are
// prefixes of each other (1, 12, 123) and a reason quoting another
// customer's line must not mix histories.
func TestHistoryPage(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	customers := []uint64{1, 12, 123, 9007199254740991}
	var applied []ledger.Entry
	for batch := range 20 {
		var cs []ledger.Change
		for i := range r.IntN(6) + 1 {
			c := change(fmt.Sprintf("o%d-%d", batch, i), customers[r.IntN(len(customers))], int64(r.IntN(30)-8))
			if r.IntN(6) == 0 {
				c.ID, c.Cause, c.Points = "manual:m"+c.ID, ledger.CauseManual, int64(r.IntN(9)+1)
				c.Reason = `goodwill "customer_id":1, said the note`
				c.Seal()
			}
			cs = append(cs, c)
		}
		out, err := s.Apply(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Err == nil && !o.Replayed {
				applied = append(applied, o.Entry)
			}
		}
	}
	check := func(s *Store) {
		t.Helper()
		for _, c := range append(customers, 2) {
			var want []ledger.Entry
			for _, e := range slices.Backward(applied) {
				if e.CustomerID == c {
					want = append(want, e)
				}
			}
			for _, limit := range []int{1, 2, 5, 1000} {
				var got []ledger.Entry
				for before := uint64(0); ; {
					page, err := s.HistoryPage(ctx, c, before, limit)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, page...)
					if len(page) < limit {
						break
					}
					before = page[len(page)-1].Seq
				}
				if len(got) != len(want) {
					t.Fatalf("customer %d limit %d: %d entries, want %d", c, limit, len(got), len(want))
				}
				for i := range want {
					if got[i].Seq != want[i].Seq || got[i].ID != want[i].ID || got[i].Delta != want[i].Delta ||
						got[i].Balance != want[i].Balance || got[i].Reason != want[i].Reason {
						t.Fatalf("customer %d limit %d entry %d:\n got %+v\nwant %+v", c, limit, i, got[i], want[i])
					}
				}
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}

// BenchmarkHistoryPage reads a page of 20 entries of a random customer from
// a ledger file of 1M entries of 100k customers (the whole file is read on
// every call).
func BenchmarkHistoryPage(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const entries, customers, batch = 1_000_000, 100_000, 20_000
	r := rand.New(rand.NewPCG(1, 2))
	cs := make([]ledger.Change, 0, batch)
	for i := range entries {
		cs = append(cs, change(fmt.Sprintf("o%d", i), uint64(r.IntN(customers)+1), 3))
		if len(cs) == batch {
			if _, err := s.Apply(context.Background(), cs); err != nil {
				b.Fatal(err)
			}
			cs = cs[:0]
		}
	}
	for b.Loop() {
		if _, err := s.HistoryPage(context.Background(), uint64(r.IntN(customers)+1), 0, 20); err != nil {
			b.Fatal(err)
		}
	}
}
