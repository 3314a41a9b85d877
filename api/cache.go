package api

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// memo is a bounded cache for values that are expensive to compute and
// cheap to keep (verified tokens): a direct-mapped table where each key has
// one slot and a newer key takes it over. It is read and written without
// locks, so readers on every core never contend. Safe for concurrent use.
type memo[K comparable, V any] struct {
	seed  maphash.Seed
	shift uint
	slots []atomic.Pointer[memoEntry[K, V]]
}

type memoEntry[K comparable, V any] struct {
	k K
	v V
}

// newMemo returns a memo of at least capacity slots (a power of two).
func newMemo[K comparable, V any](capacity int) *memo[K, V] {
	b := bits.Len(uint(max(capacity, 2) - 1))
	return &memo[K, V]{seed: maphash.MakeSeed(), shift: uint(64 - b), slots: make([]atomic.Pointer[memoEntry[K, V]], 1<<b)}
}

func (c *memo[K, V]) slot(k K) *atomic.Pointer[memoEntry[K, V]] {
	// The hash's top bits: maphash mixes all of them.
	return &c.slots[maphash.Comparable(c.seed, k)>>c.shift]
}

func (c *memo[K, V]) get(k K) (V, bool) {
	if e := c.slot(k).Load(); e != nil && e.k == k {
		return e.v, true
	}
	var zero V
	return zero, false
}

func (c *memo[K, V]) put(k K, v V) {
	c.slot(k).Store(&memoEntry[K, V]{k, v})
}
