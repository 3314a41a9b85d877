package ranker

import (
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"github.com/xyz/loyalty/histogram"
)

// bulkFill is how many ids a bulk-built block of a tie group holds: room
// for an eighth more before a change splits it.
const bulkFill = blockMax * 7 / 8

// smallScores is how many of the lowest scores a loader finds by index
// rather than in a map: nearly every customer has one of them.
const smallScores = 1 << 12

// loader builds a Board in bulk from balances given in ascending customer
// id order (a snapshot read, redisindex.Index.Scan): each tie group is filled
// block by block in order, with no search and no copying, the histogram is
// added once per score, and the balance table is filled in the order of its
// slots. The board equals one built by Set, customer by customer, from the
// same balances. Not safe for concurrent use.
type loader struct {
	small  []*idSet         // tie groups of scores below smallScores, by score
	groups map[int32]*idSet // the others
	// tail[p] is the last block of small[p], capped at bulkFill: adding an
	// id to it is one store and a longer length. The blocks themselves get
	// their lengths back in board().
	tail [][]uint64
	n    int // customers with points
	seen int // balances given, 0 included
	last uint64
}

func newLoader() *loader {
	return &loader{small: make([]*idSet, smallScores), tail: make([][]uint64, smallScores), groups: map[int32]*idSet{}}
}

// add records customer id's balance; ids must come in ascending order.
func (l *loader) add(id uint64, points int64) error {
	if l.seen > 0 && id <= l.last {
		return fmt.Errorf("bulk load: customer %d after %d: the snapshot is not in ascending id order", id, l.last)
	}
	l.seen++
	l.last = id
	p := int32(min(max(points, 0), histogram.MaxPoints))
	if p == 0 {
		return nil
	}
	l.n++
	if p < smallScores {
		t := &l.tail[p]
		if n := len(*t); n < cap(*t) {
			*t = (*t)[:n+1]
			(*t)[n] = id
			return nil
		}
		g := l.small[p]
		if g == nil {
			g = &idSet{}
			l.small[p] = g
		} else {
			g.blocks[len(g.blocks)-1] = g.blocks[len(g.blocks)-1][:len(*t)]
		}
		g.appendMax(id)
		lb := g.blocks[len(g.blocks)-1]
		*t = lb[:len(lb):min(cap(lb), bulkFill)]
		return nil
	}
	g := l.groups[p]
	if g == nil {
		g = &idSet{}
		l.groups[p] = g
	}
	g.appendMax(id)
	return nil
}

// appendMax adds id, larger than every id in s, at the end. While the last
// block has room it only lengthens it (no pointer written, so no write
// barrier while the collector runs during the load).
func (s *idSet) appendMax(id uint64) {
	s.n++
	if k := len(s.blocks); k > 0 {
		last := &s.blocks[k-1]
		if n := len(*last); n < cap(*last) && n < bulkFill {
			*last = (*last)[:n+1]
			(*last)[n] = id
			return
		}
		if n := len(*last); n < bulkFill {
			*last = append(*last, id)
			return
		}
		s.blocks = append(s.blocks, append(make([]uint64, 0, bulkFill+bulkFill/8), id))
		return
	}
	s.blocks = append(s.blocks, append(make([]uint64, 0, 8), id))
}

// board returns the board built from the balances added (seq 0).
func (l *loader) board() *Board {
	b := NewBoard()
	for s, g := range l.small {
		if g != nil {
			g.blocks[len(g.blocks)-1] = g.blocks[len(g.blocks)-1][:len(l.tail[s])]
			g.n = 0
			for _, b := range g.blocks {
				g.n += len(b)
			}
			l.groups[int32(s)] = g
		}
	}
	b.groups = l.groups
	b.scores = make([]int32, 0, len(l.groups))
	for s, g := range l.groups {
		b.scores = append(b.scores, s)
		b.hist.Add(int64(s), int32(g.n))
		// The last block of a big group may be nearly empty: give back its
		// room beyond an eighth.
		last := g.blocks[len(g.blocks)-1]
		if n := len(last); cap(last) > n+n/8+8 {
			g.blocks[len(g.blocks)-1] = append(make([]uint64, 0, n+n/8), last...)
		}
	}
	slices.Sort(b.scores)
	b.bal = fillBalances(b.scores, b.groups, l.n)
	return b
}

// fillBalances returns a balance table holding the n customers of groups
// (score -> ids), the size Set would have grown it to. It inserts them in
// the order of their home slots, partition by partition, so the table is
// written front to back instead of at random (at 50M customers, seconds
// faster), with up to fillWorkers goroutines on disjoint ranges of slots.
func fillBalances(scores []int32, groups map[int32]*idSet, n int) *balances {
	size := 64
	for n*8 > size*7 {
		size += size / 2
	}
	t := &balances{keys: make([]uint64, size), vals: make([]int32, size), n: n}
	// A partition is the ids whose hash has the same top bits: a range of
	// about 8K slots (slot() is monotonic in the hash).
	pbits := bits.Len(uint(size / 8192))
	shift := 64 - pbits
	parts := 1 << pbits
	part := func(id uint64) int { return int((id * slotMul) >> shift) }
	// The groups' blocks, split into one run per worker.
	type block struct {
		ids   []uint64
		score int32
	}
	var blocks []block
	for _, s := range scores {
		for _, b := range groups[s].blocks {
			blocks = append(blocks, block{b, s})
		}
	}
	w := min(fillWorkers, max(1, n>>12))
	runs := make([][]block, w)
	for i, at, acc := 0, 0, 0; i < w; i++ {
		start := at
		for at < len(blocks) && (i == w-1 || acc < n*(i+1)/w) {
			acc += len(blocks[at].ids)
			at++
		}
		runs[i] = blocks[start:at]
	}
	parallel := func(f func(i int)) {
		var wg sync.WaitGroup
		for i := range w {
			wg.Go(func() { f(i) })
		}
		wg.Wait()
	}
	// Count each run's ids per partition, then place them partition by
	// partition (runs in order within one) in ids and pts.
	off := make([][]int, w)
	parallel(func(i int) {
		c := make([]int, parts)
		for _, b := range runs[i] {
			for _, id := range b.ids {
				c[part(id)]++
			}
		}
		off[i] = c
	})
	start := make([]int, parts+1)
	for p, at := 0, 0; p < parts; p++ {
		start[p] = at
		for i := range w {
			c := off[i][p]
			off[i][p] = at
			at += c
		}
	}
	start[parts] = n
	ids := make([]uint64, n)
	pts := make([]int32, n)
	parallel(func(i int) {
		o := off[i]
		for _, b := range runs[i] {
			for _, id := range b.ids {
				k := part(id)
				ids[o[k]], pts[o[k]] = id, b.score
				o[k]++
			}
		}
	})
	// Worker i fills the slots of its partitions, from the first slot a
	// hash of its first partition maps to up to (not including) the next
	// worker's first; an id whose probe would cross that end waits, and is
	// placed at the end by an ordinary probe.
	firstSlot := func(p int) int {
		if p >= parts {
			return size
		}
		hi, _ := bits.Mul64(uint64(p)<<shift, uint64(size))
		return int(hi)
	}
	late := make([][]int, w)
	parallel(func(i int) {
		from, to := parts*i/w, parts*(i+1)/w
		end := firstSlot(to)
		for k := start[from]; k < start[to]; k++ {
			j := t.slot(ids[k])
			for j < end && t.keys[j] != 0 {
				j++
			}
			if j >= end {
				late[i] = append(late[i], k)
				continue
			}
			t.keys[j], t.vals[j] = ids[k], pts[k]
		}
	})
	for _, ks := range late {
		for _, k := range ks {
			j := t.slot(ids[k])
			for t.keys[j] != 0 {
				if j++; j == size {
					j = 0
				}
			}
			t.keys[j], t.vals[j] = ids[k], pts[k]
		}
	}
	return t
}

// fillWorkers is how many goroutines fill a balance table.
const fillWorkers = 4
