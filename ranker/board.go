package ranker

import (
	"sort"
	"sync"
	"time"

	"github.com/xyz/loyalty/histogram"
)

// Entry is one line of a dashboard: a customer, their rank and points.
type Entry struct {
	CustomerID uint64
	Rank       int64
	Points     int64
}

// Dashboard is one consistent snapshot of the board as one customer sees it.
type Dashboard struct {
	Me     Entry   // the customer; with 0 points, the rank they would have
	Ranked bool    // the customer has points and is on the board
	Tied   int64   // customers with exactly Me.Points (including Me when Ranked)
	Total  int64   // customers on the board (balance > 0)
	Top    []Entry // the first N in board order
	Above  []Entry // up to K entries just above Me, in board order (Above[len-1] is next to Me)
	Below  []Entry // up to K entries just below Me, in board order (Below[0] is next to Me)
	Seq    uint64  // the last change applied to the snapshot
	// At is when this process applied change Seq (zero before any change).
	At time.Time
	// Stale means the latest change could not be confirmed in time (the
	// Redis primary is unreachable or the change log stalled): the snapshot
	// is what was applied as of Seq, and may miss later changes.
	Stale bool
	// Partial means no board is loaded yet: Me (points and exact rank),
	// Tied, Total and Top come from the Redis index (Top empty when its top
	// list can't answer N exactly), and there are no neighbours; Seq and At
	// are zero. NextRank and ToTop are set when the top list answers them
	// exactly, else unknown; TopPercent is 0 (unknown).
	Partial bool
	// NextRank is the fewest points Me would add for a better rank: the next
	// higher score on the board minus Me's points (reaching it shares its
	// rank). For a customer with 0 points, the lowest score on the board.
	// None at rank 1.
	NextRank Gap
	// ToTop is the fewest points Me would add for a rank of at most N, the
	// top asked for: 0 when a ranked Me is there already. A customer with 0
	// points is not on the board, so never there: they need the score at
	// position N, and at least 1 point. None when N < 1.
	ToTop Gap
	// TopPercent is the percentage of the customers on the board with at
	// least Me's points, rounded up (never flattering) to one decimal, or to
	// two significant digits below 1% (3.2, 0.12, 0.0034); 100 at the
	// bottom. 0 when Me is not ranked, and on partial dashboards.
	TopPercent float64
}

// Gap is a number of points to add, as far as a snapshot can tell: known
// (OK), known not to exist (None), or unknown (neither: a partial
// dashboard that could not tell exactly).
type Gap struct {
	Points int64 // when OK
	OK     bool
	None   bool
}

// points returns a known gap.
func points(n int64) Gap { return Gap{Points: n, OK: true} }

// Board is an in-memory leaderboard: each customer's balance, the score
// histogram, and per score the customers in tie-break order (customer id
// ascending). Customers with 0 points are not on the board. It is the whole
// index in embedded mode and the ranker's replica of the Redis index
// otherwise. Safe for concurrent use.
type Board struct {
	mu     sync.RWMutex
	bal    *balances
	groups map[int32]*idSet
	scores []int32 // distinct scores on the board, ascending
	hist   *histogram.Counts
	seq    uint64
	at     time.Time // when seq was applied
	// seasons are the season boards kept beside this all-time board (a
	// replica's; nil otherwise), each at this board's seq.
	seasons map[string]*Board
}

// NewBoard returns an empty board.
func NewBoard() *Board {
	return &Board{bal: newBalances(), groups: make(map[int32]*idSet), hist: histogram.NewCounts()}
}

// Set records that customer id has points after change seq. Changes must
// come in seq order; an older seq than the board's is still applied (it is an
// absolute balance), so replaying a tail of changes converges.
func (b *Board) Set(id uint64, points int64, seq uint64) {
	b.mu.Lock()
	b.set(id, points)
	if seq > b.seq {
		b.seq, b.at = seq, time.Now()
	}
	b.mu.Unlock()
}

// SetSeq records that the board reflects every change up to seq, as of at.
func (b *Board) SetSeq(seq uint64, at time.Time) {
	b.mu.Lock()
	if seq > b.seq || b.at.IsZero() {
		b.seq, b.at = max(seq, b.seq), at
	}
	b.mu.Unlock()
}

func (b *Board) set(id uint64, points int64) {
	if points < 0 {
		points = 0
	}
	if points > histogram.MaxPoints {
		points = histogram.MaxPoints
	}
	p := int32(points)
	old := b.bal.get(id)
	if old == p {
		return
	}
	if old > 0 {
		g := b.groups[old]
		g.remove(id)
		if g.n == 0 {
			delete(b.groups, old)
			i := sort.Search(len(b.scores), func(i int) bool { return b.scores[i] >= old })
			b.scores = append(b.scores[:i], b.scores[i+1:]...)
		}
		b.hist.Add(int64(old), -1)
	}
	b.bal.set(id, p)
	if p == 0 {
		return
	}
	g := b.groups[p]
	if g == nil {
		g = &idSet{}
		b.groups[p] = g
		i := sort.Search(len(b.scores), func(i int) bool { return b.scores[i] >= p })
		b.scores = append(b.scores, 0)
		copy(b.scores[i+1:], b.scores[i:])
		b.scores[i] = p
	}
	g.insert(id)
	b.hist.Add(int64(p), 1)
}

// Balance returns a customer's points (0 if not on the board).
func (b *Board) Balance(id uint64) int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return int64(b.bal.get(id))
}

// Seq returns the last change applied.
func (b *Board) Seq() uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.seq
}

// Applied returns the last change applied and when it was applied (the
// replica's lag metrics).
func (b *Board) Applied() (seq uint64, at time.Time) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.seq, b.at
}

// Len returns the number of customers on the board.
func (b *Board) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.bal.n
}

// Each calls fn for every customer on the board, in no particular order,
// under the read lock: fn must not call the board.
func (b *Board) Each(fn func(id uint64, points int64)) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	b.bal.each(func(id uint64, p int32) { fn(id, int64(p)) })
}

// Dashboard returns the snapshot for customer id with the top n and k
// neighbours on each side.
func (b *Board) Dashboard(id uint64, n, k int) Dashboard {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p := b.bal.get(id)
	d := Dashboard{Total: b.hist.Total(), Seq: b.seq, At: b.at, Ranked: p > 0}
	d.Me = Entry{CustomerID: id, Points: int64(p), Rank: 1 + b.hist.Above(int64(p))}
	if p > 0 {
		d.Tied = int64(b.groups[p].n)
	}
	d.Top = b.top(n)
	// i is the first score above p: the next rank up, and where the walk
	// up starts. The neighbours' ranks follow from Me's and the tie group
	// sizes, so the histogram is read once per dashboard.
	i := sort.Search(len(b.scores), func(i int) bool { return b.scores[i] > p })
	d.Above = b.above(p, id, k, i, d.Me.Rank)
	if p > 0 {
		d.Below = b.below(p, id, k, i-1, d.Me.Rank)
	}
	d.NextRank = Gap{None: true}
	if d.Me.Rank > 1 {
		d.NextRank = points(int64(b.scores[i] - p))
	}
	d.ToTop = toTop(d, n)
	d.TopPercent = topPercent(d)
	return d
}

func (b *Board) top(n int) []Entry {
	out := make([]Entry, 0, min(n, 16))
	rank := int64(1)
	ids := make([]uint64, 0, n)
	for i := len(b.scores) - 1; i >= 0 && len(out) < n; i-- {
		s := b.scores[i]
		g := b.groups[s]
		ids = g.first(ids[:0], n-len(out))
		for _, c := range ids {
			out = append(out, Entry{CustomerID: c, Rank: rank, Points: int64(s)})
		}
		rank += int64(g.n)
	}
	return out
}

// above returns up to k entries before (p, id) in board order, given i, the
// index of the first score above p, and rank, the rank of p (1 + customers
// above it). p == 0 means "below everyone on the board".
func (b *Board) above(p int32, id uint64, k, i int, rank int64) []Entry {
	if k <= 0 {
		return nil
	}
	rev := make([]Entry, 0, k)
	ids := make([]uint64, 0, k)
	if p > 0 {
		for _, c := range b.groups[p].before(ids[:0], id, k) {
			rev = append(rev, Entry{CustomerID: c, Rank: rank, Points: int64(p)})
		}
	}
	for ; i < len(b.scores) && len(rev) < k; i++ {
		s := b.scores[i]
		g := b.groups[s]
		rank -= int64(g.n) // one score up: its own customers are no longer above
		for _, c := range g.last(ids[:0], k-len(rev)) {
			rev = append(rev, Entry{CustomerID: c, Rank: rank, Points: int64(s)})
		}
	}
	for l, r := 0, len(rev)-1; l < r; l, r = l+1, r-1 {
		rev[l], rev[r] = rev[r], rev[l]
	}
	return rev
}

// below returns up to k entries after (p, id) in board order (p > 0), given
// at, the index of p in the scores, and rank, the rank of p.
func (b *Board) below(p int32, id uint64, k, at int, rank int64) []Entry {
	if k <= 0 {
		return nil
	}
	out := make([]Entry, 0, k)
	ids := make([]uint64, 0, k)
	g := b.groups[p]
	for _, c := range g.after(ids[:0], id, k) {
		out = append(out, Entry{CustomerID: c, Rank: rank, Points: int64(p)})
	}
	for i := at - 1; i >= 0 && len(out) < k; i-- {
		rank += int64(g.n) // one score down: the customers of the score before are above too
		s := b.scores[i]
		g = b.groups[s]
		for _, c := range g.first(ids[:0], k-len(out)) {
			out = append(out, Entry{CustomerID: c, Rank: rank, Points: int64(s)})
		}
	}
	return out
}
