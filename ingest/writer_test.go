package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/xyz/loyalty/ledger"
)

type fakeIndex struct{ got []string }

func (f *fakeIndex) Apply(_ context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
	out := make([]ledger.Outcome, len(cs))
	for i, c := range cs {
		f.got = append(f.got, c.ID)
		out[i] = ledger.Outcome{Entry: ledger.Entry{Change: c, Seq: uint64(len(f.got))}}
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

// TestWriterHorizon: changes from before the index's memory are looked up in
// the ledger; found ones are replays or conflicts and never reach the index.
func TestWriterHorizon(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 30, 0, 0, time.UTC)
	mk := func(id string, at time.Time, pts int64) ledger.Change {
		c := ledger.Change{ID: id, CustomerID: 1, Points: pts, Cause: ledger.CauseOrder, OccurredAt: at}
		c.Seal()
		return c
	}
	old := mk("old", now.Add(-2*time.Hour), 5) // yesterday
	known := mk("known", now.Add(-48*time.Hour), 5)
	conflict := mk("conflict", now.Add(-48*time.Hour), 5)
	other := mk("conflict", now.Add(-48*time.Hour), 7)
	today := mk("today", now.Add(-10*time.Minute), 5)
	idx := &fakeIndex{}
	hist := &fakeHistory{has: map[string]ledger.Entry{"known": {Change: known, Seq: 9}, "conflict": {Change: other, Seq: 10}}}
	w := NewWriter(idx, hist, nil, Config{DedupeDays: 1})
	w.now = func() time.Time { return now }
	out, err := w.Apply(context.Background(), []ledger.Change{old, known, conflict, today})
	if err != nil {
		t.Fatal(err)
	}
	if got := hist.asked; len(got) != 3 || got[0] != "old" || got[1] != "known" || got[2] != "conflict" {
		t.Fatalf("ledger asked about %v, want old, known, conflict (not today's)", got)
	}
	if len(idx.got) != 2 || idx.got[0] != "old" || idx.got[1] != "today" {
		t.Fatalf("index got %v, want old and today", idx.got)
	}
	if !out[1].Replayed || out[1].Seq != 9 || out[2].Err == nil || out[0].Replayed || out[3].Replayed {
		t.Fatalf("outcomes %+v", out)
	}
}
