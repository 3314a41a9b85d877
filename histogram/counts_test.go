package histogram_test

import (
	"math/rand/v2"
	"testing"

	"github.com/xyz/loyalty/histogram"
)

// TestCountsAgainstSort checks AtMost, Above and Total against counting a
// plain list, at the bucket edges and at random scores.
func TestCountsAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := histogram.NewCounts()
	var scores []int64
	edges := []int64{1, histogram.BucketWidth - 1, histogram.BucketWidth, histogram.BucketWidth + 1, histogram.MaxPoints - 1, histogram.MaxPoints}
	for i := 0; i < 5000; i++ {
		s := 1 + r.Int64N(1<<20)
		if i%10 == 0 {
			s = edges[r.IntN(len(edges))]
		}
		c.Add(s, 1)
		scores = append(scores, s)
		if i%7 == 0 { // remove one again
			j := r.IntN(len(scores))
			c.Add(scores[j], -1)
			scores = append(scores[:j], scores[j+1:]...)
		}
	}
	probe := append([]int64{0}, edges...)
	for i := 0; i < 200; i++ {
		probe = append(probe, r.Int64N(1<<21))
	}
	for _, s := range probe {
		var n int64
		for _, v := range scores {
			if v <= s {
				n++
			}
		}
		if got := c.AtMost(s); got != n {
			t.Fatalf("AtMost(%d) = %d, want %d", s, got, n)
		}
		if got := c.Above(s); got != int64(len(scores))-n {
			t.Fatalf("Above(%d) = %d, want %d", s, got, int64(len(scores))-n)
		}
	}
	if c.Total() != int64(len(scores)) {
		t.Fatalf("Total = %d, want %d", c.Total(), len(scores))
	}
}
