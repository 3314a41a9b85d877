package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// Coalescer is an Index that merges concurrent Apply calls into fewer calls
// of the index underneath: while Parallel calls are in flight, the changes
// that arrive queue up and go together in the next, in arrival order. Under
// load, many single-order requests share one script call; alone, a request
// waits for nothing. Safe for concurrent use.
type Coalescer struct {
	idx      Index
	max      int
	parallel int
	timeout  time.Duration

	mu      sync.Mutex
	pending []*applyReq
	running int
}

type applyReq struct {
	changes []ledger.Change
	out     []ledger.Outcome
	err     error
	done    chan struct{}
}

// How the service wires a Coalescer (cmd/loyalty, the bench).
const (
	// CallChanges is the most changes one index call takes; it matches the
	// Redis index's BatchSize (redisindex.DefaultConfig).
	CallChanges = 256
	// CallsInFlight is how many index calls run at once.
	CallsInFlight = 4
	// CallTimeout bounds one index call.
	CallTimeout = 5 * time.Second
)

// NewCoalescer returns a Coalescer over idx with up to parallel calls in
// flight, each of at most batch changes (a larger single request still goes
// whole) and bounded by timeout.
func NewCoalescer(idx Index, batch, parallel int, timeout time.Duration) *Coalescer {
	return &Coalescer{idx: idx, max: batch, parallel: max(parallel, 1), timeout: timeout}
}

// Apply queues changes and returns their outcomes once applied: for a prefix
// of them when the index stops at a change that needs the ledger (see
// Index). If ctx ends
// first the outcome is unknown (the changes may still apply): retrying is
// safe, as with any Apply.
func (c *Coalescer) Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error) {
	r := &applyReq{changes: changes, done: make(chan struct{})}
	c.mu.Lock()
	c.pending = append(c.pending, r)
	if c.running < c.parallel {
		c.running++
		go c.run()
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Coalescer) run() {
	for {
		c.mu.Lock()
		n, take := 0, 0
		for take < len(c.pending) && (take == 0 || n+len(c.pending[take].changes) <= c.max) {
			n += len(c.pending[take].changes)
			take++
		}
		batch := c.pending[:take:take]
		c.pending = c.pending[take:]
		if take == 0 {
			c.running--
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		all := batch[0].changes
		if len(batch) > 1 {
			all = make([]ledger.Change, 0, n)
			for _, r := range batch {
				all = append(all, r.changes...)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		out, err := c.idx.Apply(ctx, all)
		cancel()
		at := 0
		var again []*applyReq
		for _, r := range batch {
			switch {
			case err != nil:
				r.err = err
			case at >= len(out) && len(r.changes) > 0:
				// The index stopped before this request (a change before it
				// needs the ledger): it goes again, first in the queue.
				again = append(again, r)
				continue
			default:
				r.out = out[at:min(at+len(r.changes), len(out))]
			}
			at += len(r.changes)
			close(r.done)
		}
		if len(again) > 0 {
			c.mu.Lock()
			c.pending = append(again, c.pending...)
			c.mu.Unlock()
		}
	}
}
