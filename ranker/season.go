package ranker

import (
	"context"
	"time"

	"github.com/xyz/loyalty/season"
)

// Seasons is the set of season boards a replica keeps beside its all-time
// board: the current season and the Kept before it, by Calendar. Safe for
// concurrent use (guarded by the all-time board's lock).
type Seasons struct {
	Calendar season.Calendar
	Kept     int
}

// oldest returns the name of the oldest season kept as of now ("" without
// seasons).
func (s Seasons) oldest(now time.Time) string {
	return s.Calendar.Back(now, s.Kept)
}

// names returns the seasons kept as of now, newest first.
func (s Seasons) names(now time.Time) []string {
	if !s.Calendar.Enabled() {
		return nil
	}
	out := make([]string, 0, s.Kept+1)
	for i := 0; i <= s.Kept; i++ {
		out = append(out, s.Calendar.Back(now, i))
	}
	return out
}

// Season returns the board of season name held beside b (nil when b holds
// none: the season had no change, or is not kept).
func (b *Board) Season(name string) *Board {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.seasons[name]
}

// setSeason records customer id's balance on the board of season name, as
// of b's seq (hold b.mu).
func (b *Board) setSeason(name string, id uint64, points int64) {
	if b.seasons == nil {
		b.seasons = map[string]*Board{}
	}
	sb := b.seasons[name]
	if sb == nil {
		sb = NewBoard()
		b.seasons[name] = sb
	}
	sb.mu.Lock()
	sb.set(id, points)
	sb.seq, sb.at = b.seq, b.at
	sb.mu.Unlock()
}

// dropSeasonsBefore forgets the season boards older than oldest (hold b.mu).
func (b *Board) dropSeasonsBefore(oldest string) {
	for name := range b.seasons {
		if name < oldest {
			delete(b.seasons, name)
		}
	}
}

// SeasonDashboard answers from the board of season name as Dashboard does
// from the all-time board (the same waiting for the latest change, the same
// stale marking). While no board is loaded it is ErrNotReady: partial
// answers exist for the all-time board only.
func (r *Replica) SeasonDashboard(ctx context.Context, name string, id uint64, n, k int) (Dashboard, error) {
	if r.board.Load() == nil {
		return Dashboard{}, ErrNotReady
	}
	return r.answer(ctx, func(b *Board) Dashboard { return b.seasonBoard(name).Dashboard(id, n, k) })
}

// SeasonDashboard answers from the season board of the embedded store.
func (l Local) SeasonDashboard(_ context.Context, name string, id uint64, n, k int) (Dashboard, error) {
	return l.season(name).Dashboard(id, n, k), nil
}
