package ranker

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkLoad: a bulk load of 1M customers with the bench's lognormal
// balances (median 40), per customer: the adds in id order, then the
// board (groups, histogram, balance table).
func BenchmarkLoad(b *testing.B) {
	const customers = 1_000_000
	r := rand.New(rand.NewPCG(1, 2))
	pts := make([]int64, customers+1)
	for id := range pts {
		pts[id] = min(max(int64(math.Round(math.Exp(math.Log(40)+1.45*r.NormFloat64()))), 1), 70_000)
	}
	b.Run("add", func(b *testing.B) {
		for b.Loop() {
			l := newLoader()
			for id := uint64(1); id <= customers; id++ {
				_ = l.add(id, pts[id])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*customers), "ns/customer")
	})
	b.Run("board", func(b *testing.B) {
		for b.Loop() {
			l := newLoader()
			for id := uint64(1); id <= customers; id++ {
				_ = l.add(id, pts[id])
			}
			l.board()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*customers), "ns/customer")
	})
}
