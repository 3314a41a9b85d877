package ranker_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/xyz/loyalty/ranker"
)

// BenchmarkBoardDashboard: one dashboard (top 10, 2 around) of a random
// customer on a board of 1M customers with the bench's lognormal balances
// (median 40), as the engine answers it once the latest change is applied.
func BenchmarkBoardDashboard(b *testing.B) {
	const customers = 1_000_000
	r := rand.New(rand.NewPCG(1, 2))
	board := ranker.NewBoard()
	for id := uint64(1); id <= customers; id++ {
		p := int64(math.Round(math.Exp(math.Log(40) + 1.45*r.NormFloat64())))
		board.Set(id, min(max(p, 1), 70_000), id)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 3))
		for pb.Next() {
			board.Dashboard(uint64(r.IntN(customers+customers/10))+1, 10, 2)
		}
	})
}
