// Package oracle is the brute-force reference the ranking index is tested
// against: it keeps every balance in a map and answers a dashboard by sorting
// everyone (points descending, then customer id ascending), once after each
// change. Slow on purpose, obviously right. Not safe for concurrent use.
package oracle

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"

	"github.com/xyz/loyalty/ranker"
)

// Oracle holds balances.
type Oracle struct {
	// Bal holds the balances above zero. Change them only with Add: the
	// order of everyone is kept until the next Add.
	Bal map[uint64]int64

	sorted []ranker.Entry // Bal in board order; nil after a change
}

// New returns an empty oracle.
func New() *Oracle { return &Oracle{Bal: map[uint64]int64{}} }

// Add applies a requested change with the product's rule: the balance never
// goes below zero. It returns the applied delta and the new balance.
func (o *Oracle) Add(id uint64, pts int64) (delta, balance int64) {
	o.sorted = nil
	old := o.Bal[id]
	n := old + pts
	if n < 0 {
		n = 0
	}
	if n == 0 {
		delete(o.Bal, id)
	} else {
		o.Bal[id] = n
	}
	return n - old, n
}

// Above returns how many customers have strictly more than s points.
func (o *Oracle) Above(s int64) int64 {
	n := int64(0)
	for _, p := range o.Bal {
		if p > s {
			n++
		}
	}
	return n
}

// Sorted returns everyone in board order (points descending, then customer
// id ascending) with their ranks.
func (o *Oracle) Sorted() []ranker.Entry { return slices.Clone(o.order()) }

// order is everyone in board order, sorted afresh after each change; the
// callers must not modify it.
func (o *Oracle) order() []ranker.Entry {
	if o.sorted != nil && len(o.sorted) == len(o.Bal) {
		return o.sorted
	}
	all := make([]ranker.Entry, 0, len(o.Bal))
	for c, p := range o.Bal {
		all = append(all, ranker.Entry{CustomerID: c, Points: p})
	}
	slices.SortFunc(all, func(a, b ranker.Entry) int {
		if a.Points != b.Points {
			return cmp.Compare(b.Points, a.Points)
		}
		return cmp.Compare(a.CustomerID, b.CustomerID)
	})
	for i := range all {
		if i > 0 && all[i].Points == all[i-1].Points {
			all[i].Rank = all[i-1].Rank
		} else {
			all[i].Rank = int64(i + 1)
		}
	}
	o.sorted = all
	return all
}

// Dashboard sorts everyone and answers like ranker.Board.Dashboard (Seq is
// left 0), the nudges included: NextRank, ToTop and TopPercent computed
// from the sorted list of all balances.
func (o *Oracle) Dashboard(id uint64, n, k int) ranker.Dashboard {
	all := o.order()
	d := ranker.Dashboard{Total: int64(len(all))}
	p := o.Bal[id]
	d.Me = ranker.Entry{CustomerID: id, Points: p, Rank: 1}
	pos := len(all) // position of Me in the order; len(all) when not ranked
	for i, e := range all {
		if e.Points > p {
			d.Me.Rank++
		}
		if e.Points == p {
			d.Tied++
		}
		if e.CustomerID == id {
			pos = i
		}
	}
	d.Ranked = p > 0
	d.Top = slices.Clone(all[:min(n, len(all))])
	d.Above = slices.Clone(all[max(0, pos-k):pos])
	if d.Ranked {
		d.Below = slices.Clone(all[pos+1 : min(len(all), pos+1+k)])
	}
	d.NextRank, d.ToTop, d.TopPercent = nextRank(all, d), toTop(all, d, n), topPercent(all, d)
	return d
}

// nextRank: the smallest difference to a higher balance, none at rank 1.
func nextRank(all []ranker.Entry, d ranker.Dashboard) ranker.Gap {
	if d.Me.Rank == 1 {
		return ranker.Gap{None: true}
	}
	best := int64(-1)
	for _, e := range all {
		if e.Points > d.Me.Points && (best < 0 || e.Points-d.Me.Points < best) {
			best = e.Points - d.Me.Points
		}
	}
	return ranker.Gap{Points: best, OK: true}
}

// toTop: 0 for a ranked customer ranked n or better; else enough points to
// reach the n-th highest balance of the others (at least 1: a customer with
// 0 points must get on the board).
func toTop(all []ranker.Entry, d ranker.Dashboard, n int) ranker.Gap {
	if n < 1 {
		return ranker.Gap{None: true}
	}
	if d.Ranked && d.Me.Rank <= int64(n) {
		return ranker.Gap{OK: true}
	}
	var others []int64 // descending
	for _, e := range all {
		if e.CustomerID != d.Me.CustomerID {
			others = append(others, e.Points)
		}
	}
	need := int64(1)
	if len(others) >= n {
		need = max(others[n-1]-d.Me.Points, 1)
	}
	return ranker.Gap{Points: need, OK: true}
}

// topPercent: 100 * (customers with at least Me's points) / everyone,
// rounded up to one decimal, or to two significant digits below 1%.
func topPercent(all []ranker.Entry, d ranker.Dashboard) float64 {
	if !d.Ranked {
		return 0
	}
	atLeast := 0
	for _, e := range all {
		if e.Points >= d.Me.Points {
			atLeast++
		}
	}
	v := new(big.Rat).SetFrac64(int64(100*atLeast), int64(len(all)))
	decimals := 1
	for v.Cmp(new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals-1)), nil))) < 0 {
		decimals++
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	scaled := new(big.Rat).Mul(v, new(big.Rat).SetInt(scale))
	up := new(big.Int).Quo(scaled.Num(), scaled.Denom())
	if !scaled.IsInt() {
		up.Add(up, big.NewInt(1))
	}
	f, _ := new(big.Rat).SetFrac(up, scale).Float64()
	return f
}

// Page returns the board's lines from position offset (0 is the first),
// at most limit of them.
func (o *Oracle) Page(offset int64, limit int) []ranker.Entry {
	all := o.order()
	if offset >= int64(len(all)) {
		return nil
	}
	return slices.Clone(all[offset:min(int64(len(all)), offset+int64(limit))])
}

// Count returns how many customers have lo to hi points.
func (o *Oracle) Count(lo, hi int64) int64 {
	n := int64(0)
	for _, p := range o.Bal {
		if p >= lo && p <= hi {
			n++
		}
	}
	return n
}

// Quantile returns the nearest-rank quantile perTenThousand/10,000 of the
// balances: the ceil(q*N)-th smallest.
func (o *Oracle) Quantile(perTenThousand int64) int64 {
	bals := make([]int64, 0, len(o.Bal))
	for _, p := range o.Bal {
		bals = append(bals, p)
	}
	sort.Slice(bals, func(i, j int) bool { return bals[i] < bals[j] })
	pos := int64(math.Ceil(float64(len(bals)) * float64(perTenThousand) / 10_000))
	return bals[max(pos, 1)-1]
}

// Diff returns "" when got equals want (ignoring Seq and nil-vs-empty
// slices), else a description of the first difference.
func Diff(got, want ranker.Dashboard) string {
	if got.Me != want.Me || got.Ranked != want.Ranked || got.Tied != want.Tied || got.Total != want.Total {
		return fmt.Sprintf("header: got me=%+v ranked=%v tied=%d total=%d, want me=%+v ranked=%v tied=%d total=%d",
			got.Me, got.Ranked, got.Tied, got.Total, want.Me, want.Ranked, want.Tied, want.Total)
	}
	if got.NextRank != want.NextRank || got.ToTop != want.ToTop || got.TopPercent != want.TopPercent {
		return fmt.Sprintf("nudges: got nextRank=%+v toTop=%+v topPercent=%v, want nextRank=%+v toTop=%+v topPercent=%v",
			got.NextRank, got.ToTop, got.TopPercent, want.NextRank, want.ToTop, want.TopPercent)
	}
	for _, l := range []struct {
		name      string
		got, want []ranker.Entry
	}{{"top", got.Top, want.Top}, {"above", got.Above, want.Above}, {"below", got.Below, want.Below}} {
		if len(l.got) != len(l.want) {
			return fmt.Sprintf("%s: got %d entries %v, want %d %v", l.name, len(l.got), l.got, len(l.want), l.want)
		}
		for i := range l.got {
			if l.got[i] != l.want[i] {
				return fmt.Sprintf("%s[%d]: got %+v, want %+v", l.name, i, l.got[i], l.want[i])
			}
		}
	}
	return ""
}

// Consistent checks a dashboard on its own: ranks agree with points and
// order, nobody appears twice in one list, Me sits between Above and Below.
func Consistent(d ranker.Dashboard) error {
	check := func(name string, es []ranker.Entry) error {
		seen := map[uint64]bool{}
		for i, e := range es {
			if seen[e.CustomerID] {
				return fmt.Errorf("%s: customer %d twice", name, e.CustomerID)
			}
			seen[e.CustomerID] = true
			if e.Points <= 0 || e.Rank < 1 || e.Rank > d.Total {
				return fmt.Errorf("%s[%d]: %+v out of range (total %d)", name, i, e, d.Total)
			}
			if i > 0 {
				prev := es[i-1]
				if prev.Points < e.Points || (prev.Points == e.Points && (prev.CustomerID >= e.CustomerID || prev.Rank != e.Rank)) || (prev.Points > e.Points && prev.Rank >= e.Rank) {
					return fmt.Errorf("%s: %+v before %+v breaks the order", name, prev, e)
				}
			}
		}
		return nil
	}
	if err := check("top", d.Top); err != nil {
		return err
	}
	if len(d.Top) > 0 && d.Top[0].Rank != 1 {
		return fmt.Errorf("top starts at rank %d", d.Top[0].Rank)
	}
	line := append(append(append([]ranker.Entry{}, d.Above...), d.Me), d.Below...)
	if !d.Ranked {
		line = d.Above
		if d.Me.Rank != d.Total+1 || d.Me.Points != 0 {
			return fmt.Errorf("unranked me %+v with total %d", d.Me, d.Total)
		}
	}
	if err := check("neighbourhood", line); err != nil {
		return err
	}
	if d.Ranked && d.Tied < 1 {
		return fmt.Errorf("ranked with tied=%d", d.Tied)
	}
	return nil
}

// Readers starts n goroutines that call read (each with its own random
// source from seed) until the returned stop is called; stop waits for them
// and returns the first error any of them met (a reader stops at its first).
func Readers(n int, seed uint64, read func(r *rand.Rand) error) (stop func() error) {
	done := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 100+uint64(g)))
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := read(r); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	return func() error {
		close(done)
		wg.Wait()
		close(errs)
		return <-errs
	}
}
