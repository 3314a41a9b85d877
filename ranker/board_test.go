package ranker_test

import (
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ranker"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestBoardOracle runs random workloads against the board and the oracle.
func TestBoardOracle(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 1))
	b := ranker.NewBoard()
	o := oracle.New()
	const customers = 10_000
	check := func(id uint64, n, k int) {
		t.Helper()
		got, want := b.Dashboard(id, n, k), o.Dashboard(id, n, k)
		if diff := oracle.Diff(got, want); diff != "" {
			t.Fatalf("seed %d: dashboard(%d, n=%d, k=%d): %s", seed, id, n, k, diff)
		}
		if err := oracle.Consistent(got); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	// The empty board.
	check(1, 10, 2)
	seq := uint64(0)
	for round := 0; round < 60; round++ {
		for i := 0; i < 2_000; i++ {
			id := uint64(r.IntN(customers)) + 1
			var pts int64
			switch r.IntN(10) {
			case 0: // deduction, often to zero
				pts = -int64(r.IntN(60))
			case 1: // scores at bucket boundaries
				pts = int64([]int{4095, 4096, 4097, 8191, 8192}[r.IntN(5)]) - o.Bal[id]
			case 2: // big spender
				pts = int64(r.IntN(100_000))
			default: // small, many ties
				pts = int64(r.IntN(8))
			}
			_, bal := o.Add(id, pts)
			seq++
			b.Set(id, bal, seq)
		}
		for i := 0; i < 50; i++ {
			check(uint64(r.IntN(customers+100))+1, r.IntN(30), r.IntN(12))
		}
	}
	// Edges: the very top, the very bottom, N larger than the population, K = 0.
	top := o.Dashboard(1, 1, 0).Top[0].CustomerID
	check(top, 10, 10)
	last := o.Dashboard(1, customers+1, 0).Top
	check(last[len(last)-1].CustomerID, customers*2, 10)
	check(top, 0, 0)
	// Everyone back to zero: the empty board again.
	for id := range o.Bal {
		seq++
		b.Set(id, 0, seq)
	}
	o = oracle.New()
	check(5, 10, 2)
	if b.Len() != 0 {
		t.Fatalf("board has %d customers after all went to zero", b.Len())
	}
}

// TestBoardConcurrent has writers and readers on one board: every dashboard
// is consistent, and the end state equals the oracle.
func TestBoardConcurrent(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	b := ranker.NewBoard()
	const writers, readers, per, customers = 4, 4, 20_000, 300
	final := make([]map[uint64]int64, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			final[w] = map[uint64]int64{}
			for i := 0; i < per; i++ {
				// Each writer owns the customers congruent to w.
				id := uint64(r.IntN(customers/writers)*writers+w) + 1
				p := int64(r.IntN(12))
				b.Set(id, p, 0)
				final[w][id] = p
			}
		}(w)
	}
	stopReaders := oracle.Readers(readers, seed, func(r *rand.Rand) error {
		return oracle.Consistent(b.Dashboard(uint64(r.IntN(customers))+1, 10, 3))
	})
	wg.Wait()
	if err := stopReaders(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	o := oracle.New()
	for _, m := range final {
		for id, p := range m {
			o.Add(id, p)
		}
	}
	for id := uint64(1); id <= customers; id++ {
		if diff := oracle.Diff(b.Dashboard(id, 20, 4), o.Dashboard(id, 20, 4)); diff != "" {
			t.Fatalf("seed %d: customer %d: %s", seed, id, diff)
		}
	}
}
