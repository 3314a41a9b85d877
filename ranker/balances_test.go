package ranker

import (
	"math/rand/v2"
	"testing"

	"github.com/xyz/loyalty/internal/testenv"
)

// TestBalancesTable checks the table against a Go map on random sets,
// updates and removals, including growth and wrap-around.
func TestBalancesTable(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	tab := newBalances()
	want := map[uint64]int32{}
	for i := 0; i < 300_000; i++ {
		id := uint64(r.IntN(20_000)) + 1
		if i%7 == 0 {
			id = uint64(r.Int64()) | 1 // far ids too
		}
		p := int32(r.IntN(5))
		tab.set(id, p)
		if p == 0 {
			delete(want, id)
		} else {
			want[id] = p
		}
		if i%50_000 == 0 || i == 299_999 {
			if tab.n != len(want) {
				t.Fatalf("seed %d: %d entries, want %d", seed, tab.n, len(want))
			}
			for k, v := range want {
				if got := tab.get(k); got != v {
					t.Fatalf("seed %d: get(%d) = %d, want %d", seed, k, got, v)
				}
			}
			n := 0
			tab.each(func(id uint64, p int32) {
				n++
				if want[id] != p {
					t.Fatalf("seed %d: each gave %d=%d, want %d", seed, id, p, want[id])
				}
			})
			if n != len(want) {
				t.Fatalf("seed %d: each visited %d, want %d", seed, n, len(want))
			}
		}
	}
	for k := range want {
		tab.set(k, 0)
	}
	if tab.n != 0 || tab.get(1) != 0 {
		t.Fatalf("not empty after removing all: n=%d", tab.n)
	}
}
