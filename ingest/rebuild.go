package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/season"
)

// BalanceLedger is what Rebuild and Reconcile read of the ledger
// (chledger.Ledger): every customer's balance on each board as of a seq.
type BalanceLedger interface {
	MaxSeq(ctx context.Context) (uint64, error)
	// Seasons names the season boards the ledger has changes of.
	Seasons(ctx context.Context) ([]string, error)
	BalancesUpTo(ctx context.Context, upTo uint64, fn func(customerID uint64, balance int64) error) error
	SeasonBalancesUpTo(ctx context.Context, name string, upTo uint64, fn func(customerID uint64, balance int64) error) error
}

// OnceShipper ships what waits in the change log into the ledger (Shipper).
type OnceShipper interface {
	ShipOnce(ctx context.Context) (int, error)
}

// keptSeasons returns the season boards of led still kept as of now (those
// of cal from kept seasons before now's on; none when cal is not Enabled),
// in the ledger's order.
func keptSeasons(ctx context.Context, led BalanceLedger, cal season.Calendar, kept int, now time.Time) ([]string, error) {
	if !cal.Enabled() {
		return nil, nil
	}
	have, err := led.Seasons(ctx)
	if err != nil {
		return nil, err
	}
	oldest := cal.Back(now, kept)
	var names []string
	for _, name := range have {
		if name >= oldest {
			names = append(names, name)
		}
	}
	return names, nil
}

// SeasonLoad loads one season board in a rebuild: Load must put every
// customer's balance on the board of Season as of the rebuild's seq (the
// fields of redisindex.SeasonLoad).
type SeasonLoad struct {
	Season string
	Load   func(put func(id uint64, points int64) error) error
}

// RebuildIndex is what Rebuild needs of the Redis index (redisindex.Index,
// its season loads converted).
type RebuildIndex interface {
	DeadLetterCount(ctx context.Context) (int64, error)
	// Rebuild loads a new generation of the all-time board (load) and the
	// season boards as of seq upTo, replays the change log after it and
	// switches to it; it returns the new generation.
	Rebuild(ctx context.Context, upTo uint64, load func(put func(id uint64, points int64) error) error, seasons []SeasonLoad) (uint64, error)
	Remember(ctx context.Context, entries []ledger.Entry) error
}

// RebuildLedger is what Rebuild reads of the ledger (chledger.Ledger): the
// balances, and the recent changes whose ids the index must remember.
type RebuildLedger interface {
	BalanceLedger
	Since(ctx context.Context, t time.Time) ([]ledger.Entry, error)
}

// RebuildConfig configures Rebuild.
type RebuildConfig struct {
	// Seasons and SeasonsKept are the season boards: the current season
	// and the SeasonsKept before it (none when Seasons is not Enabled).
	Seasons     season.Calendar
	SeasonsKept int
	// DedupeDays is the index's memory of change ids (points.dedupe_days):
	// the ids of the ledger's last DedupeDays+1 days are remembered.
	DedupeDays int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Rebuilt is what Rebuild did.
type Rebuilt struct {
	Generation uint64 // the index's new generation
	Customers  int    // all-time balances loaded (customers with points)
	Seasons    int    // season boards loaded
	UpTo       uint64 // the ledger's last seq, which the index now stands at
	Remembered int    // recent change ids remembered
}

// DeadLettersPendingError is Rebuild's refusal while dead letters are
// pending: their changes are in the index but not in the ledger, so a
// rebuild from the ledger would take their points off.
type DeadLettersPendingError struct {
	N int64 // pending dead letters
}

func (e *DeadLettersPendingError) Error() string {
	return fmt.Sprintf("%d dead letters pending: a rebuild from the ledger would lose their points", e.N)
}

// Rebuild recreates the index from the ledger (`loyalty rebuild`) while the
// index keeps serving, then switches to the new generation: it ships what
// waits first, so the ledger is as complete as it can be (a failure is
// logged; the index's Rebuild replays the change log after the ledger's
// last seq anyway), refuses with a *DeadLettersPendingError while any dead
// letter is pending, loads the all-time board and the kept season boards
// the ledger has changes of, as of the ledger's last seq, and remembers the
// ids of the recent changes so a replayed order is still recognised.
func Rebuild(ctx context.Context, cfg RebuildConfig, ship OnceShipper, idx RebuildIndex, led RebuildLedger, log *slog.Logger) (Rebuilt, error) {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	var r Rebuilt
	if _, err := ship.ShipOnce(ctx); err != nil {
		log.Warn("rebuild: could not ship the change log first; the rebuild still replays it", "err", err)
	}
	if n, err := idx.DeadLetterCount(ctx); err != nil {
		return r, err
	} else if n > 0 {
		return r, &DeadLettersPendingError{N: n}
	}
	upTo, err := led.MaxSeq(ctx)
	if err != nil {
		return r, err
	}
	r.UpTo = upTo
	names, err := keptSeasons(ctx, led, cfg.Seasons, cfg.SeasonsKept, now())
	if err != nil {
		return r, err
	}
	seasons := make([]SeasonLoad, len(names))
	for i, name := range names {
		seasons[i] = SeasonLoad{Season: name, Load: func(put func(uint64, int64) error) error {
			return led.SeasonBalancesUpTo(ctx, name, upTo, withPoints(put, nil))
		}}
	}
	r.Seasons = len(seasons)
	r.Generation, err = idx.Rebuild(ctx, upTo, func(put func(uint64, int64) error) error {
		return led.BalancesUpTo(ctx, upTo, withPoints(put, &r.Customers))
	}, seasons)
	if err != nil {
		return r, err
	}
	recent, err := led.Since(ctx, now().Add(-time.Duration(cfg.DedupeDays+1)*24*time.Hour))
	if err != nil {
		return r, err
	}
	if err := idx.Remember(ctx, recent); err != nil {
		return r, err
	}
	r.Remembered = len(recent)
	return r, nil
}

// withPoints passes on the balances that are not zero (a customer whose
// changes sum to nothing is not on a board), counting them in n (nil: not
// counted).
func withPoints(put func(uint64, int64) error, n *int) func(uint64, int64) error {
	return func(id uint64, p int64) error {
		if p == 0 {
			return nil
		}
		if n != nil {
			*n++
		}
		return put(id, p)
	}
}
