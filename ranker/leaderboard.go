package ranker

import (
	"math"
	"sort"
	"time"
)

// Page is a run of consecutive lines of the board in board order (points
// descending, customer id ascending), one consistent snapshot.
type Page struct {
	Offset  int64   // position of Entries[0] in board order, from 0
	Entries []Entry // empty past the end of the board
	Total   int64   // customers on the board
	Seq     uint64  // the last change applied to the snapshot
	At      time.Time
}

// Page returns up to limit lines of the board from position offset (0 is
// the first line). It finds the score holding position offset by prefix
// sums over the histogram (a binary search of the distinct scores), then
// walks the tie groups from there: O(log scores + limit), never a scan of
// the customers.
func (b *Board) Page(offset int64, limit int) Page {
	b.mu.RLock()
	defer b.mu.RUnlock()
	pg := Page{Offset: offset, Total: b.hist.Total(), Seq: b.seq, At: b.at}
	if offset < 0 || offset >= pg.Total || limit <= 0 {
		return pg
	}
	// Position offset is in the tie group of the lowest score with at most
	// offset customers above it.
	i := sort.Search(len(b.scores), func(i int) bool { return b.hist.Above(int64(b.scores[i])) <= offset })
	above := b.hist.Above(int64(b.scores[i]))
	skip := int(offset - above)
	pg.Entries = make([]Entry, 0, min(int64(limit), pg.Total-offset))
	ids := make([]uint64, 0, min(limit, 1024))
	for ; i >= 0 && len(pg.Entries) < limit; i-- {
		s := b.scores[i]
		g := b.groups[s]
		ids = g.from(ids[:0], skip, limit-len(pg.Entries))
		for _, c := range ids {
			pg.Entries = append(pg.Entries, Entry{CustomerID: c, Rank: above + 1, Points: int64(s)})
		}
		above += int64(g.n)
		skip = 0
	}
	return pg
}

// from appends up to k ids from the i-th smallest (from 0), ascending. It
// skips whole blocks, so a far position in a tie group of millions costs a
// walk over block headers, not ids.
func (s *idSet) from(dst []uint64, i, k int) []uint64 {
	bi := 0
	for bi < len(s.blocks) && i >= len(s.blocks[bi]) {
		i -= len(s.blocks[bi])
		bi++
	}
	for ; bi < len(s.blocks) && k > 0; bi++ {
		blk := s.blocks[bi][i:]
		blk = blk[:min(len(blk), k)]
		dst = append(dst, blk...)
		k -= len(blk)
		i = 0
	}
	return dst
}

// Bucket is the number of customers with Lo to Hi points (both included).
type Bucket struct {
	Lo, Hi int64
	Count  int64
}

// Quantile is the score at quantile Q of the board: the smallest score such
// that at least Q of its customers have at most that many points (the
// nearest-rank method, always a score someone has).
type Quantile struct {
	Q      float64 // 0.5, 0.9, 0.99, 0.999
	Points int64
}

// Quantiles are the quantiles a Distribution reports, in per ten thousand.
var Quantiles = []int64{5000, 9000, 9900, 9990}

// Distribution is how the board's scores spread, one consistent snapshot.
type Distribution struct {
	Total int64 // customers on the board
	// Min and Max are the lowest and highest scores (0 on an empty board).
	Min, Max int64
	// Buckets cover 1..Max in log-spaced ranges, in ascending order (none on
	// an empty board).
	Buckets []Bucket
	// Quantiles are p50, p90, p99 and p99.9 (none on an empty board).
	Quantiles []Quantile
	Seq       uint64
	At        time.Time
}

// Distribution returns the board's scores in at most buckets log-spaced
// ranges and its quantiles, from the histogram's prefix sums: the range
// edges are floor((Max+1)^(i/buckets)) for i = 0..buckets, so each range is
// about the same factor wide; ranges that round to nothing (low scores with
// many buckets) are left out, so fewer may come back. Each count and
// quantile costs a few prefix sums, never a scan.
func (b *Board) Distribution(buckets int) Distribution {
	b.mu.RLock()
	defer b.mu.RUnlock()
	d := Distribution{Total: b.hist.Total(), Seq: b.seq, At: b.at}
	if d.Total == 0 || buckets < 1 {
		return d
	}
	d.Min, d.Max = int64(b.scores[0]), int64(b.scores[len(b.scores)-1])
	for _, e := range Edges(d.Max, buckets) {
		d.Buckets = append(d.Buckets, Bucket{Lo: e[0], Hi: e[1], Count: b.hist.AtMost(e[1]) - b.hist.AtMost(e[0]-1)})
	}
	for _, q := range Quantiles {
		pos := (d.Total*q + 9_999) / 10_000 // the customer at ceil(q * Total), ascending
		i := sort.Search(len(b.scores), func(i int) bool { return b.hist.AtMost(int64(b.scores[i])) >= pos })
		d.Quantiles = append(d.Quantiles, Quantile{Q: float64(q) / 10_000, Points: int64(b.scores[i])})
	}
	return d
}

// Edges returns the log-spaced score ranges [lo, hi] of a distribution of
// scores 1..top in at most n ranges (see Board.Distribution).
func Edges(top int64, n int) [][2]int64 {
	if top < 1 || n < 1 {
		return nil
	}
	out := make([][2]int64, 0, n)
	lo := int64(1)
	for i := 1; i <= n && lo <= top; i++ {
		hi := top
		if i < n {
			hi = min(int64(math.Pow(float64(top+1), float64(i)/float64(n)))-1, top)
		}
		if hi < lo {
			continue
		}
		out = append(out, [2]int64{lo, hi})
		lo = hi + 1
	}
	return out
}

// Leaderboard returns the board staff page through: the all-time board
// (season "") or the board of a kept season (an empty one at the all-time
// board's seq when the season has no change yet). ErrNotReady while no
// board is loaded: pages and distributions come from memory only. Each of
// the board's methods answers one consistent snapshot of what this process
// has applied (it does not wait for the primary's latest change).
func (r *Replica) Leaderboard(season string) (*Board, error) {
	b := r.board.Load()
	if b == nil {
		return nil, ErrNotReady
	}
	return b.seasonBoard(season), nil
}

// Leaderboard returns the embedded store's all-time board (season "") or
// the board of season name.
func (l Local) Leaderboard(season string) (*Board, error) {
	if season == "" {
		return l.B, nil
	}
	return l.season(season), nil
}

// season returns the embedded store's board of season name, or an empty
// one at the all-time board's seq when the season has no change yet.
func (l Local) season(name string) *Board {
	var sb *Board
	if l.Seasons != nil {
		sb = l.Seasons(name)
	}
	if sb == nil {
		sb = NewBoard()
		sb.SetSeq(l.B.Applied())
	}
	return sb
}

// seasonBoard returns b itself (name "") or the board of season name held
// beside b, at b's seq.
func (b *Board) seasonBoard(name string) *Board {
	if name == "" {
		return b
	}
	sb := b.Season(name)
	if sb == nil {
		sb = NewBoard()
	}
	sb.SetSeq(b.Applied())
	return sb
}
