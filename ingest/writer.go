package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
	"github.com/xyz/loyalty/season"
)

// Index applies changes atomically and exactly once by change id: the Redis
// index (redisindex.Index) or the embedded store. It answers outcomes for a
// prefix of the changes: when it no longer remembers whether it applied a
// change id, that outcome has NeedLedger set and the changes after it are
// not attempted (see ledger.Outcome).
type Index interface {
	Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error)
}

// History finds changes already in the ledger: the memory of change ids
// older than the index keeps.
type History interface {
	Lookup(ctx context.Context, ids []string) (map[string]ledger.Entry, error)
}

// ErrUnavailable means a store needed to decide was unreachable, or the
// ledger is not yet able to decide; nothing of the affected changes was
// applied and a retry is safe. It is ledger.ErrUnavailable, the class the
// stores' own outage errors are in: the Writer passes the stores' errors on
// with their class and makes none of them an outage.
var ErrUnavailable = ledger.ErrUnavailable

// maxLedgerRounds bounds the ledger lookups of one Apply: more means the
// ledger is behind the index's memory (the shipper is stuck).
const maxLedgerRounds = 3

// Writer is the one write path for orders and manual points: validation, the
// points rule, exactly-once application to the index (which also queues the
// ledger entry). Safe for concurrent use.
type Writer struct {
	idx     Index
	hist    History
	recall  Recaller
	rule    *points.Rule
	seasons season.Calendar
	now     func() time.Time
}

// NewWriter returns a writer. hist may be nil for an index that remembers
// every change id (the embedded store).
func NewWriter(idx Index, hist History, rule *points.Rule) *Writer {
	return &Writer{idx: idx, hist: hist, rule: rule, now: time.Now}
}

// WithClock makes the writer read the time from now (validation's bound on
// a purchase's time) and returns it. For tests of skewed clocks.
func (w *Writer) WithClock(now func() time.Time) *Writer {
	w.now = now
	return w
}

// WithSeasons makes every change also move the season board of its time
// (Change.Season) and returns the writer.
func (w *Writer) WithSeasons(c season.Calendar) *Writer {
	w.seasons = c
	return w
}

// Rule returns the points rule in use.
func (w *Writer) Rule() *points.Rule { return w.rule }

// ApplyOrder validates one order and applies it.
func (w *Writer) ApplyOrder(ctx context.Context, o Order, actor string) (ledger.Outcome, error) {
	c, err := w.change(o, actor)
	if err != nil {
		return ledger.Outcome{}, err
	}
	return w.applyOne(ctx, c)
}

// change validates o, which must name a customer, and returns its change.
func (w *Writer) change(o Order, actor string) (ledger.Change, error) {
	if err := o.Validate(w.now()); err != nil {
		return ledger.Change{}, err
	}
	if o.CustomerID == 0 {
		return ledger.Change{}, &FieldError{"customerId", "is required"}
	}
	return o.Change(w.rule, actor)
}

// applyOne applies one sealed change.
func (w *Writer) applyOne(ctx context.Context, c ledger.Change) (ledger.Outcome, error) {
	out, err := w.Apply(ctx, []ledger.Change{c})
	if err != nil {
		return ledger.Outcome{}, err
	}
	return out[0], nil
}

// Apply applies sealed changes in order; outcome i belongs to changes[i].
// The index decides each change id; where it no longer remembers one, the
// ledger is searched, and the change is applied only if the ledger does not
// hold it either (found there, it is a replay or a conflict).
func (w *Writer) Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error) {
	out := make([]ledger.Outcome, len(changes))
	cur := append([]ledger.Change(nil), changes...)
	todo := make([]int, len(changes))
	for i := range todo {
		todo[i] = i
		cur[i].Season = w.seasons.Of(cur[i].OccurredAt)
	}
	for round := 0; len(todo) > 0; round++ {
		batch := make([]ledger.Change, len(todo))
		for j, i := range todo {
			batch[j] = cur[i]
		}
		res, err := w.idx.Apply(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(res) > len(batch) || (len(res) < len(batch) && (len(res) == 0 || !res[len(res)-1].NeedLedger)) {
			return nil, fmt.Errorf("index answered %d outcomes for %d changes", len(res), len(batch))
		}
		for j, o := range res {
			out[todo[j]] = o
		}
		if len(res) == 0 || !res[len(res)-1].NeedLedger {
			return out, nil
		}
		if w.hist == nil {
			return nil, fmt.Errorf("%w: change %s is older than the index remembers, and there is no ledger to look it up in", ErrUnavailable, batch[len(res)-1].ID)
		}
		if round == maxLedgerRounds {
			return nil, fmt.Errorf("%w: the ledger is behind the index's memory of change ids (is the shipper running?): change %s can't be decided yet", ErrUnavailable, batch[len(res)-1].ID)
		}
		// Search the ledger for every change from the one the index could not
		// decide on, in one lookup.
		rest := todo[len(res)-1:]
		mark := res[len(res)-1].Mark
		ids := make([]string, len(rest))
		for j, i := range rest {
			ids[j] = cur[i].ID
		}
		known, err := w.hist.Lookup(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("look up %d changes in the ledger: %w", len(ids), err)
		}
		todo = make([]int, 0, len(rest))
		for _, i := range rest {
			if e, ok := known[cur[i].ID]; ok {
				out[i] = ledger.Outcome{Entry: e, Replayed: true}
				if e.Digest != cur[i].Digest {
					out[i] = ledger.Outcome{Entry: e, Err: fmt.Errorf("change %s: %w", cur[i].ID, ledger.ErrConflict)}
				}
				continue
			}
			cur[i].Checked, cur[i].CheckedMark = true, mark
			todo = append(todo, i)
		}
	}
	return out, nil
}
