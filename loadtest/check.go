package loadtest

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/ranker"
)

// maxExamples is how many mismatches the report spells out.
const maxExamples = 10

// check compares, for each customer in ids, our dashboard with what the
// baseline sorted set says: the customer's points, rank (1 + ZCOUNT of
// higher scores), tie count and board size; the top N's points and ranks;
// and the neighbours' points and ranks. The baseline orders ties by member
// (descending in ZREVRANGE) and ours by id ascending, so ids are not
// compared: our neighbours fix the customer's position inside the tie group,
// and the baseline's points at the same positions must match.
func (b *bench) check(ctx context.Context, ids []uint64) (Check, error) {
	c := Check{Sampled: len(ids)}
	for _, id := range ids {
		d, err := b.rep.Dashboard(ctx, id, b.cfg.Top, b.cfg.Around)
		if err != nil {
			return c, fmt.Errorf("check customer %d: %w", id, err)
		}
		diffs, err := b.compare(ctx, id, d)
		if err != nil {
			return c, fmt.Errorf("check customer %d: %w", id, err)
		}
		if len(diffs) > 0 {
			c.Mismatches++
			if len(c.Examples) < maxExamples {
				c.Examples = append(c.Examples, fmt.Sprintf("customer %d: %v", id, diffs))
			}
		}
	}
	return c, nil
}

func (b *bench) compare(ctx context.Context, id uint64, d ranker.Dashboard) ([]string, error) {
	var diffs []string
	differ := func(format string, a ...any) { diffs = append(diffs, fmt.Sprintf(format, a...)) }
	m := strconv.FormatUint(id, 10)

	// Round trip 1: the customer, the board, the top N.
	p := b.rdb.Pipeline()
	scoreCmd := p.ZScore(ctx, b.zkey, m)
	cardCmd := p.ZCard(ctx, b.zkey)
	topCmd := p.ZRevRangeWithScores(ctx, b.zkey, 0, int64(b.cfg.Top)-1)
	if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	s := int64(scoreCmd.Val())
	if d.Me.Points != s {
		differ("points %d, baseline %d", d.Me.Points, s)
	}
	if d.Total != cardCmd.Val() {
		differ("board size %d, baseline %d", d.Total, cardCmd.Val())
	}
	top := topCmd.Val()
	if len(d.Top) != len(top) {
		differ("top has %d entries, baseline %d", len(d.Top), len(top))
	}
	for i := range min(len(d.Top), len(top)) {
		if d.Top[i].Points != int64(top[i].Score) {
			differ("top[%d] has %d points, baseline %d", i, d.Top[i].Points, int64(top[i].Score))
		}
	}

	// Round trip 2: ranks (1 + customers with more points) of every score shown.
	p = b.rdb.Pipeline()
	higher := map[int64]*redis.IntCmd{}
	ask := func(pts int64) {
		if higher[pts] == nil {
			higher[pts] = p.ZCount(ctx, b.zkey, "("+strconv.FormatInt(pts, 10), "+inf")
		}
	}
	ask(s)
	tiedCmd := p.ZCount(ctx, b.zkey, strconv.FormatInt(s, 10), strconv.FormatInt(s, 10))
	for _, es := range [][]ranker.Entry{d.Top, d.Above, d.Below} {
		for _, e := range es {
			ask(e.Points)
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, err
	}
	gt, tied := higher[s].Val(), tiedCmd.Val()
	if d.Me.Rank != gt+1 {
		differ("rank %d, baseline %d", d.Me.Rank, gt+1)
	}
	if d.Tied != tied {
		differ("tied %d, baseline %d", d.Tied, tied)
	}
	for name, es := range map[string][]ranker.Entry{"top": d.Top, "above": d.Above, "below": d.Below} {
		for i, e := range es {
			if want := higher[e.Points].Val() + 1; e.Rank != want {
				differ("%s[%d] (%d points) has rank %d, baseline %d", name, i, e.Points, e.Rank, want)
			}
		}
	}

	// Round trip 3: the neighbours. Our answer places the customer at
	// position pos (0-based) of the board order; the baseline's points at
	// pos-K..pos+K must be ours.
	k := b.cfg.Around
	pos, ok := position(d, gt, tied, k)
	if !ok {
		differ("neighbours %v / %v don't fit a tie group of %d at rank %d", pointsOf(d.Above), pointsOf(d.Below), tied, gt+1)
		return diffs, nil
	}
	lo := max(0, pos-int64(k))
	around, err := b.rdb.ZRevRangeWithScores(ctx, b.zkey, lo, pos+int64(k)).Result()
	if err != nil {
		return nil, err
	}
	var wantAbove, wantBelow []int64
	for i, z := range around {
		switch q := lo + int64(i); {
		case q < pos:
			wantAbove = append(wantAbove, int64(z.Score))
		case q > pos:
			wantBelow = append(wantBelow, int64(z.Score))
		case int64(z.Score) != s:
			differ("baseline has %d points at our position %d, customer has %d", int64(z.Score), pos, s)
		}
	}
	if got := pointsOf(d.Above); !equal(got, wantAbove) {
		differ("above %v, baseline %v", got, wantAbove)
	}
	if got := pointsOf(d.Below); !equal(got, wantBelow) {
		differ("below %v, baseline %v", got, wantBelow)
	}
	return diffs, nil
}

// position returns the customer's 0-based position in the board order
// implied by our answer: gt customers have more points, tied have as many
// (the customer included); the neighbours with the same points tell where
// in the tie group the customer is. ok is false when they can't fit.
func position(d ranker.Dashboard, gt, tied int64, k int) (pos int64, ok bool) {
	s := d.Me.Points
	a := int64(0) // tied neighbours just above
	for i := len(d.Above) - 1; i >= 0 && d.Above[i].Points == s; i-- {
		a++
	}
	bl := int64(0) // tied neighbours just below
	for i := 0; i < len(d.Below) && d.Below[i].Points == s; i++ {
		bl++
	}
	fromTop := a < int64(k) // the tie group's start (or the board's) is in view
	fromBottom := bl < int64(k)
	switch {
	case fromTop && fromBottom:
		return gt + a, a+bl+1 == tied
	case fromTop:
		return gt + a, a+bl+1 <= tied
	case fromBottom:
		return gt + tied - 1 - bl, a+bl+1 <= tied
	default: // K tied on each side: any position K inside the group
		return gt + int64(k), 2*int64(k)+1 <= tied
	}
}

func pointsOf(es []ranker.Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Points
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
