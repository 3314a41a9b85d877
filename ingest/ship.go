package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xyz/loyalty/internal/retry"
	"github.com/xyz/loyalty/ledger"
)

// Outbox is the index's queue of applied entries not yet in the ledger, with
// the dead-letter store beside it.
type Outbox interface {
	// Entries returns up to count entries after seq. At an entry it can't
	// decode it returns the entries before it and a
	// *ledger.BrokenEntryError.
	Entries(ctx context.Context, after uint64, count int64) ([]ledger.Entry, error)
	Shipped(ctx context.Context) (uint64, error)
	MarkShipped(ctx context.Context, seq uint64) error
	// Confirmed returns the seq up to which the entries may be shipped:
	// those on enough replicas that a failover can't lose them (and then
	// reuse their seqs for other changes).
	Confirmed(ctx context.Context) (uint64, error)
	DeadLetterStore
}

// DeadLetterStore keeps the entries the ledger refused until an operator
// retries or drops them (redisindex.Index).
type DeadLetterStore interface {
	// PutDeadLetter stores d unless its seq is already a dead letter
	// (pending or dropped) and reports whether it stored it.
	PutDeadLetter(ctx context.Context, d ledger.DeadLetter) (bool, error)
	DeadLetters(ctx context.Context) ([]ledger.DeadLetter, error)
	DeadLetterCount(ctx context.Context) (int64, error)
	RemoveDeadLetter(ctx context.Context, seq uint64) error
	DropDeadLetter(ctx context.Context, seq uint64, reason string, at time.Time) error
}

// DeadLetterFinder finds changes among the dead letters, pending or dropped
// (redisindex.Index).
type DeadLetterFinder interface {
	DeadLetterChanges(ctx context.Context, ids []string) (map[string]ledger.Entry, error)
}

// WithDeadLetters returns a History that finds a change among the dead
// letters as well as in h (the ledger). The shipped mark passes dead letters
// too, so a Writer that searched the ledger alone for a change set aside
// could apply it a second time. The dead letters are searched first: a
// retried letter enters the ledger before it leaves the store.
func WithDeadLetters(h History, dead DeadLetterFinder) History { return deadHistory{h, dead} }

type deadHistory struct {
	ledger History
	dead   DeadLetterFinder
}

func (d deadHistory) Lookup(ctx context.Context, ids []string) (map[string]ledger.Entry, error) {
	set, err := d.dead.DeadLetterChanges(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("look up dead letters: %w", err)
	}
	found, err := d.ledger.Lookup(ctx, ids)
	if err != nil {
		return nil, err
	}
	if found == nil {
		found = make(map[string]ledger.Entry, len(set))
	}
	for id, e := range set {
		if _, ok := found[id]; !ok {
			found[id] = e
		}
	}
	return found, nil
}

// Lease elects one shipper per deployment.
type Lease interface {
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -source=ship.go -destination=mocks/ship.go -package=mocks

// Sink is the durable ledger (ClickHouse). Append must tolerate entries sent
// twice (the ledger deduplicates by seq). When the ledger refuses the data
// itself, so that sending the same entries again would fail again, the error
// is of the class ledger.ErrInvalid (as chledger.ErrInvalid is). Any other
// error is taken for an outage.
type Sink interface {
	Append(ctx context.Context, entries []ledger.Entry) error
}

// Shipper moves entries from the outbox to the ledger in batches. A crash
// between the insert and the shipped mark re-sends one batch, which the
// ledger deduplicates; while the ledger is down the outbox grows and nothing
// is lost.
//
// An entry the ledger refuses (see Sink) is found by splitting the
// refused batch, set aside in the dead-letter store with the reason, logged
// once, and the entries after it are shipped: the shipped mark passes only
// entries that are in the ledger or in the store, and setting an entry aside
// twice (after a crash before the mark) stores it once. An entry the outbox
// can't decode is set aside the same way.
//
// Run ships only while it holds the "shipper" lease, so one process of a
// deployment ships at a time (two would only waste inserts). Safe for
// concurrent use.
type Shipper struct {
	out      Outbox
	lease    Lease
	holder   string
	sink     Sink
	batch    int64
	now      func() time.Time                                 // the dead letters' clock
	sleep    func(ctx context.Context, d time.Duration) error // Run's waits (retry.Sleep; tests inject)
	log      *slog.Logger
	backlog  atomic.Int64
	dead     atomic.Int64 // pending dead letters, as of the last round
	deadSeen atomic.Int64 // dead letters this shipper set aside
	retries  atomic.Int64 // rounds of Run that failed and were retried
	oldest   atomic.Int64 // unix nanos the oldest unshipped entry was recorded, as of the last round; 0: none
}

// ShipBatch is the most entries one ledger insert takes, as the service
// wires the Shipper: ClickHouse wants large, rare inserts.
const ShipBatch = 10_000

// NewShipper returns a shipper of out's entries to sink, up to batch entries
// per insert; lease may be nil (always ship).
func NewShipper(out Outbox, lease Lease, sink Sink, batch int64, log *slog.Logger) *Shipper {
	host, _ := os.Hostname()
	return &Shipper{out: out, lease: lease, sink: sink, batch: batch, now: time.Now, sleep: retry.Sleep, log: log,
		holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())}
}

// Backlog returns the number of entries waiting, as of the last round.
func (s *Shipper) Backlog() int64 { return s.backlog.Load() }

// DeadLetterCount returns the number of pending dead letters, as of the last
// round (a gauge).
func (s *Shipper) DeadLetterCount() int64 { return s.dead.Load() }

// DeadLettered returns how many entries this shipper set aside (a counter).
func (s *Shipper) DeadLettered() int64 { return s.deadSeen.Load() }

// Retries returns how many shipping rounds of Run failed (the ledger or
// the index unreachable) and were retried (a counter).
func (s *Shipper) Retries() int64 { return s.retries.Load() }

// OldestUnshipped returns when the oldest entry not yet in the ledger was
// recorded, as of the last round (zero when none waits).
func (s *Shipper) OldestUnshipped() time.Time {
	if n := s.oldest.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Drain ships what is waiting now, once: for a process that is stopping
// (after Run returned), and for a batch job shipping as it goes (ShipEvery),
// where no Run loop is running. It ships only if this shipper holds (or can
// take) the lease, or none is used; otherwise the holder ships, and it
// returns 0 and nil. What is left is in Backlog.
func (s *Shipper) Drain(ctx context.Context) (int, error) {
	if held, err := s.holdLease(ctx); err != nil || !held {
		return 0, err
	}
	return s.ShipOnce(ctx)
}

// holdLease takes or renews the "shipper" lease for 15 s and reports
// whether this shipper holds it (always, without a lease).
func (s *Shipper) holdLease(ctx context.Context) (bool, error) {
	if s.lease == nil {
		return true, nil
	}
	return s.lease.Lease(ctx, "shipper", s.holder, 15*time.Second)
}

// ShipOnce ships what is waiting now, batch by batch; it returns how many
// entries it shipped to the ledger (not counting those set aside).
func (s *Shipper) ShipOnce(ctx context.Context) (int, error) {
	done, err := s.out.Shipped(ctx)
	if err != nil {
		return 0, err
	}
	dead, err := s.out.DeadLetterCount(ctx)
	if err != nil {
		return 0, err
	}
	s.dead.Store(dead)
	n := 0
	for {
		head, err := s.out.Confirmed(ctx)
		if err != nil {
			return n, err
		}
		s.backlog.Store(int64(head - min(done, head)))
		if done >= head {
			s.oldest.Store(0)
			return n, nil
		}
		es, err := s.out.Entries(ctx, done, min(s.batch, int64(head-done)))
		var broken *ledger.BrokenEntryError
		if err != nil && !errors.As(err, &broken) {
			return n, err
		}
		// Entries past the confirmed seq wait for the next round.
		for len(es) > 0 && es[len(es)-1].Seq > head {
			es = es[:len(es)-1]
		}
		if broken != nil && broken.Seq > head {
			broken = nil
		}
		if len(es) > 0 && !es[0].RecordedAt.IsZero() {
			s.oldest.Store(es[0].RecordedAt.UnixNano())
		}
		if len(es) == 0 && broken == nil {
			if done < head {
				return n, fmt.Errorf("outbox lost entries %d..%d: they are in neither the log nor the ledger; run `loyalty reconcile`", done+1, head)
			}
			return n, nil
		}
		refused := 0
		err = s.appendSplitting(ctx, es, func(e ledger.Entry, why error) error {
			refused++
			return s.setAside(ctx, ledger.DeadLetter{Seq: e.Seq, Reason: why.Error(), At: s.now().UTC(), Entry: &e})
		})
		if err != nil {
			return n, fmt.Errorf("ship %d entries from seq %d: %w", len(es), es[0].Seq, err)
		}
		n += len(es) - refused
		if len(es) > 0 {
			done = es[len(es)-1].Seq
		}
		if broken != nil {
			d := broken.DeadLetter("the change log entry can't be decoded: "+broken.Err.Error(), s.now().UTC())
			if err := s.setAside(ctx, d); err != nil {
				return n, err
			}
			done = broken.Seq
		}
		if err := s.out.MarkShipped(ctx, done); err != nil {
			return n, err
		}
	}
}

// appendSplitting appends es to the ledger. When the ledger refuses the
// batch's data it appends each half in turn, down to single entries, which
// it hands to onRefused: one bad entry among n costs about 2*log2(n)
// inserts. Any other error stops it and is returned; the entries before may
// be in the ledger already (sending them again is harmless).
func (s *Shipper) appendSplitting(ctx context.Context, es []ledger.Entry, onRefused func(ledger.Entry, error) error) error {
	if len(es) == 0 {
		return nil
	}
	err := s.sink.Append(ctx, es)
	if err == nil || !errors.Is(err, ledger.ErrInvalid) {
		return err
	}
	if len(es) == 1 {
		return onRefused(es[0], err)
	}
	mid := len(es) / 2
	if err := s.appendSplitting(ctx, es[:mid], onRefused); err != nil {
		return err
	}
	return s.appendSplitting(ctx, es[mid:], onRefused)
}

// setAside stores d in the dead-letter store; the first time, it counts it
// and logs it (once per dead letter, also across crashes).
func (s *Shipper) setAside(ctx context.Context, d ledger.DeadLetter) error {
	stored, err := s.out.PutDeadLetter(ctx, d)
	if err != nil {
		return fmt.Errorf("set aside entry %d the ledger refused: %w", d.Seq, err)
	}
	if stored {
		s.deadSeen.Add(1)
		s.dead.Add(1)
		id, customer := d.ChangeID, d.CustomerID
		if d.Entry != nil {
			id, customer = d.Entry.ID, d.Entry.CustomerID
		}
		s.log.Error("the ledger refused a change: set aside as a dead letter, later changes go on shipping; "+
			"fix the cause and run `loyalty deadletters retry`, or `loyalty deadletters drop SEQ --reason TEXT`",
			"seq", d.Seq, "change_id", id, "customer", customer, "reason", d.Reason)
	}
	return nil
}

// RetryResult is what RetryDeadLetters did.
type RetryResult struct {
	Shipped []uint64            // now in the ledger, removed from the store
	Failed  []ledger.DeadLetter // still refused (Reason says why now), kept in the store
	Missing []uint64            // asked for, but no such dead letter is pending
}

// RetryDeadLetters sends the pending dead letters seqs (all of them when seqs
// is empty) to the ledger again, in one insert when it takes them all. A dead
// letter leaves the store only once its entry is in the ledger; one the
// ledger still refuses, or that can't be decoded, stays. An outage stops it
// with an error (what it removed before is in the ledger).
func (s *Shipper) RetryDeadLetters(ctx context.Context, seqs []uint64) (RetryResult, error) {
	var res RetryResult
	all, err := s.out.DeadLetters(ctx)
	if err != nil {
		return res, err
	}
	want := make(map[uint64]bool, len(seqs))
	for _, q := range seqs {
		want[q] = true
	}
	var es []ledger.Entry
	letters := map[uint64]ledger.DeadLetter{}
	for _, d := range all {
		if len(seqs) > 0 && !want[d.Seq] {
			continue
		}
		delete(want, d.Seq)
		if d.Entry == nil {
			d.Reason = "the change log entry can't be decoded: " + d.DecodeErr + "; it can only be dropped"
			res.Failed = append(res.Failed, d)
			continue
		}
		letters[d.Seq] = d
		es = append(es, *d.Entry)
	}
	for q := range want {
		res.Missing = append(res.Missing, q)
	}
	slices.Sort(res.Missing)
	refused := map[uint64]error{}
	if err := s.appendSplitting(ctx, es, func(e ledger.Entry, why error) error { refused[e.Seq] = why; return nil }); err != nil {
		return res, fmt.Errorf("retry %d dead letters: %w", len(es), err)
	}
	for _, e := range es {
		if why, ok := refused[e.Seq]; ok {
			d := letters[e.Seq]
			d.Reason = why.Error()
			res.Failed = append(res.Failed, d)
			continue
		}
		if err := s.out.RemoveDeadLetter(ctx, e.Seq); err != nil {
			return res, fmt.Errorf("retry: dead letter %d is in the ledger but still in the store: %w", e.Seq, err)
		}
		res.Shipped = append(res.Shipped, e.Seq)
	}
	slices.SortFunc(res.Failed, func(a, b ledger.DeadLetter) int { return cmp.Compare(a.Seq, b.Seq) })
	return res, nil
}

// DropDeadLetter gives up on the pending dead letter seq: its change will
// never be in the ledger. The reason is required and kept with it. The
// change's points stay in the Redis balance until `loyalty rebuild` makes
// Redis agree with the ledger again (reconcile shows the customer).
func (s *Shipper) DropDeadLetter(ctx context.Context, seq uint64, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("drop dead letter %d: a reason is required: say why its change can never be stored", seq)
	}
	return s.out.DropDeadLetter(ctx, seq, reason, s.now().UTC())
}

// Run ships continuously until ctx ends. After a failed round it waits
// 100 ms, twice as long after each next failure (at most 10 s), and from
// 100 ms again once a round succeeds; an outage (ledger.Retryable) is
// logged as a warning, any other failure as an error (it needs fixing, and
// is retried meanwhile). Without the lease it asks again every 5 s, logging
// a failure to ask once until it passes.
func (s *Shipper) Run(ctx context.Context) {
	back := retry.Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second}
	leaseFailed := false
	for ctx.Err() == nil {
		held, err := s.holdLease(ctx)
		if err != nil && !leaseFailed && ctx.Err() == nil {
			s.log.Warn("ledger shipper lease not taken; asking again every 5s", "err", err)
		}
		leaseFailed = err != nil
		if err != nil || !held {
			if s.sleep(ctx, 5*time.Second) != nil {
				return
			}
			continue
		}
		var wait time.Duration
		n, err := s.ShipOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			wait = back.Next()
			s.retries.Add(1)
			if ledger.Retryable(err) {
				s.log.Warn("ledger shipping paused", "err", err, "backlog", s.Backlog(), "retry_in", wait)
			} else {
				s.log.Error("ledger shipping failed", "err", err, "backlog", s.Backlog(), "retry_in", wait)
			}
		case n == 0:
			back.Reset()
			wait = 200 * time.Millisecond
		default:
			back.Reset()
		}
		if s.sleep(ctx, wait) != nil {
			return
		}
	}
}
