package api

import (
	"hash/maphash"
	"sync"
)

// memo is a bounded map for values that are expensive to compute and cheap
// to keep (verified tokens): 16 shards, each forgotten whole
// when it fills. Safe for concurrent use.
type memo[K comparable, V any] struct {
	seed   maphash.Seed
	per    int
	shards [16]struct {
		sync.RWMutex
		m map[K]V
	}
}

func newMemo[K comparable, V any](capacity int) *memo[K, V] {
	c := &memo[K, V]{seed: maphash.MakeSeed(), per: max(capacity/16, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[K]V)
	}
	return c
}

func (c *memo[K, V]) shard(k K) int { return int(maphash.Comparable(c.seed, k) % 16) }

func (c *memo[K, V]) get(k K) (V, bool) {
	s := &c.shards[c.shard(k)]
	s.RLock()
	v, ok := s.m[k]
	s.RUnlock()
	return v, ok
}

func (c *memo[K, V]) put(k K, v V) {
	s := &c.shards[c.shard(k)]
	s.Lock()
	if len(s.m) >= c.per {
		clear(s.m)
	}
	s.m[k] = v
	s.Unlock()
}
