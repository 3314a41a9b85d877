package loadtest

import (
	"math/bits"
	"time"
)

// Latency is a log-bucketed histogram of durations (HDR-like): values below
// 256 ns are exact, larger ones fall in buckets 1/128 of their power of two
// wide, so every percentile is within 0.8%. Not safe for concurrent use: keep
// one per goroutine and Merge them.
type Latency struct {
	counts []uint64
	n      uint64
	max    int64
}

const subBits = 7

func bucket(v int64) int {
	if v < 0 {
		v = 0
	}
	e := max(0, bits.Len64(uint64(v))-(subBits+1))
	return e<<subBits + int(uint64(v)>>e)
}

// bucketMid returns the middle of bucket i.
func bucketMid(i int) int64 {
	if i < 2<<subBits {
		return int64(i)
	}
	e := i>>subBits - 1
	m := int64(i - e<<subBits)
	return m<<e + (int64(1)<<e)/2
}

// Record adds one duration.
func (l *Latency) Record(d time.Duration) {
	i := bucket(int64(d))
	if i >= len(l.counts) {
		l.counts = append(l.counts, make([]uint64, i+1-len(l.counts))...)
	}
	l.counts[i]++
	l.n++
	l.max = max(l.max, int64(d))
}

// Merge adds o's counts to l.
func (l *Latency) Merge(o *Latency) {
	if len(o.counts) > len(l.counts) {
		l.counts = append(l.counts, make([]uint64, len(o.counts)-len(l.counts))...)
	}
	for i, c := range o.counts {
		l.counts[i] += c
	}
	l.n += o.n
	l.max = max(l.max, o.max)
}

// Count returns the number of durations recorded.
func (l *Latency) Count() uint64 { return l.n }

// Quantile returns the duration below which a fraction q of the recorded
// ones fall (0 when empty).
func (l *Latency) Quantile(q float64) time.Duration {
	if l.n == 0 {
		return 0
	}
	rank := uint64(q*float64(l.n) + 0.5)
	rank = min(max(rank, 1), l.n)
	var seen uint64
	for i, c := range l.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(i), l.max))
		}
	}
	return time.Duration(l.max)
}
