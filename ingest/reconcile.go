package ingest

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/season"
)

// ReconcileIndex is what Reconcile reads of the Redis index
// (redisindex.Index): each board's balances of a generation, and the dead
// letters.
type ReconcileIndex interface {
	Generation(ctx context.Context) (uint64, error)
	Scan(ctx context.Context, gen uint64, fn func(id uint64, points int64) error) error
	ScanSeason(ctx context.Context, gen uint64, name string, fn func(id uint64, points int64) error) error
	DeadLetters(ctx context.Context) ([]ledger.DeadLetter, error)
}

// ReconcileConfig configures Reconcile.
type ReconcileConfig struct {
	// Seasons and SeasonsKept are the season boards compared besides the
	// all-time board, as in RebuildConfig.
	Seasons     season.Calendar
	SeasonsKept int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Difference is a customer whose balance on a board differs between the
// index and the ledger.
type Difference struct {
	Board      string // "" for the all-time board, else the season's name
	CustomerID uint64
	Redis      int64 // the index's balance (0: not on the board)
	Ledger     int64 // the ledger's balance
}

// Reconciliation is what Reconcile found.
type Reconciliation struct {
	SeasonBoards int          // season boards compared besides the all-time board
	AllTime      []Difference // in customer id order
	Season       []Difference // in board, then customer id order
	DeadLetters  []ledger.DeadLetter
}

// Clean reports whether the index and the ledger agree and no dead letter is
// pending.
func (r Reconciliation) Clean() bool {
	return len(r.AllTime) == 0 && len(r.Season) == 0 && len(r.DeadLetters) == 0
}

// WithDeadLetter returns how many of the all-time differences are of a
// customer with a pending dead letter (whose change the index has and the
// ledger refused).
func (r Reconciliation) WithDeadLetter() int {
	dead := map[uint64]bool{}
	for _, d := range r.DeadLetters {
		dead[d.CustomerID] = true
	}
	n := 0
	for _, d := range r.AllTime {
		if dead[d.CustomerID] {
			n++
		}
	}
	return n
}

// Reconcile compares every customer's balance in the index with the
// ledger's (`loyalty reconcile`), on the all-time board and the kept season
// boards the ledger has changes of. Each comparison ships what waits first
// and compares the index's current generation with the ledger up to its
// last seq. Changes in flight make a customer differ for a moment: only
// those that differ twice, with the same balances both times, are reported.
// The dead letters are read last (the shipper may just have set some
// aside).
func Reconcile(ctx context.Context, cfg ReconcileConfig, ship OnceShipper, idx ReconcileIndex, led BalanceLedger) (Reconciliation, error) {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	var r Reconciliation
	seasons, err := keptSeasons(ctx, led, cfg.Seasons, cfg.SeasonsKept, now())
	if err != nil {
		return r, err
	}
	r.SeasonBoards = len(seasons)
	boards := append([]string{""}, seasons...)
	first, err := diff(ctx, ship, idx, led, boards)
	if err != nil {
		return r, err
	}
	if len(first) > 0 {
		second, err := diff(ctx, ship, idx, led, boards)
		if err != nil {
			return r, err
		}
		for _, d := range second {
			if f, ok := first[d.key()]; !ok || f != d {
				continue
			}
			if d.Board == "" {
				r.AllTime = append(r.AllTime, d)
			} else {
				r.Season = append(r.Season, d)
			}
		}
	}
	byBoardCustomer := func(a, b Difference) int {
		return cmp.Or(cmp.Compare(a.Board, b.Board), cmp.Compare(a.CustomerID, b.CustomerID))
	}
	slices.SortFunc(r.AllTime, byBoardCustomer)
	slices.SortFunc(r.Season, byBoardCustomer)
	r.DeadLetters, err = idx.DeadLetters(ctx)
	return r, err
}

// boardCustomer is one customer on one board.
type boardCustomer struct {
	board    string
	customer uint64
}

func (d Difference) key() boardCustomer { return boardCustomer{d.Board, d.CustomerID} }

// diff ships what waits, then returns the customers whose balances differ
// between the index's current generation and the ledger up to its last seq,
// on each of boards ("": all-time).
func diff(ctx context.Context, ship OnceShipper, idx ReconcileIndex, led BalanceLedger, boards []string) (map[boardCustomer]Difference, error) {
	if _, err := ship.ShipOnce(ctx); err != nil {
		return nil, err
	}
	gen, err := idx.Generation(ctx)
	if err != nil {
		return nil, err
	}
	upTo, err := led.MaxSeq(ctx)
	if err != nil {
		return nil, err
	}
	out := map[boardCustomer]Difference{}
	for _, b := range boards {
		scanIndex := func(fn func(uint64, int64) error) error { return idx.Scan(ctx, gen, fn) }
		scanLedger := func(fn func(uint64, int64) error) error { return led.BalancesUpTo(ctx, upTo, fn) }
		if b != "" {
			scanIndex = func(fn func(uint64, int64) error) error { return idx.ScanSeason(ctx, gen, b, fn) }
			scanLedger = func(fn func(uint64, int64) error) error { return led.SeasonBalancesUpTo(ctx, b, upTo, fn) }
		}
		redisBal := map[uint64]int64{}
		if err := scanIndex(func(id uint64, p int64) error { redisBal[id] = p; return nil }); err != nil {
			return nil, err
		}
		err := scanLedger(func(id uint64, p int64) error {
			if r := redisBal[id]; r != p {
				out[boardCustomer{b, id}] = Difference{Board: b, CustomerID: id, Redis: r, Ledger: p}
			}
			delete(redisBal, id)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for id, p := range redisBal {
			out[boardCustomer{b, id}] = Difference{Board: b, CustomerID: id, Redis: p}
		}
	}
	return out, nil
}
