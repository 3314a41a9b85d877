package embedded

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/xyz/loyalty/ledger"
)

// tornFile writes the first half of its next write, then fails it, like a
// disk filling up mid-line; or, with failSync, writes whole and fails the
// sync. Later calls go through.
type tornFile struct {
	*os.File
	failSync, failTruncate, failed bool
}

var errDisk = errors.New("no space left on device")

func (f *tornFile) Write(b []byte) (int, error) {
	if f.failed || f.failSync {
		return f.File.Write(b)
	}
	f.failed = true
	n, _ := f.File.Write(b[:len(b)/2])
	return n, errDisk
}

func (f *tornFile) Truncate(size int64) error {
	if f.failTruncate {
		return errors.New("input/output error")
	}
	return f.File.Truncate(size)
}

func (f *tornFile) Sync() error {
	if f.failSync && !f.failed {
		f.failed = true
		return errDisk
	}
	return f.File.Sync()
}

// failedWrite opens a store in a new directory, applies a change (customer
// 1: 5 points), then applies another (customer 2: 7 points) through f,
// which fails it, and returns the store and its directory.
func failedWrite(t *testing.T, f *tornFile) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(context.Background(), []ledger.Change{change("a", 1, 5)}); err != nil {
		t.Fatal(err)
	}
	f.File = s.f.(*os.File)
	s.f = f
	if _, err := s.Apply(context.Background(), []ledger.Change{change("b", 2, 7)}); !errors.Is(err, errDisk) {
		t.Fatalf("Apply with the disk failing = %v, want its error", err)
	}
	return s, dir
}

// TestFailedWriteLeavesNoTornLine: a change whose ledger write (or sync)
// fails is reported failed and leaves nothing in the file, so the changes
// after it are readable at the next start, and it can be sent again.
func TestFailedWriteLeavesNoTornLine(t *testing.T) {
	for _, failSync := range []bool{false, true} {
		ctx := context.Background()
		s, dir := failedWrite(t, &tornFile{failSync: failSync})
		for _, c := range []ledger.Change{change("c", 3, 9), change("b", 2, 7)} {
			if out, err := s.Apply(ctx, []ledger.Change{c}); err != nil || out[0].Replayed {
				t.Fatalf("failSync %v: Apply %s after the failure = %+v, %v; want it applied", failSync, c.ID, out, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("failSync %v: reopen after a failed write: %v", failSync, err)
		}
		for id, want := range map[uint64]int64{1: 5, 2: 7, 3: 9} {
			if got := s.Board().Balance(id); got != want {
				t.Errorf("failSync %v: customer %d has %d after reopening, want %d", failSync, id, got, want)
			}
		}
		s.Close()
	}
}

// TestWriteNotUndoneStopsTheStore: when a failed write can't be cut back
// either, the store takes no more changes (none would be readable after
// the torn line); a restart cuts the torn line off and goes on.
func TestWriteNotUndoneStopsTheStore(t *testing.T) {
	ctx := context.Background()
	s, dir := failedWrite(t, &tornFile{failTruncate: true})
	if _, err := s.Apply(ctx, []ledger.Change{change("c", 3, 9)}); !errors.Is(err, errDisk) {
		t.Fatalf("Apply after a write that could not be undone = %v, want the store stopped", err)
	}
	s.Close()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if out, err := s.Apply(ctx, []ledger.Change{change("b", 2, 7)}); err != nil || out[0].Replayed || s.Board().Balance(1) != 5 {
		t.Fatalf("after the restart: %+v, %v, customer 1 has %d", out, err, s.Board().Balance(1))
	}
}
