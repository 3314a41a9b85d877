package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
)

// Index applies changes atomically and exactly once by change id, within
// the ids it remembers: the Redis index (histogram.Index) or the embedded
// store.
type Index interface {
	Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error)
}

// History finds changes already in the ledger: the memory of change ids
// older than the index keeps.
type History interface {
	Lookup(ctx context.Context, ids []string) (map[string]ledger.Entry, error)
}

// ErrUnavailable means a store needed to decide was unreachable; nothing of
// the affected changes was applied and a retry is safe.
var ErrUnavailable = errors.New("store unavailable")

// Config configures the Writer.
type Config struct {
	// DedupeDays is how many days the index remembers a change id after
	// applying it. Changes that happened earlier than that are first looked up
	// in the ledger. 0: the index remembers every id (the embedded store).
	DedupeDays int
}

// Writer is the one write path for orders and manual points: validation, the
// points rule, exactly-once application to the index (which also queues the
// ledger entry). Safe for concurrent use.
type Writer struct {
	idx  Index
	hist History
	rule *points.Rule
	cfg  Config
	now  func() time.Time
}

// NewWriter returns a writer. hist may be nil when cfg.DedupeDays is 0.
func NewWriter(idx Index, hist History, rule *points.Rule, cfg Config) *Writer {
	return &Writer{idx: idx, hist: hist, rule: rule, cfg: cfg, now: time.Now}
}

// Rule returns the points rule in use.
func (w *Writer) Rule() *points.Rule { return w.rule }

// ApplyOrder validates one order and applies it.
func (w *Writer) ApplyOrder(ctx context.Context, o Order, actor string) (ledger.Outcome, error) {
	if err := o.Validate(w.now()); err != nil {
		return ledger.Outcome{}, err
	}
	if o.CustomerID == 0 {
		return ledger.Outcome{}, &FieldError{"customerId", "is required"}
	}
	c, err := o.Change(w.rule, actor)
	if err != nil {
		return ledger.Outcome{}, err
	}
	out, err := w.Apply(ctx, []ledger.Change{c})
	if err != nil {
		return ledger.Outcome{}, err
	}
	return out[0], nil
}

// Apply applies sealed changes in order; outcome i belongs to changes[i].
// Changes whose time is before the index's memory are checked against the
// ledger first: found there, they are replays (or conflicts) and not applied.
func (w *Writer) Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error) {
	out := make([]ledger.Outcome, len(changes))
	var old []string
	if w.cfg.DedupeDays > 0 {
		// The index remembers the ids applied on each of the last DedupeDays
		// days and today, on Redis's clock, and looks from the day a change
		// happened. A change from before that is checked in the ledger; the
		// horizon is a day later than strictly needed, so a clock a day behind
		// Redis's still decides safely.
		horizon := w.now().UTC().Truncate(24 * time.Hour).Add(-time.Duration(w.cfg.DedupeDays-1) * 24 * time.Hour)
		for _, c := range changes {
			if c.OccurredAt.Before(horizon) {
				old = append(old, c.ID)
			}
		}
	}
	known := map[string]ledger.Entry{}
	if len(old) > 0 {
		if w.hist == nil {
			return nil, fmt.Errorf("%w: no ledger to check changes older than %d days", ErrUnavailable, w.cfg.DedupeDays)
		}
		var err error
		if known, err = w.hist.Lookup(ctx, old); err != nil {
			return nil, fmt.Errorf("%w: check %d old changes in the ledger: %v", ErrUnavailable, len(old), err)
		}
	}
	todo := make([]ledger.Change, 0, len(changes))
	at := make([]int, 0, len(changes))
	for i, c := range changes {
		if e, ok := known[c.ID]; ok {
			out[i] = ledger.Outcome{Entry: e, Replayed: true}
			if e.Digest != c.Digest {
				out[i] = ledger.Outcome{Entry: e, Err: fmt.Errorf("change %s: %w", c.ID, ledger.ErrConflict)}
			}
			continue
		}
		todo = append(todo, c)
		at = append(at, i)
	}
	res, err := w.idx.Apply(ctx, todo)
	for j, o := range res {
		out[at[j]] = o
	}
	if err != nil {
		return out[:0], fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return out, nil
}
