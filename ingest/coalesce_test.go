package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// slowIndex records each call's size and answers after a pause, so calls
// overlap.
type slowIndex struct {
	mu    sync.Mutex
	calls []int
	fail  bool
}

func (s *slowIndex) Apply(_ context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
	time.Sleep(2 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, len(cs))
	if s.fail {
		return nil, errors.New("down")
	}
	out := make([]ledger.Outcome, len(cs))
	for i, c := range cs {
		out[i] = ledger.Outcome{Entry: ledger.Entry{Change: c}}
	}
	return out, nil
}

func TestCoalescer(t *testing.T) {
	idx := &slowIndex{}
	c := NewCoalescer(idx, 64, 2, time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 200; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cs := []ledger.Change{{ID: fmt.Sprintf("a%d", g)}, {ID: fmt.Sprintf("b%d", g)}}
			out, err := c.Apply(context.Background(), cs)
			if err == nil && (len(out) != 2 || out[0].ID != cs[0].ID || out[1].ID != cs[1].ID) {
				err = fmt.Errorf("caller %d got %+v", g, out)
			}
			if err != nil {
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for _, n := range idx.calls {
		if n > 64 {
			t.Fatalf("a call of %d changes, max 64", n)
		}
		total += n
	}
	if total != 400 || len(idx.calls) >= 200 {
		t.Fatalf("%d changes in %d calls: want 400 in fewer calls than callers", total, len(idx.calls))
	}
	// A failed call fails every caller in it.
	idx.fail = true
	if _, err := c.Apply(context.Background(), []ledger.Change{{ID: "x"}}); err == nil {
		t.Fatal("want the index's error")
	}
}
