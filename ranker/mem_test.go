package ranker

import (
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"
)

// BenchmarkBoardMemory loads 10M customers with lognormal balances (median
// 40, p99 ~1,000), in random id order as a replica's snapshot arrives, and
// reports the heap the board holds per customer.
func BenchmarkBoardMemory(b *testing.B) {
	const n = 10_000_000
	for i := 0; i < b.N; i++ {
		r := rand.New(rand.NewPCG(1, 2))
		perm := r.Perm(n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		bd := NewBoard()
		for _, id := range perm {
			p := int64(math.Round(math.Exp(math.Log(40) + 1.45*r.NormFloat64())))
			bd.Set(uint64(id)+1, min(max(p, 1), 70000), 0)
		}
		perm = nil
		runtime.GC()
		debug.FreeOSMemory()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "bytes/customer")
		runtime.KeepAlive(bd)
	}
}
