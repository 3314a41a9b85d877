package ranker

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/internal/testenv"
)

// TestLoaderEqualsSet builds boards of random balances twice, in bulk (the
// snapshot load) and customer by customer with Set (the old load, the
// oracle), and checks they are equal: balances, scores, tie groups in
// order, histogram, dashboards; then applies the same random changes to
// both (splitting and merging the bulk-built blocks) and checks again.
func TestLoaderEqualsSet(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 12))
	points := func() int64 {
		switch r.IntN(10) {
		case 0:
			return 0
		case 1:
			return -r.Int64N(100)
		case 2:
			return smallScores - 2 + r.Int64N(4) // around the loader's small-score limit
		case 3:
			return r.Int64N(histogram.MaxPoints + 10) // up to and past the clamp
		}
		return 1 + int64(r.ExpFloat64()*3) // a few big tie groups
	}
	for _, n := range []int{0, 1, 2, 100, 5_000, 60_000} {
		var ids []uint64
		id := uint64(0)
		for range n {
			switch r.IntN(20) {
			case 0:
				id += 1 + r.Uint64N(1<<40)
			case 1:
				id += 1 + r.Uint64N(1000)
			default:
				id++
			}
			ids = append(ids, id)
		}
		want, l := NewBoard(), newLoader()
		for _, id := range ids {
			p := points()
			want.Set(id, p, 0)
			if err := l.add(id, p); err != nil {
				t.Fatal(err)
			}
		}
		got := l.board()
		sameBoard(t, r, n, got, want, ids)
		for range n {
			c := 1 + r.Uint64N(id+1000) // mostly customers not on the board
			if len(ids) > 0 && r.IntN(4) > 0 {
				c = ids[r.IntN(len(ids))]
			}
			p := points()
			want.Set(c, p, 1)
			got.Set(c, p, 1)
		}
		sameBoard(t, r, n, got, want, ids)
	}
}

// sameBoard fails unless got and want hold the same board, and got's
// structures keep their invariants.
func sameBoard(t *testing.T, r *rand.Rand, n int, got, want *Board, ids []uint64) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("%d customers: %d on the bulk board, %d on the oracle", n, got.Len(), want.Len())
	}
	want.Each(func(id uint64, p int64) {
		if g := got.Balance(id); g != p {
			t.Fatalf("%d customers: customer %d has %d points on the bulk board, %d on the oracle", n, id, g, p)
		}
	})
	if !slices.Equal(got.scores, want.scores) {
		t.Fatalf("%d customers: scores differ: %d against %d distinct", n, len(got.scores), len(want.scores))
	}
	for _, s := range want.scores {
		g, w := got.groups[s], want.groups[s]
		if !slices.Equal(flatten(g), flatten(w)) || g.n != w.n {
			t.Fatalf("%d customers: the tie group of %d points differs (%d ids, oracle %d)", n, s, g.n, w.n)
		}
		for i, b := range g.blocks {
			if len(b) == 0 || len(b) > blockMax || !slices.IsSorted(b) || (i > 0 && g.blocks[i-1][len(g.blocks[i-1])-1] >= b[0]) {
				t.Fatalf("%d customers: the tie group of %d points: block %d of %d is broken (%d ids)", n, s, i, len(g.blocks), len(b))
			}
		}
		if got.hist.AtMost(int64(s)) != want.hist.AtMost(int64(s)) {
			t.Fatalf("%d customers: histogram at %d: %d, oracle %d", n, s, got.hist.AtMost(int64(s)), want.hist.AtMost(int64(s)))
		}
	}
	if len(got.groups) != len(want.groups) || got.hist.Total() != want.hist.Total() {
		t.Fatalf("%d customers: %d groups and %d ranked, oracle %d and %d", n, len(got.groups), got.hist.Total(), len(want.groups), want.hist.Total())
	}
	// Every key of the balance table is found from its home slot.
	for i, k := range got.bal.keys {
		if k != 0 && got.bal.get(k) != got.bal.vals[i] {
			t.Fatalf("%d customers: customer %d in slot %d is not found by probing", n, k, i)
		}
	}
	for range 200 {
		id := uint64(1 + r.IntN(1000))
		if len(ids) > 0 && r.IntN(2) == 0 {
			id = ids[r.IntN(len(ids))]
		}
		g, w := got.Dashboard(id, 10, 3), want.Dashboard(id, 10, 3)
		g.At, w.At = time.Time{}, time.Time{}
		if !slices.Equal(g.Top, w.Top) || !slices.Equal(g.Above, w.Above) || !slices.Equal(g.Below, w.Below) || g.Me != w.Me || g.Tied != w.Tied || g.Total != w.Total {
			t.Fatalf("%d customers: dashboard of %d:\nbulk   %+v\noracle %+v", n, id, g, w)
		}
	}
}

func flatten(s *idSet) []uint64 {
	var out []uint64
	for _, b := range s.blocks {
		out = append(out, b...)
	}
	return out
}

// TestLoaderOrder: a snapshot out of id order (or with an id twice) is
// refused rather than built into a broken board.
func TestLoaderOrder(t *testing.T) {
	t.Parallel()
	for _, ids := range [][]uint64{{5, 5}, {5, 3}, {1, 9, 2}} {
		l := newLoader()
		var err error
		for _, id := range ids {
			if err = l.add(id, 10); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("ids %v: no error", ids)
		}
	}
}
