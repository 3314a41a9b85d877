package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// TestRunBatchesSpanFiles: many small files (a store's day in the retail
// export is one file of a few dozen orders) share batches, so the ledger is
// looked up once per Batch orders rather than once per file; every file,
// empty ones too, is counted with its rows, and every order is applied once
// in file order.
func TestRunBatchesSpanFiles(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	old := now.Add(-72 * time.Hour)
	files := map[string][]row{}
	var paths, want []string
	for i := 0; i < 30; i++ {
		path := fmt.Sprintf("day-%02d.csv", i)
		paths = append(paths, path)
		var rows []row
		for j := 0; j < i%4; j++ { // 0 to 3 orders: some files are empty
			id := fmt.Sprintf("o-%d-%d", i, j)
			rows = append(rows, row{o: order(id, uint64(1+j), "10", old)})
			want = append(want, id)
		}
		files[path] = rows
	}
	f := &fakeApplier{rule: testRule(t)}
	check := &fakeCheck{has: map[string]bool{}}
	var lookups int
	counting := lookupCounter{check, &lookups}
	run := NewRun(RunConfig{Recent: 24 * time.Hour, Batch: 2000}, f, counting, nil, sources(files), func(Reject) error { return nil })
	run.now = func() time.Time { return now }
	if err := run.Files(context.Background(), paths); err != nil {
		t.Fatal(err)
	}
	if lookups != 1 {
		t.Errorf("%d ledger look-ups for 30 files of %d orders, want 1 (one batch)", lookups, len(want))
	}
	c := run.Counts()
	if c.Files != 30 || c.Rows != int64(len(want)) || c.Applied != int64(len(want)) || c.File != paths[29] || c.FileRows != 1 {
		t.Errorf("counts %+v, want 30 files, %d rows and orders, ending in %s at row 1", c, len(want), paths[29])
	}
	if len(f.got) != len(want) {
		t.Fatalf("%d changes applied, want %d", len(f.got), len(want))
	}
	for i, ch := range f.got {
		if ch.ID != want[i] {
			t.Fatalf("change %d is %s, want %s (file order)", i, ch.ID, want[i])
		}
	}
}

// lookupCounter counts the ledger look-ups of a LedgerCheck.
type lookupCounter struct {
	*fakeCheck
	n *int
}

func (l lookupCounter) Lookup(ctx context.Context, ids []string) (map[string]ledger.Entry, error) {
	*l.n++
	return l.fakeCheck.Lookup(ctx, ids)
}
