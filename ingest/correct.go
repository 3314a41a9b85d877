package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xyz/loyalty/ledger"
)

// Recaller finds the change ids an index remembers, with their entries
// (redisindex.Index.Recall, embedded.Store.Recall).
type Recaller interface {
	Recall(ctx context.Context, ids []string) (map[string]ledger.Entry, error)
}

// ErrNotFound means a correction named an order that was never applied:
// there is nothing to correct (send it as a new order).
var ErrNotFound = errors.New("order not found")

// chainProbe is how many change ids of an order's history one lookup asks
// for: the order and its first corrections.
const chainProbe = 8

// WithRecall gives the writer the index's memory of change ids, which
// corrections read (with the ledger) to find an order's history. It returns
// the writer.
func (w *Writer) WithRecall(r Recaller) *Writer {
	w.recall = r
	return w
}

// Correct corrects an order applied before with other content: o is the
// whole order as it should have been. The difference between o's points and
// the points the order stands at (the original's plus earlier corrections')
// is applied as a new change, the order's next correction (change id
// "orderId#n", cause correction), kept in the ledger beside the original.
// Sending the same correction again changes nothing and answers the
// correction (Replayed); a correction to the content the order already has
// answers its latest change (Replayed). The customer can't be corrected:
// refund the order and send a new one. An order never applied is
// ErrNotFound. Two different corrections of one order at the same moment:
// one applies, the other is ErrConflict (read the order again and retry).
func (w *Writer) Correct(ctx context.Context, o Order, actor string) (ledger.Outcome, error) {
	target, err := w.change(o, actor)
	if err != nil {
		return ledger.Outcome{}, err
	}
	chain, err := w.history(ctx, o.ID)
	if err != nil {
		return ledger.Outcome{}, err
	}
	if len(chain) == 0 {
		return ledger.Outcome{}, fmt.Errorf("correct order %s: %w: it was never applied; send it with POST", o.ID, ErrNotFound)
	}
	if c := chain[0].CustomerID; c != o.CustomerID {
		return ledger.Outcome{}, &FieldError{"customerId", fmt.Sprintf("can't be corrected (the order is customer %d's): refund the order and send a new one for the right customer", c)}
	}
	latest := chain[len(chain)-1]
	if sameContent(latest.Change, target) {
		return ledger.Outcome{Entry: latest, Replayed: true}, nil
	}
	var stands int64
	for _, e := range chain {
		stands += e.Points
	}
	corr := target
	corr.ID = ledger.CorrectionID(o.ID, len(chain))
	corr.Cause = ledger.CauseCorrection
	corr.Points = target.Points - stands
	corr.Seal()
	return w.applyOne(ctx, corr)
}

// history returns an order's applied changes, the original first, then its
// corrections in order, each whole: from the index's memory and the ledger.
func (w *Writer) history(ctx context.Context, orderID string) ([]ledger.Entry, error) {
	var chain []ledger.Entry
	for start := 0; ; start += chainProbe {
		ids := make([]string, 0, chainProbe)
		for n := start; n < start+chainProbe; n++ {
			if n == 0 {
				ids = append(ids, orderID)
			} else {
				ids = append(ids, ledger.CorrectionID(orderID, n))
			}
		}
		found := map[string]ledger.Entry{}
		if w.recall != nil {
			var err error
			if found, err = w.recall.Recall(ctx, ids); err != nil {
				return nil, fmt.Errorf("read order %s: %w", orderID, err)
			}
		}
		var ask []string
		for _, id := range ids {
			if e, ok := found[id]; !ok || e.CustomerID == 0 {
				ask = append(ask, id)
			}
		}
		if len(ask) > 0 && w.hist != nil {
			old, err := w.hist.Lookup(ctx, ask)
			if err != nil {
				return nil, fmt.Errorf("read order %s from the ledger: %w", orderID, err)
			}
			for id, e := range old {
				found[id] = e
			}
		}
		for _, id := range ids {
			e, ok := found[id]
			if !ok {
				return chain, nil
			}
			if e.CustomerID == 0 {
				return nil, fmt.Errorf("%w: change %s of order %s is neither in the change log nor yet in the ledger; retry shortly", ErrUnavailable, id, orderID)
			}
			chain = append(chain, e)
		}
	}
}

// sameContent reports whether two changes carry the same order content
// (whatever their ids, causes and points).
func sameContent(a, b ledger.Change) bool {
	return a.CustomerID == b.CustomerID && a.Channel == b.Channel && a.StoreID == b.StoreID &&
		a.Amount.Equal(b.Amount) && strings.EqualFold(a.Currency, b.Currency) && slices.Equal(a.ItemIDs, b.ItemIDs) &&
		a.OccurredAt.Equal(b.OccurredAt)
}
