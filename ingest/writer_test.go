package ingest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// fakeIndex forgets the ids in forgot: it answers NeedLedger (mark 42) for
// them unless they come checked, like redisindex.Index past its window.
type fakeIndex struct {
	forgot  map[string]bool
	always  bool // ask for the ledger even when checked (a ledger that never catches up)
	got     []string
	checked map[string]uint64
}

func (f *fakeIndex) Apply(_ context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
	var out []ledger.Outcome
	for _, c := range cs {
		if f.forgot[c.ID] && (!c.Checked || f.always) {
			return append(out, ledger.Outcome{NeedLedger: true, Mark: 42}), nil
		}
		if c.Checked {
			f.checked[c.ID] = c.CheckedMark
		}
		f.got = append(f.got, c.ID)
		out = append(out, ledger.Outcome{Entry: ledger.Entry{Change: c, Seq: uint64(len(f.got))}})
	}
	return out, nil
}

type fakeHistory struct {
	asked []string
	has   map[string]ledger.Entry
}

func (f *fakeHistory) Lookup(_ context.Context, ids []string) (map[string]ledger.Entry, error) {
	f.asked = append(f.asked, ids...)
	return f.has, nil
}

func mk(id string, pts int64) ledger.Change {
	c := ledger.Change{ID: id, CustomerID: 1, Points: pts, Cause: ledger.CauseOrder, OccurredAt: time.Date(2010, 12, 1, 8, 0, 0, 0, time.UTC)}
	c.Seal()
	return c
}

// TestWriterAsksTheLedger: where the index no longer remembers an id, the
// ledger is searched for it and every change after it; found ones are
// replays or conflicts and never reach the index, the others go back
// checked at the index's mark, in their order.
func TestWriterAsksTheLedger(t *testing.T) {
	t.Parallel()
	recent, old, known, conflict, other := mk("recent", 5), mk("old", 5), mk("known", 5), mk("conflict", 5), mk("conflict", 7)
	idx := &fakeIndex{forgot: map[string]bool{"old": true, "known": true, "conflict": true}, checked: map[string]uint64{}}
	hist := &fakeHistory{has: map[string]ledger.Entry{"known": {Change: known, Seq: 9}, "conflict": {Change: other, Seq: 10}}}
	w := NewWriter(idx, hist, nil)
	later := mk("later", 3)
	out, err := w.Apply(context.Background(), []ledger.Change{recent, old, known, conflict, later})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"old", "known", "conflict", "later"}; !slices.Equal(hist.asked, want) {
		t.Fatalf("ledger asked about %v, want %v", hist.asked, want)
	}
	if want := []string{"recent", "old", "later"}; !slices.Equal(idx.got, want) {
		t.Fatalf("index applied %v, want %v", idx.got, want)
	}
	if idx.checked["old"] != 42 {
		t.Fatalf("old applied with mark %d, want the index's 42", idx.checked["old"])
	}
	if out[0].Seq != 1 || out[1].Seq != 2 || out[1].Replayed || !out[2].Replayed || out[2].Seq != 9 ||
		!errors.Is(out[3].Err, ledger.ErrConflict) || out[4].Seq != 3 {
		t.Fatalf("outcomes %+v", out)
	}
}

// TestWriterLedgerBehind: an index that still can't decide after the
// ledger was searched (the shipper is behind) makes the write unavailable,
// after a bounded number of lookups; without a ledger it is unavailable at
// once.
func TestWriterLedgerBehind(t *testing.T) {
	t.Parallel()
	idx := &fakeIndex{forgot: map[string]bool{"old": true}, always: true, checked: map[string]uint64{}}
	hist := &fakeHistory{}
	_, err := NewWriter(idx, hist, nil).Apply(context.Background(), []ledger.Change{mk("old", 1)})
	if !errors.Is(err, ErrUnavailable) || len(hist.asked) != maxLedgerRounds {
		t.Fatalf("err %v after %d lookups, want ErrUnavailable after %d", err, len(hist.asked), maxLedgerRounds)
	}
	_, err = NewWriter(idx, nil, nil).Apply(context.Background(), []ledger.Change{mk("old", 1)})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("without a ledger: err %v, want ErrUnavailable", err)
	}
}
