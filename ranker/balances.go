package ranker

import "math/bits"

// balances maps customer id (never 0) to points (> 0): an open-addressing
// table with linear probing and backward-shift deletion, keys and values in
// two flat arrays: 12 bytes a slot, filled to at most 7/8 before it grows by
// half. Against a Go map (about 36 bytes an entry at 10M) it holds 50
// million customers in well under half the memory. Not safe for concurrent
// use; Board guards it.
type balances struct {
	keys []uint64
	vals []int32
	n    int
}

func newBalances() *balances { return &balances{keys: make([]uint64, 64), vals: make([]int32, 64)} }

// slotMul is the multiplier of the table's hash (2^64 / the golden ratio).
const slotMul = 0x9E3779B97F4A7C15

// slot is where probing for id starts: a multiplicative hash mapped onto
// the table's size (any size, not only powers of two), monotonic in the
// hash id*slotMul.
func (t *balances) slot(id uint64) int {
	hi, _ := bits.Mul64(id*slotMul, uint64(len(t.keys)))
	return int(hi)
}

func (t *balances) get(id uint64) int32 {
	for i := t.slot(id); ; {
		switch t.keys[i] {
		case id:
			return t.vals[i]
		case 0:
			return 0
		}
		if i++; i == len(t.keys) {
			i = 0
		}
	}
}

// set stores points for id; 0 removes it.
func (t *balances) set(id uint64, points int32) {
	if points == 0 {
		t.remove(id)
		return
	}
	if (t.n+1)*8 > len(t.keys)*7 {
		t.grow()
	}
	for i := t.slot(id); ; {
		switch t.keys[i] {
		case id:
			t.vals[i] = points
			return
		case 0:
			t.keys[i], t.vals[i] = id, points
			t.n++
			return
		}
		if i++; i == len(t.keys) {
			i = 0
		}
	}
}

func (t *balances) remove(id uint64) {
	size := len(t.keys)
	i := t.slot(id)
	for t.keys[i] != id {
		if t.keys[i] == 0 {
			return
		}
		if i++; i == size {
			i = 0
		}
	}
	// Backward-shift: move later entries of the run into the hole when their
	// home slot is at or before it, so lookups never need tombstones.
	for j := i; ; {
		if j++; j == size {
			j = 0
		}
		if t.keys[j] == 0 {
			break
		}
		home := t.slot(t.keys[j])
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.keys[i], t.vals[i] = t.keys[j], t.vals[j]
			i = j
		}
	}
	t.keys[i], t.vals[i] = 0, 0
	t.n--
}

func (t *balances) grow() {
	old, oldv := t.keys, t.vals
	size := len(old) + len(old)/2
	t.keys, t.vals, t.n = make([]uint64, size), make([]int32, size), 0
	for i, k := range old {
		if k != 0 {
			t.set(k, oldv[i])
		}
	}
}

// each calls fn for every entry.
func (t *balances) each(fn func(id uint64, points int32)) {
	for i, k := range t.keys {
		if k != 0 {
			fn(k, t.vals[i])
		}
	}
}
