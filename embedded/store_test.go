package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/ledger"
)

func change(id string, customer uint64, pts int64) ledger.Change {
	c := ledger.Change{ID: id, CustomerID: customer, Points: pts, Cause: ledger.CauseOrder, OccurredAt: time.Unix(1700000000, 0).UTC()}
	c.Seal()
	return c
}

func TestStoreExactlyOnceAndRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	o := oracle.New()
	var cs []ledger.Change
	for i := 0; i < 500; i++ {
		cs = append(cs, change(fmt.Sprintf("o%d", i), uint64(i%37)+1, int64(i%11)-3))
	}
	cs = append(cs, cs[3]) // a replay inside the batch
	out, err := s.Apply(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cs[:500] {
		d, b := o.Add(c.CustomerID, c.Points)
		if out[i].Delta != d || out[i].Balance != b || out[i].Seq != uint64(i+1) {
			t.Fatalf("%s: %+v, want delta %d balance %d", c.ID, out[i], d, b)
		}
	}
	if !out[500].Replayed || out[500].Seq != 4 {
		t.Fatalf("replay: %+v", out[500])
	}
	conflict := change("o7", 1, 99)
	if out, _ := s.Apply(ctx, []ledger.Change{conflict}); !errors.Is(out[0].Err, ledger.ErrConflict) {
		t.Fatalf("conflict: %+v", out[0])
	}
	s.Close()
	// A torn last line, as a crash mid-write leaves it, is cut off.
	f, _ := os.OpenFile(filepath.Join(dir, "ledger.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"torn","customer_id":1,"po`)
	f.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id := uint64(1); id <= 38; id++ {
		if diff := oracle.Diff(s.Board().Dashboard(id, 5, 2), o.Dashboard(id, 5, 2)); diff != "" {
			t.Fatalf("after restart, customer %d: %s", id, diff)
		}
	}
	// Replays after the restart change nothing; new changes continue the seq.
	out, err = s.Apply(ctx, []ledger.Change{cs[0], change("new", 2, 5)})
	if err != nil || !out[0].Replayed || out[1].Seq != 501 {
		t.Fatalf("after restart: %+v %v", out, err)
	}
}
