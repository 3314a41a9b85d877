package ranker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/internal/retry"
)

// Source is the Redis index as the replica reads it. An error reaching
// Redis is of the class ErrUnavailable.
type Source interface {
	Generation(ctx context.Context) (uint64, error)
	Seq(ctx context.Context) (uint64, error)
	// Scan and ScanSeason call fn for every balance of a board, in
	// ascending customer id order, each customer once.
	Scan(ctx context.Context, gen uint64, fn func(id uint64, points int64) error) error
	ScanSeason(ctx context.Context, gen uint64, name string, fn func(id uint64, points int64) error) error
	ReadLog(ctx context.Context, after uint64, count int64, block time.Duration) ([]histogram.LogEntry, error)
	FirstLogSeq(ctx context.Context) (uint64, error)
}

// Head tells the seq of the last change written; read from the primary.
type Head interface {
	Seq(ctx context.Context) (uint64, error)
}

// ReplicaConfig configures a Replica.
type ReplicaConfig struct {
	// MaxWait is how long a dashboard waits for the replica to reach the
	// latest change before answering from what it has, marked stale.
	MaxWait time.Duration
	// Poll is how long one blocking read of the change log waits.
	Poll time.Duration
	// HeadTimeout is how long a dashboard waits for the latest seq from the
	// primary before answering from what the replica has applied, marked
	// stale (the primary is down, stopped or failing over).
	HeadTimeout time.Duration
	// MaxStaleness is how long the board may go without hearing from Redis
	// (a read of the change log) and still report Ready.
	MaxStaleness time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Partial, if set, answers dashboards from the Redis histogram while no
	// board is loaded (marked Partial) instead of ErrNotReady.
	Partial Histogram
	// Seasons are the season boards kept beside the all-time board (none
	// with a zero value).
	Seasons Seasons
}

// Histogram is the Redis index read directly, for partial dashboards while
// the board loads. An error reaching Redis is of the class ErrUnavailable.
type Histogram interface {
	// Partial returns a customer's points and exact rank, the number ranked
	// and the top n, from one moment.
	Partial(ctx context.Context, id uint64, n int) (histogram.Place, error)
	// Rank returns how many customers have strictly more than points, and
	// how many are ranked.
	Rank(ctx context.Context, points int64) (above, total int64, err error)
}

// DefaultReplicaConfig returns the defaults.
func DefaultReplicaConfig() ReplicaConfig {
	return ReplicaConfig{MaxWait: 2 * time.Second, Poll: time.Second, HeadTimeout: 50 * time.Millisecond, MaxStaleness: 5 * time.Minute}
}

// Replica keeps an in-memory Board in step with the Redis index: a snapshot
// of the balances, then every change from the change log. A dashboard first
// learns the latest seq from the primary (one GET shared by all dashboards
// asked meanwhile), waits until the board has applied it, then answers from
// memory: a customer always sees their own last purchase, and every answer is
// one consistent snapshot. When the primary does not answer within
// HeadTimeout, or the board cannot catch up within MaxWait, the dashboard is
// answered from what the board has applied and marked Stale; the next
// dashboard asks the primary again, so read-your-own-writes resumes by itself
// when it is back. Safe for concurrent use.
type Replica struct {
	src   Source
	gate  *gate
	cfg   ReplicaConfig
	log   *slog.Logger
	board atomic.Pointer[Board]
	gen   uint64 // of the board; read and written by Run only
	// last is the last change-log entry applied to the board (zero when not
	// known); read and written by Run only.
	last histogram.LogEntry
	// contact is the unix nano time of the last successful read of the log.
	contact atomic.Int64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever the board advances
}

// NewReplica returns a replica reading src (a Redis replica or the primary)
// and asking head (the primary) for the latest seq.
func NewReplica(src Source, head Head, cfg ReplicaConfig, log *slog.Logger) *Replica {
	d := DefaultReplicaConfig()
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = d.MaxWait
	}
	if cfg.Poll <= 0 {
		cfg.Poll = d.Poll
	}
	if cfg.HeadTimeout <= 0 {
		cfg.HeadTimeout = d.HeadTimeout
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = d.MaxStaleness
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Replica{src: src, gate: &gate{head: head, now: cfg.Now, slow: cfg.HeadTimeout}, cfg: cfg, log: log, changed: make(chan struct{})}
}

// Ready reports whether the replica has loaded a snapshot and heard from
// Redis (read the change log) within MaxStaleness: a primary outage alone
// does not make it unready, its dashboards are answered stale.
func (r *Replica) Ready() bool {
	return r.board.Load() != nil && r.age() < r.cfg.MaxStaleness
}

// age is how long ago the replica last read the change log.
func (r *Replica) age() time.Duration {
	return r.cfg.Now().Sub(time.Unix(0, r.contact.Load()))
}

// following reports whether the change-log reads are keeping up: one
// blocking read returns at least every Poll.
func (r *Replica) following() bool {
	return r.age() < 2*r.cfg.Poll+r.cfg.HeadTimeout
}

// Board returns the current board (nil before the first snapshot).
func (r *Replica) Board() *Board { return r.board.Load() }

func (r *Replica) advanced() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *Replica) waitChan() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Run loads a snapshot and follows the change log until ctx ends. It
// reloads when the index switches generation (a rebuild) or the log no
// longer holds what the replica lacks. Errors reaching Redis are retried,
// from where the board is: an outage of Redis does not reload the board, and
// dashboards are answered from it meanwhile.
func (r *Replica) Run(ctx context.Context) error {
	// An outage fails every retry: the first failure is logged, then one
	// line every logEvery with the count, not one every retryWait.
	var failed int
	var logged time.Time
	for ctx.Err() == nil {
		start := time.Now()
		err := r.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) >= logEvery {
			failed = 0 // it followed for a while: a new outage
		}
		failed++
		if failed == 1 || time.Since(logged) >= logEvery {
			r.log.Warn("ranker replica: change log read failed, retrying", "err", err, "failures", failed)
			logged = time.Now()
		}
		if retry.Sleep(ctx, retryWait) != nil {
			break
		}
	}
	return nil
}

// retryWait is how long the replica waits before reading the change log
// again after a failure: short, so a board resumes soon after a failover.
const retryWait = 500 * time.Millisecond

// logReadMax is the most change-log entries one read asks for.
const logReadMax = 10_000

// logEvery is how often a replica that keeps failing says so again.
const logEvery = 30 * time.Second

var errResync = errors.New("resync needed")

// follow resumes following from the loaded board, or loads one first (at
// start, or when resuming needs a resync).
func (r *Replica) follow(ctx context.Context) error {
	if b := r.board.Load(); b != nil {
		err := r.tail(ctx, b, r.gen)
		if !errors.Is(err, errResync) {
			return err
		}
		r.log.Warn("ranker replica: reloading the board", "reason", err)
	}
	gen, err := r.src.Generation(ctx)
	if err != nil {
		return err
	}
	seq, err := r.src.Seq(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	b, err := r.load(ctx, gen)
	if err != nil {
		return err
	}
	if g, err := r.src.Generation(ctx); err != nil || g != gen {
		return errors.Join(err, errResync)
	}
	if first, err := r.src.FirstLogSeq(ctx); err != nil || (first > seq+1) {
		return errors.Join(err, fmt.Errorf("%w: the change log starts at %d, after the snapshot's %d", errResync, first, seq))
	}
	b.SetSeq(seq, r.cfg.Now())
	if r.last, err = r.entryAt(ctx, seq); err != nil {
		return err
	}
	if err := r.catchUp(ctx, b, 0); err != nil {
		return err
	}
	r.gen = gen
	r.board.Store(b)
	r.advanced()
	// Loading leaves a heap of garbage (scan replies, grown tables) as large
	// as the board; hand it back now rather than at some later GC.
	debug.FreeOSMemory()
	r.log.Info("ranker replica: snapshot loaded", "customers", b.Len(), "seq", b.Seq(), "generation", gen, "took", time.Since(start).Round(time.Millisecond))
	return r.tail(ctx, b, gen)
}

// load reads the balances of generation gen and of the kept season boards
// into a new board, built in bulk (Source.Scan gives them in id order).
func (r *Replica) load(ctx context.Context, gen uint64) (*Board, error) {
	l := newLoader()
	if err := r.src.Scan(ctx, gen, l.add); err != nil {
		return nil, err
	}
	b := l.board()
	for _, name := range r.cfg.Seasons.names(r.cfg.Now()) {
		sl := newLoader()
		if err := r.src.ScanSeason(ctx, gen, name, sl.add); err != nil {
			return nil, err
		}
		if sl.seen > 0 {
			if b.seasons == nil {
				b.seasons = map[string]*Board{}
			}
			b.seasons[name] = sl.board()
		}
	}
	return b, nil
}

// tail follows the change log into b until an error or ctx ends.
func (r *Replica) tail(ctx context.Context, b *Board, gen uint64) error {
	for ctx.Err() == nil {
		if err := r.catchUp(ctx, b, r.cfg.Poll); err != nil {
			return err
		}
		g, err := r.src.Generation(ctx)
		if err != nil {
			return err
		}
		if g != gen {
			return fmt.Errorf("%w: generation %d replaced %d", errResync, g, gen)
		}
		if err := r.verify(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// entryAt returns the change-log entry of seq (zero when the log no longer
// or not yet holds it).
func (r *Replica) entryAt(ctx context.Context, seq uint64) (histogram.LogEntry, error) {
	if seq == 0 {
		return histogram.LogEntry{}, nil
	}
	es, err := r.src.ReadLog(ctx, seq-1, 1, 0)
	if err != nil || len(es) == 0 || es[0].Seq != seq {
		return histogram.LogEntry{}, err
	}
	return es[0], nil
}

// verify checks that the change log still holds the last entry the board
// applied, as applied. After a failover to a server that was behind, the log
// lacks it, or holds a different change under its seq (seqs taken again):
// the board has changes the index lost, and must be reloaded.
func (r *Replica) verify(ctx context.Context) error {
	want := r.last
	if want.Seq == 0 {
		return nil
	}
	got, err := r.entryAt(ctx, want.Seq)
	if err != nil {
		return err
	}
	if got.Seq != want.Seq || got.CustomerID != want.CustomerID || got.Balance != want.Balance || got.Delta != want.Delta {
		return fmt.Errorf("%w: the change log no longer holds change %d as the board applied it (a failover to a server that was behind?)", errResync, want.Seq)
	}
	return nil
}

// catchUp applies log entries after the board's seq until the log is
// drained (block 0) or one blocking read returns.
func (r *Replica) catchUp(ctx context.Context, b *Board, block time.Duration) error {
	for {
		after := b.Seq()
		es, err := r.src.ReadLog(ctx, after, logReadMax, block)
		if err != nil {
			return err
		}
		now := r.cfg.Now()
		r.contact.Store(now.UnixNano())
		if len(es) > 0 && es[0].Seq != after+1 {
			return fmt.Errorf("%w: the change log jumps from %d to %d", errResync, after, es[0].Seq)
		}
		// New entries follow the board's last one only if the log still
		// holds that one as applied.
		if len(es) > 0 {
			if err := r.verify(ctx); err != nil {
				return err
			}
		}
		oldest := r.cfg.Seasons.oldest(now)
		b.mu.Lock()
		for _, e := range es {
			b.set(e.CustomerID, e.Balance)
			b.seq, b.at = e.Seq, now
			if e.Season != "" && e.Season >= oldest {
				b.setSeason(e.Season, e.CustomerID, e.SeasonBalance)
			}
		}
		b.dropSeasonsBefore(oldest)
		for _, sb := range b.seasons {
			sb.SetSeq(b.seq, b.at)
		}
		b.mu.Unlock()
		if len(es) > 0 {
			r.last = es[len(es)-1]
		}
		if len(es) > 0 && r.board.Load() == b {
			r.advanced()
		}
		if block > 0 || len(es) < logReadMax {
			return nil
		}
	}
}

// Dashboard answers with a snapshot that includes every change written
// before the call; or, when that cannot be confirmed in time, with what the
// board has applied, marked Stale. Before the first snapshot is loaded it
// answers from the Redis histogram, marked Partial, or ErrNotReady without
// one.
func (r *Replica) Dashboard(ctx context.Context, id uint64, n, k int) (Dashboard, error) {
	if r.board.Load() == nil {
		return r.partial(ctx, id, n)
	}
	return r.answer(ctx, func(b *Board) Dashboard { return b.Dashboard(id, n, k) })
}

// answer waits until the board has applied the latest change (or gives up
// and marks the answer stale) and answers with read from the board.
func (r *Replica) answer(ctx context.Context, read func(*Board) Dashboard) (Dashboard, error) {
	b := r.board.Load()
	stale := func() (Dashboard, error) {
		d := read(r.board.Load())
		d.Stale = true
		return d, nil
	}
	target, err := r.gate.latest(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return Dashboard{}, ctx.Err()
		}
		return stale()
	}
	if b.Seq() >= target {
		return read(b), nil
	}
	if !r.following() {
		return stale()
	}
	wctx, cancel := context.WithTimeout(ctx, r.cfg.MaxWait)
	defer cancel()
	for {
		ch := r.waitChan()
		if b = r.board.Load(); b.Seq() >= target {
			return read(b), nil
		}
		select {
		case <-ch:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return Dashboard{}, ctx.Err()
			}
			return stale()
		}
	}
}

// partial answers from the Redis index alone: the customer's points and
// exact rank, the number ranked and the top n (one snapshot), and the
// customer's ties (a second read: a change between them may be half seen).
func (r *Replica) partial(ctx context.Context, id uint64, n int) (Dashboard, error) {
	h := r.cfg.Partial
	if h == nil {
		return Dashboard{}, ErrNotReady
	}
	p, err := h.Partial(ctx, id, n)
	if err != nil {
		return Dashboard{}, partialErr(err)
	}
	d := Dashboard{Me: Entry{CustomerID: id, Rank: 1 + p.Above, Points: p.Points}, Ranked: p.Points > 0, Total: p.Ranked, Partial: true}
	if p.TopFull {
		for i, e := range p.Top {
			rank := int64(i) + 1
			if i > 0 && e.Points == p.Top[i-1].Points {
				rank = d.Top[i-1].Rank
			}
			d.Top = append(d.Top, Entry{CustomerID: e.CustomerID, Rank: rank, Points: e.Points})
		}
	}
	if p.Points > 0 {
		atLeast, _, err := h.Rank(ctx, p.Points-1)
		if err != nil {
			return Dashboard{}, partialErr(err)
		}
		d.Tied = max(atLeast-p.Above, 1)
	}
	d.partialNudges(n)
	return d, nil
}

// gate coalesces "what is the latest seq?" questions: every caller waits for
// a GET that started after it asked, and one GET answers all who asked
// before it started (they share a round, woken together when it answers).
// While a GET has been running longer than slow (the primary is stopped or
// unreachable), callers are told so at once instead of queueing behind it.
type gate struct {
	head     Head
	now      func() time.Time
	slow     time.Duration
	mu       sync.Mutex
	next     *round // the round new callers join: its GET has not started
	inflight bool
	started  time.Time // of the GET in flight
}

// round is one GET of the seq and the callers waiting for it.
type round struct {
	done chan struct{} // closed once seq and err are set
	seq  uint64
	err  error
}

// errHeadSlow means the GET in flight has not answered within the budget.
var errHeadSlow = errors.New("the primary is not answering")

// latest returns the seq a GET started after the call read, waiting for it
// at most slow (then errHeadSlow) and while ctx lasts (then ctx.Err()).
func (g *gate) latest(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	if g.inflight && g.now().Sub(g.started) > g.slow {
		g.mu.Unlock()
		return 0, errHeadSlow
	}
	if g.next == nil {
		g.next = &round{done: make(chan struct{})}
	}
	r := g.next
	if !g.inflight {
		g.inflight = true
		go g.fetch()
	}
	g.mu.Unlock()
	t := time.NewTimer(g.slow)
	defer t.Stop()
	select {
	case <-r.done:
		return r.seq, r.err
	case <-t.C:
		return 0, errHeadSlow
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (g *gate) fetch() {
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.inflight = false
			g.mu.Unlock()
			return
		}
		g.started = g.now()
		g.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r.seq, r.err = g.head.Seq(ctx)
		cancel()
		close(r.done)
	}
}

// Local serves dashboards straight from a board that is itself the index
// (embedded mode), and its season boards from Seasons (nil: none). Safe for
// concurrent use.
type Local struct {
	B       *Board
	Seasons func(name string) *Board
}

// Dashboard answers from the board.
func (l Local) Dashboard(_ context.Context, id uint64, n, k int) (Dashboard, error) {
	return l.B.Dashboard(id, n, k), nil
}

// Ready is always true.
func (l Local) Ready() bool { return true }
