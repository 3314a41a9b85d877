package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/xyz/loyalty/internal/retry"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
)

// A Run applies order files (`loyalty ingest`) as a pipeline of stages that
// overlap: one goroutine reads and parses the files ahead (up to
// RunConfig.ReadAhead batches), one looks the next batch's old orders up in
// the ledger while the current one is applied, up to RunConfig.Parallel
// Apply calls are in flight, and the shipper moves the change log into the
// ledger while the run goes, so Redis holds a bounded log whatever the size
// of the files. The outcomes are counted, and the rejects written, in file
// order by the goroutine that called Files.
//
// # Order
//
// Changes are cut into calls of RunConfig.CallSize in file order (files in
// the order given). A call starts only after every earlier call that shares
// a customer or a change id with it has succeeded, so each customer's
// changes, and every change under one id, apply in file order: the balances,
// each ledger entry's delta and balance, and which of two contents under one
// id wins are those of one sequential run. Only changes of different
// customers may take their seqs in another order than the file's.
//
// # Crashes
//
// Nothing of exactly-once changes: every change is decided by the index
// (Writer.Apply), a call is retried only while a store is unreachable, and
// a failed call stops the run before any later call of its customers or ids
// starts. A run killed at any moment has applied, for each customer, a
// prefix of that customer's changes; running it again replays those and
// applies the rest.
//
// # Memory
//
// The run holds at most ReadAhead+Parallel+5 batches of changes (in the
// stages and the channels between them; each change about 1 KB with 24
// items: ~22 MB with the defaults), besides what the Source holds (a
// lines-format reader holds its whole file's grouping: see ingest/posfile
// "Memory").
//
// A Run is used once, from one goroutine.
type Run struct {
	cfg     RunConfig
	w       Applier
	check   LedgerCheck
	shipper Runner
	open    func(path string) (Source, error)
	rejects func(Reject) error
	now     func() time.Time

	// Progress, when set, is called from the goroutine of Files after each
	// batch's outcomes are counted.
	Progress func(Counts)

	counts Counts
}

// RunConfig configures a Run.
type RunConfig struct {
	// Batch is the changes per ledger look-up and per stage hand-off (2000).
	Batch int
	// CallSize is the changes per Apply call (256): the unit of ordering
	// and of concurrency.
	CallSize int
	// Parallel is the Apply calls in flight (2). 1 applies one call after
	// another, like a plain loop.
	Parallel int
	// ReadAhead is the batches read and parsed ahead of the one applied (4).
	ReadAhead int
	// Recent is how far back from now a change is within the index's
	// memory of change ids (points.dedupe_days): older changes are looked
	// up in the ledger ahead of their Apply call. 0: look up none ahead.
	Recent time.Duration
	// Corrections applies each order as a correction (Writer.Correct), one
	// at a time.
	Corrections bool
	// Actor names the actor of a file's changes; nil: "ingest:" + the path.
	Actor func(path string) string
	// Retries is the attempts of a call while a store is unreachable (6),
	// waiting RetryWait (200 ms) after the first and twice as long after
	// each next.
	Retries   int
	RetryWait time.Duration
}

// DefaultRunConfig returns the defaults above.
func DefaultRunConfig() RunConfig {
	return RunConfig{Batch: 2000, CallSize: 256, Parallel: 2, ReadAhead: 4, Retries: 6, RetryWait: 200 * time.Millisecond}
}

// Applier applies changes exactly once (Writer).
type Applier interface {
	Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error)
	Correct(ctx context.Context, o Order, actor string) (ledger.Outcome, error)
	Rule() *points.Rule
}

// LedgerCheck finds changes in the ledger ahead of their Apply call: the
// index's shipped mark (redisindex.Index) and the ledger's look-up
// (WithDeadLetters of the ClickHouse ledger).
type LedgerCheck interface {
	Shipped(ctx context.Context) (uint64, error)
	History
}

// Runner runs until its context ends (ShipEvery).
type Runner interface {
	Run(ctx context.Context)
}

// ShipEvery returns a Runner that calls drain (Shipper.Drain: ship what
// waits, if this process holds the shipper lease) every interval until its
// context ends, logging a failed round once (the next round retries). In
// whole rounds the ledger gets full batches (10,000 rows) while a run
// writes thousands of changes a second, where Shipper.Run, which ships as
// soon as anything waits, would insert many small ones; the change log
// stays below about what the run writes in an interval, past the tail the
// index keeps.
func ShipEvery(drain func(context.Context) (int, error), interval time.Duration, log *slog.Logger) Runner {
	return shipEvery{drain, interval, log}
}

type shipEvery struct {
	drain    func(context.Context) (int, error)
	interval time.Duration
	log      *slog.Logger
}

func (s shipEvery) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		_, err := s.drain(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			s.log.Warn("ledger shipping paused during the ingest (it goes on after it, or in the service)", "err", err)
			failing = true
		case err == nil:
			failing = false
		}
	}
}

// Source is one input's orders in file order (an adapter of
// posfile.Reader). Next returns io.EOF at the end, a *Reject for a row that
// goes to the rejects file (reading goes on), and any other error to stop.
type Source interface {
	Next() (o Order, line int, err error)
	Rows() int64 // data rows read so far
	Close() error
}

// Reject is a row or an order that is not applied: it goes to the rejects
// file with its file, line, order id (when known) and the reason.
type Reject struct {
	File    string
	Line    int
	OrderID string
	Reason  string
}

func (r *Reject) Error() string { return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason) }

// Counts are what a run did so far.
type Counts struct {
	Files, Rows                  int64 // files and rows done
	Applied, Skipped, Duplicates int64 // orders
	Rejected                     int64 // rows and orders written to a rejects file
	Awarded, Deducted            int64 // points
	File                         string
	FileRows                     int64 // rows of File read so far
}

// NewRun returns a run that applies with w and writes rejects with rejects;
// open opens an input. check (nil: none) looks old changes up ahead of their
// call; shipper (nil: none) runs while the run goes.
func NewRun(cfg RunConfig, w Applier, check LedgerCheck, shipper Runner, open func(path string) (Source, error), rejects func(Reject) error) *Run {
	d := DefaultRunConfig()
	if cfg.Batch <= 0 {
		cfg.Batch = d.Batch
	}
	if cfg.CallSize <= 0 {
		cfg.CallSize = d.CallSize
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = d.Parallel
	}
	if cfg.Corrections {
		cfg.Parallel = 1
	}
	if cfg.ReadAhead <= 0 {
		cfg.ReadAhead = d.ReadAhead
	}
	if cfg.Retries <= 0 {
		cfg.Retries = d.Retries
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = d.RetryWait
	}
	if cfg.Actor == nil {
		cfg.Actor = func(path string) string { return "ingest:" + path }
	}
	return &Run{cfg: cfg, w: w, check: check, shipper: shipper, open: open, rejects: rejects, now: time.Now}
}

// Counts returns what the run did; after Files returns, the final counts.
func (r *Run) Counts() Counts { return r.counts }

// item is one entry of the stream: a change to apply, a reject or a skipped
// (anonymous) order.
type item struct {
	kind   itemKind
	file   string
	line   int
	order  Order // corrections only
	change ledger.Change
	reject Reject
	out    ledger.Outcome
	err    error // corrections only: the call's error
}

type itemKind uint8

const (
	itemChange itemKind = iota
	itemReject
	itemSkipped
)

// batch is a stage hand-off: items in file order, and the files that ended
// in it (a batch runs on across small files).
type batch struct {
	items    []item
	file     string
	rows     int64      // rows of file read when the batch was cut
	ended    []fileRows // the files that ended in this batch, in order
	err      error      // the read stopped: the run stops after the items before
	calls    []*call
	finished chan struct{} // closed when every call is done
}

// fileRows is a file read to its end and its rows.
type fileRows struct {
	file string
	rows int64
}

// call is one Apply call: the changes of a batch at positions idx.
type call struct {
	b         *batch
	idx       []int
	customers map[uint64]struct{}
	ids       map[string]struct{}
	done      chan struct{}
	err       error
}

// Files applies the files in the order given and returns the first error
// that stopped it (the counts say what was done).
func (r *Run) Files(ctx context.Context, paths []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if r.shipper != nil {
		shipCtx, stopShip := context.WithCancel(ctx)
		defer stopShip()
		wg.Go(func() { r.shipper.Run(shipCtx) })
	}
	read := make(chan *batch, r.cfg.ReadAhead)
	checked := make(chan *batch, 1)
	applying := make(chan *batch, r.cfg.Parallel+1)
	wg.Go(func() { r.read(ctx, paths, read) })
	wg.Go(func() { r.precheck(ctx, read, checked) })
	wg.Go(func() { r.dispatch(ctx, checked, applying, &wg) })
	defer func() {
		// Let the stages stop: the dispatcher may be waiting to hand over.
		cancel()
		for range applying {
		}
	}()
	for b := range applying {
		select {
		case <-b.finished:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := r.collect(b); err != nil {
			return err
		}
		if r.Progress != nil {
			r.Progress(r.counts)
		}
	}
	return ctx.Err()
}

// read parses the files into batches; it closes out when done or stopped.
// A batch runs on into the next file, so many small files (a store's day)
// cost a ledger look-up and a few calls per Batch orders, not per file.
func (r *Run) read(ctx context.Context, paths []string, out chan<- *batch) {
	defer close(out)
	send := func(b *batch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	b, changes := &batch{}, 0
	for _, path := range paths {
		src, err := r.open(path)
		if err != nil {
			b.file, b.rows, b.err = path, 0, err
			send(b)
			return
		}
		actor := r.cfg.Actor(path)
		b.file, b.rows = path, 0
		for {
			o, line, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var rej *Reject
			switch {
			case errors.As(err, &rej):
				b.items = append(b.items, item{kind: itemReject, reject: *rej})
				continue
			case err != nil:
				src.Close()
				b.err, b.rows = err, src.Rows()
				send(b)
				return
			case o.CustomerID == 0:
				b.items = append(b.items, item{kind: itemSkipped})
				continue
			}
			it := item{kind: itemChange, file: path, line: line}
			if r.cfg.Corrections {
				it.order = o
				it.change = ledger.Change{ID: o.ID, CustomerID: o.CustomerID}
			} else if it.change, err = o.Change(r.w.Rule(), actor); err != nil {
				b.items = append(b.items, item{kind: itemReject, reject: Reject{path, line, o.ID, err.Error()}})
				continue
			}
			b.items = append(b.items, it)
			if changes++; changes >= r.cfg.Batch {
				b.rows = src.Rows()
				if !send(b) {
					src.Close()
					return
				}
				b, changes = &batch{file: path}, 0
			}
		}
		b.rows = src.Rows()
		if err := src.Close(); err != nil {
			b.err = fmt.Errorf("close %s: %w", path, err)
			send(b)
			return
		}
		b.ended = append(b.ended, fileRows{path, b.rows})
	}
	if len(b.items) > 0 || len(b.ended) > 0 {
		send(b)
	}
}

// precheck looks up in the ledger the changes of each batch that are older
// than the index remembers, after reading the shipped mark, and marks those
// the ledger does not hold as checked at that mark: the index then decides
// them in one call instead of stopping at the first (see doc.go, "Exactly
// once"). Those the ledger holds are left unchecked: the Writer finds them
// again and answers the replay or conflict. A look-up that fails marks
// nothing; the Writer then meets the same outage and retries.
func (r *Run) precheck(ctx context.Context, in <-chan *batch, out chan<- *batch) {
	defer close(out)
	for b := range in {
		if r.check != nil && r.cfg.Recent > 0 && !r.cfg.Corrections {
			r.lookAhead(ctx, b)
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
	}
}

func (r *Run) lookAhead(ctx context.Context, b *batch) {
	old := r.now().Add(-r.cfg.Recent)
	var ids []string
	var at []int
	for i := range b.items {
		c := &b.items[i].change
		if b.items[i].kind == itemChange && c.TimeBoundsApplication() && c.OccurredAt.Before(old) {
			ids = append(ids, c.ID)
			at = append(at, i)
		}
	}
	if len(ids) == 0 {
		return
	}
	mark, err := r.check.Shipped(ctx)
	if err != nil {
		return
	}
	found, err := r.check.Lookup(ctx, ids)
	if err != nil {
		return
	}
	for j, i := range at {
		if _, ok := found[ids[j]]; !ok {
			b.items[i].change.Checked, b.items[i].change.CheckedMark = true, mark
		}
	}
}

// errStopped is the error of a call never started because the run stopped.
var errStopped = errors.New("ingest: stopped before this call")

// dispatch cuts each batch into calls and starts each call once the earlier
// calls it shares a customer or an id with have succeeded, with at most
// Parallel in flight. It hands every batch on in order, and closes out when
// done or stopped; a call it does not start is done with errStopped.
func (r *Run) dispatch(ctx context.Context, in <-chan *batch, out chan<- *batch, wg *sync.WaitGroup) {
	defer close(out)
	var flight []*call // started, in start order
	freed := make(chan struct{}, 1)
	stopped := false
	for b := range in {
		r.cut(b)
		go func() {
			for _, c := range b.calls {
				<-c.done
			}
			close(b.finished)
		}()
		select {
		case out <- b:
		case <-ctx.Done():
			stopped = true
		}
		for _, c := range b.calls {
			stopped = stopped || !r.admit(ctx, c, &flight, freed)
			if stopped {
				c.err = errStopped
				close(c.done)
				continue
			}
			flight = append(flight, c)
			wg.Go(func() {
				r.apply(ctx, c)
				select {
				case freed <- struct{}{}:
				default:
				}
			})
		}
		if stopped || b.err != nil {
			return
		}
	}
}

// cut splits a batch's changes into calls of at most CallSize.
func (r *Run) cut(b *batch) {
	b.finished = make(chan struct{})
	var c *call
	for i := range b.items {
		if b.items[i].kind != itemChange {
			continue
		}
		if c == nil {
			c = &call{b: b, customers: map[uint64]struct{}{}, ids: map[string]struct{}{}, done: make(chan struct{})}
			b.calls = append(b.calls, c)
		}
		c.idx = append(c.idx, i)
		c.customers[b.items[i].change.CustomerID] = struct{}{}
		c.ids[b.items[i].change.ID] = struct{}{}
		if len(c.idx) == r.cfg.CallSize {
			c = nil
		}
	}
}

// admit waits until c may start: every call in flight it conflicts with has
// succeeded and fewer than Parallel are in flight (freed is signalled when
// a call finishes). It drops finished calls from flight and reports false
// when a call failed or the run stopped.
func (r *Run) admit(ctx context.Context, c *call, flight *[]*call, freed <-chan struct{}) bool {
	for {
		live := (*flight)[:0]
		for _, f := range *flight {
			select {
			case <-f.done:
				if f.err != nil {
					return false
				}
				continue
			default:
			}
			live = append(live, f)
		}
		*flight = live
		waited := false
		for _, f := range *flight {
			if !conflicts(c, f) {
				continue
			}
			select {
			case <-f.done:
			case <-ctx.Done():
				return false
			}
			if f.err != nil {
				return false
			}
			waited = true
		}
		if waited {
			continue
		}
		if len(*flight) < r.cfg.Parallel {
			return true
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		}
	}
}

// conflicts reports whether two calls share a customer or a change id.
func conflicts(a, b *call) bool {
	if len(a.customers) > len(b.customers) {
		a, b = b, a
	}
	for id := range a.customers {
		if _, ok := b.customers[id]; ok {
			return true
		}
	}
	for id := range a.ids {
		if _, ok := b.ids[id]; ok {
			return true
		}
	}
	return false
}

// apply runs one call, retrying while a store is unreachable.
func (r *Run) apply(ctx context.Context, c *call) {
	defer close(c.done)
	items := c.b.items
	if r.cfg.Corrections {
		for _, i := range c.idx {
			it := &items[i]
			var out ledger.Outcome
			err := r.retry(ctx, func() (err error) {
				out, err = r.w.Correct(ctx, it.order, r.cfg.Actor(it.file))
				return err
			})
			it.out, it.err = out, err
			if err != nil && !rejectsCorrection(err, out) {
				c.err = err
				return
			}
		}
		return
	}
	cs := make([]ledger.Change, len(c.idx))
	for j, i := range c.idx {
		cs[j] = items[i].change
	}
	var out []ledger.Outcome
	c.err = r.retry(ctx, func() (err error) {
		out, err = r.w.Apply(ctx, cs)
		return err
	})
	if c.err == nil && len(out) != len(cs) {
		c.err = fmt.Errorf("apply: %d outcomes for %d changes", len(out), len(cs))
	}
	if c.err != nil {
		return
	}
	for j, i := range c.idx {
		items[i].out = out[j]
	}
}

// retry calls fn until it succeeds, fails for a reason a retry can't cure
// (see ledger.Retryable), or has failed Retries times: every write is
// idempotent, so a retry after an unknown outcome counts nothing twice.
func (r *Run) retry(ctx context.Context, fn func() error) error {
	p := retry.Policy{Attempts: r.cfg.Retries, Backoff: retry.Backoff{Initial: r.cfg.RetryWait}, Retryable: ledger.Retryable}
	err := retry.Do(ctx, p, fn)
	if ledger.Retryable(err) {
		return fmt.Errorf("ingest: %w (re-run the same command when the store is back: nothing is counted twice)", err)
	}
	return err
}

// collect counts a finished batch's outcomes and writes its rejects, in
// file order.
func (r *Run) collect(b *batch) error {
	for _, c := range b.calls {
		if c.err != nil {
			return c.err
		}
	}
	n := &r.counts
	for i := range b.items {
		it := &b.items[i]
		var rej *Reject
		switch {
		case it.kind == itemReject:
			rej = &it.reject
		case it.kind == itemSkipped:
			n.Skipped++
		case r.cfg.Corrections:
			rej = r.corrected(it)
		case it.out.Err != nil && errors.Is(it.out.Err, ledger.ErrConflict):
			rej = &Reject{it.file, it.line, it.change.ID, "order id already applied with different content (conflict); not applied"}
		case it.out.Err != nil:
			rej = &Reject{it.file, it.line, it.change.ID, it.out.Err.Error()}
		default:
			r.count(it.out)
		}
		if rej != nil {
			n.Rejected++
			if err := r.rejects(*rej); err != nil {
				return err
			}
		}
	}
	for _, f := range b.ended {
		n.Files++
		n.Rows += f.rows
	}
	n.File, n.FileRows = b.file, b.rows
	return b.err
}

// count counts an outcome without error.
func (r *Run) count(o ledger.Outcome) {
	n := &r.counts
	switch {
	case o.Replayed:
		n.Duplicates++
	default:
		n.Applied++
		if o.Delta > 0 {
			n.Awarded += o.Delta
		} else {
			n.Deducted -= o.Delta
		}
	}
}

// corrected counts a correction's outcome; what can't be corrected is a
// reject.
func (r *Run) corrected(it *item) *Reject {
	err, id := it.err, it.order.ID
	if err == nil {
		err = it.out.Err
	}
	rej := func(reason string) *Reject { return &Reject{it.file, it.line, id, reason} }
	switch {
	case errors.Is(err, ErrNotFound):
		return rej("order " + id + " was never applied, so there is nothing to correct: ingest it without --corrections")
	case errors.Is(err, ledger.ErrConflict):
		return rej("order " + id + " was corrected by someone else at the same moment; run the corrections again")
	case err != nil:
		return rej(err.Error())
	}
	r.count(it.out)
	return nil
}

// rejectsCorrection reports whether a correction's error (err, or the
// outcome's) belongs in the rejects file; any other error stops the run.
func rejectsCorrection(err error, out ledger.Outcome) bool {
	var fe *FieldError
	return out.Err != nil || errors.Is(err, ErrNotFound) || errors.Is(err, ledger.ErrConflict) ||
		errors.As(err, &fe) || errors.Is(err, ErrInvalid)
}
