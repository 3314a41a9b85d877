package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// gatedIndex records each call's size; a call waits until the gate opens,
// so the callers that arrive meanwhile queue up in the Coalescer.
type gatedIndex struct {
	gate  chan struct{}
	mu    sync.Mutex
	calls []int
	fail  bool
}

func (s *gatedIndex) Apply(_ context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
	s.mu.Lock()
	s.calls = append(s.calls, len(cs))
	s.mu.Unlock()
	<-s.gate
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return nil, errors.New("down")
	}
	out := make([]ledger.Outcome, len(cs))
	for i, c := range cs {
		out[i] = ledger.Outcome{Entry: ledger.Entry{Change: c}}
	}
	return out, nil
}

// taken is how many changes the calls so far took.
func (s *gatedIndex) taken() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

func TestCoalescer(t *testing.T) {
	t.Parallel()
	idx := &gatedIndex{gate: make(chan struct{})}
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
	// Open the gate once every caller is in a call or queued behind one.
	testenv.Eventually(t, 10*time.Second, time.Millisecond, func() error {
		c.mu.Lock()
		queued := 0
		for _, r := range c.pending {
			queued += len(r.changes)
		}
		c.mu.Unlock()
		if taken := idx.taken(); taken+queued != 400 {
			return fmt.Errorf("%d changes in calls and %d queued, want 400", taken, queued)
		}
		return nil
	})
	close(idx.gate)
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
	idx.mu.Lock()
	idx.fail = true
	idx.mu.Unlock()
	if _, err := c.Apply(context.Background(), []ledger.Change{{ID: "x"}}); err == nil {
		t.Fatal("want the index's error")
	}
}
