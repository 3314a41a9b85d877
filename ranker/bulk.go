package ranker

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/xyz/loyalty/histogram"
)

// bulkFill is how many ids a bulk-built block of a tie group holds: room
// for an eighth more before a change splits it.
const bulkFill = blockMax * 7 / 8

// smallScores is how many of the lowest scores a loader finds by index
// rather than in a map: nearly every customer has one of them.
const smallScores = 1 << 12

// loader builds a Board in bulk from balances given in ascending customer
// id order (a snapshot read, histogram.Index.Scan): each tie group is filled
// block by block in order, with no search and no copying, the histogram is
// added once per score, and the balance table is filled in the order of its
// slots. The board equals one built by Set, customer by customer, from the
// same balances. Not safe for concurrent use.
type loader struct {
	small  []*idSet         // tie groups of scores below smallScores, by score
	groups map[int32]*idSet // the others
	n      int              // customers with points
	seen   int              // balances given, 0 included
	last   uint64
}

func newLoader() *loader {
	return &loader{small: make([]*idSet, smallScores), groups: map[int32]*idSet{}}
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
	var g *idSet
	if p < smallScores {
		if g = l.small[p]; g == nil {
			g = &idSet{}
			l.small[p] = g
		}
	} else if g = l.groups[p]; g == nil {
		g = &idSet{}
		l.groups[p] = g
	}
	g.appendMax(id)
	l.n++
	return nil
}

// appendMax adds id, larger than every id in s, at the end.
func (s *idSet) appendMax(id uint64) {
	k := len(s.blocks)
	switch {
	case k > 0 && len(s.blocks[k-1]) < bulkFill:
		s.blocks[k-1] = append(s.blocks[k-1], id)
	case k == 0:
		s.blocks = append(s.blocks, append(make([]uint64, 0, 8), id))
	default:
		s.blocks = append(s.blocks, append(make([]uint64, 0, bulkFill+bulkFill/8), id))
	}
	s.n++
}

// board returns the board built from the balances added (seq 0).
func (l *loader) board() *Board {
	b := NewBoard()
	for s, g := range l.small {
		if g != nil {
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
// written front to back instead of at random: at 50M customers that is what
// makes it seconds faster.
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
	part := func(id uint64) int { return int((id * slotMul) >> shift) }
	off := make([]int, 1<<pbits+1)
	for _, s := range scores {
		for _, blk := range groups[s].blocks {
			for _, id := range blk {
				off[part(id)+1]++
			}
		}
	}
	for i := 1; i < len(off); i++ {
		off[i] += off[i-1]
	}
	ids := make([]uint64, n)
	pts := make([]int32, n)
	for _, s := range scores {
		for _, blk := range groups[s].blocks {
			for _, id := range blk {
				k := part(id)
				ids[off[k]], pts[off[k]] = id, s
				off[k]++
			}
		}
	}
	for i, id := range ids {
		j := t.slot(id)
		for t.keys[j] != 0 {
			if j++; j == size {
				j = 0
			}
		}
		t.keys[j], t.vals[j] = id, pts[i]
	}
	return t
}
