package loadtest

import "math"

// The seeded balances: round(exp(N(ln 40, 1.45))) clamped to [1, 70000],
// which gives a median of 40, a p99 near 1,100, about ten thousand distinct
// scores and huge ties at small scores, like the production data.
const (
	balanceMedian = 40
	balanceSigma  = 1.45
	balanceMax    = 70_000
)

// splitmix64 is a fast, well-mixed hash of x.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Balance returns the seeded balance of customer id: a pure function of
// (seed, id), so the index and the baseline get the same data without
// holding it.
func Balance(seed int64, id uint64) int64 {
	h1 := splitmix64(uint64(seed)*0x9e3779b97f4a7c15 ^ id)
	h2 := splitmix64(h1)
	u1 := (float64(h1>>11) + 0.5) / (1 << 53)
	u2 := float64(h2>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	v := math.Round(math.Exp(math.Log(balanceMedian) + balanceSigma*z))
	return int64(min(max(v, 1), balanceMax))
}
