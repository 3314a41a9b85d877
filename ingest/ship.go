package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// Outbox is the index's queue of applied entries not yet in the ledger.
type Outbox interface {
	Entries(ctx context.Context, after uint64, count int64) ([]ledger.Entry, error)
	Shipped(ctx context.Context) (uint64, error)
	MarkShipped(ctx context.Context, seq uint64) error
	Seq(ctx context.Context) (uint64, error)
}

// Lease elects one shipper per deployment.
type Lease interface {
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

// Sink is the durable ledger (ClickHouse). Append must tolerate entries sent
// twice (the ledger deduplicates by seq).
type Sink interface {
	Append(ctx context.Context, entries []ledger.Entry) error
}

// Shipper moves entries from the outbox to the ledger in batches. A crash
// between the insert and the shipped mark re-sends one batch, which the
// ledger deduplicates; while the ledger is down the outbox grows and nothing
// is lost. Run ships only while it holds the "shipper" lease, so one process
// of a deployment ships at a time (two would only waste inserts). Safe for
// concurrent use.
type Shipper struct {
	out     Outbox
	lease   Lease
	holder  string
	sink    Sink
	batch   int64
	log     *slog.Logger
	backlog atomic.Int64
}

// NewShipper returns a shipper sending up to batch entries per insert;
// lease may be nil (always ship).
func NewShipper(out Outbox, lease Lease, sink Sink, batch int64, log *slog.Logger) *Shipper {
	host, _ := os.Hostname()
	return &Shipper{out: out, lease: lease, sink: sink, batch: batch, log: log,
		holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())}
}

// Backlog returns the number of entries waiting, as of the last round.
func (s *Shipper) Backlog() int64 { return s.backlog.Load() }

// ShipOnce ships what is waiting now, batch by batch; it returns how many
// entries it shipped.
func (s *Shipper) ShipOnce(ctx context.Context) (int, error) {
	done, err := s.out.Shipped(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		head, err := s.out.Seq(ctx)
		if err != nil {
			return n, err
		}
		s.backlog.Store(int64(head - min(done, head)))
		es, err := s.out.Entries(ctx, done, s.batch)
		if err != nil {
			return n, err
		}
		if len(es) == 0 {
			if done < head {
				return n, fmt.Errorf("outbox lost entries %d..%d: they are in neither the log nor the ledger; run `loyalty reconcile`", done+1, head)
			}
			return n, nil
		}
		if err := s.sink.Append(ctx, es); err != nil {
			return n, fmt.Errorf("ship %d entries from seq %d: %w", len(es), es[0].Seq, err)
		}
		done = es[len(es)-1].Seq
		if err := s.out.MarkShipped(ctx, done); err != nil {
			return n, err
		}
		n += len(es)
	}
}

// Run ships continuously until ctx ends, retrying with backoff while the
// ledger or the index is unreachable.
func (s *Shipper) Run(ctx context.Context) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		if s.lease != nil {
			held, err := s.lease.Lease(ctx, "shipper", s.holder, 15*time.Second)
			if err != nil || !held {
				select {
				case <-time.After(5 * time.Second):
				case <-ctx.Done():
				}
				continue
			}
		}
		n, err := s.ShipOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("ledger shipping paused", "err", err, "backlog", s.Backlog(), "retry_in", wait)
			wait = min(wait*2, 10*time.Second)
		case n == 0:
			wait = 200 * time.Millisecond
		default:
			wait = 0
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
}
