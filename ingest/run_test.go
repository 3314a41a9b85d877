package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
)

// row is one entry of a fake source: an order, or a reject.
type row struct {
	o      Order
	reject string
}

// fakeSource yields rows in order.
type fakeSource struct {
	file   string
	rows   []row
	next   int
	closed bool
}

func (s *fakeSource) Next() (Order, int, error) {
	if s.next == len(s.rows) {
		return Order{}, 0, io.EOF
	}
	r := s.rows[s.next]
	s.next++
	if r.reject != "" {
		return Order{}, s.next, &Reject{File: s.file, Line: s.next, OrderID: r.o.ID, Reason: r.reject}
	}
	return r.o, s.next, nil
}

func (s *fakeSource) Rows() int64  { return int64(s.next) }
func (s *fakeSource) Close() error { s.closed = true; return nil }

func order(id string, customer uint64, amount string, at time.Time) Order {
	return Order{ID: id, CustomerID: customer, Channel: ChannelStore, StoreID: "S1", Amount: decimal.RequireFromString(amount),
		Currency: "GBP", PurchasedAt: at}
}

func testRule(t *testing.T) *points.Rule {
	t.Helper()
	rule, err := points.New(points.Config{EURToGBP: decimal.RequireFromString("0.85")})
	if err != nil {
		t.Fatal(err)
	}
	return rule
}

// gatedApplier is an index of balances whose calls wait until the test
// releases them, in any order it likes: it records the order in which
// changes were applied and how many calls were in flight at most.
type gatedApplier struct {
	rule *points.Rule

	mu        sync.Mutex
	bal       map[uint64]int64
	seen      map[string]bool
	applied   []ledger.Change
	inFlight  int
	maxFlight int
	calls     chan *gatedCall
	fail      func([]ledger.Change) error // nil: none fail
}

type gatedCall struct {
	changes []ledger.Change
	release chan struct{}
}

func newGated(t *testing.T) *gatedApplier {
	return &gatedApplier{rule: testRule(t), bal: map[uint64]int64{}, seen: map[string]bool{}, calls: make(chan *gatedCall)}
}

func (g *gatedApplier) Rule() *points.Rule { return g.rule }

func (g *gatedApplier) Correct(context.Context, Order, string) (ledger.Outcome, error) {
	return ledger.Outcome{}, errors.New("not used")
}

func (g *gatedApplier) Apply(ctx context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
	g.mu.Lock()
	g.inFlight++
	g.maxFlight = max(g.maxFlight, g.inFlight)
	g.mu.Unlock()
	c := &gatedCall{cs, make(chan struct{})}
	select {
	case g.calls <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-c.release
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight--
	if g.fail != nil {
		if err := g.fail(cs); err != nil {
			return nil, err
		}
	}
	out := make([]ledger.Outcome, len(cs))
	for i, c := range cs {
		if g.seen[c.ID] {
			out[i] = ledger.Outcome{Replayed: true}
			continue
		}
		g.seen[c.ID] = true
		old := g.bal[c.CustomerID]
		g.bal[c.CustomerID] = max(0, old+c.Points)
		g.applied = append(g.applied, c)
		out[i] = ledger.Outcome{Entry: ledger.Entry{Change: c, Delta: g.bal[c.CustomerID] - old, Balance: g.bal[c.CustomerID]}}
	}
	return out, nil
}

// releaseRandomly releases the calls that arrive in random order: it holds
// up to hold of them, waiting a moment for more before it releases one,
// until stop is closed. (The wait only makes overlaps likelier; nothing
// depends on it.)
func (g *gatedApplier) releaseRandomly(r *rand.Rand, hold int, stop <-chan struct{}) {
	var held []*gatedCall
	release := func() {
		i := r.IntN(len(held))
		close(held[i].release)
		held = slices.Delete(held, i, i+1)
	}
	for {
		var more <-chan time.Time
		if len(held) > 0 {
			if len(held) >= hold {
				release()
				continue
			}
			more = time.After(time.Millisecond)
		}
		select {
		case c := <-g.calls:
			held = append(held, c)
		case <-more:
			release()
		case <-stop:
			for _, c := range held {
				close(c.release)
			}
			return
		}
	}
}

func sources(files map[string][]row) func(string) (Source, error) {
	var mu sync.Mutex
	return func(path string) (Source, error) {
		mu.Lock()
		defer mu.Unlock()
		rows, ok := files[path]
		if !ok {
			return nil, fmt.Errorf("open %s: no such file", path)
		}
		return &fakeSource{file: path, rows: rows}, nil
	}
}

// TestRunKeepsEachCustomersOrder applies random files with calls released
// in random order: every customer's changes apply in file order, each
// once, the balances equal one sequential run's, and calls did overlap.
func TestRunKeepsEachCustomersOrder(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(uint64(seed), 12))
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	files := map[string][]row{}
	var names []string
	var all []Order
	for f := range 3 {
		name := fmt.Sprintf("day-%d.csv", f)
		names = append(names, name)
		for i := range 300 + r.IntN(300) {
			amount := fmt.Sprint(r.IntN(300))
			if r.IntN(4) == 0 {
				amount = "-" + amount
			}
			o := order(fmt.Sprintf("%d-%d", f, i), uint64(1+r.IntN(40)), amount, at)
			files[name] = append(files[name], row{o: o})
			all = append(all, o)
		}
	}
	g := newGated(t)
	stop := make(chan struct{})
	go g.releaseRandomly(r, 3, stop)
	defer close(stop)
	run := NewRun(RunConfig{Batch: 50, CallSize: 8, Parallel: 3, ReadAhead: 2}, g, nil, nil, sources(files), func(Reject) error {
		t.Error("unexpected reject")
		return nil
	})
	if err := run.Files(context.Background(), names); err != nil {
		t.Fatal(err)
	}
	// One sequential run, by hand.
	want := map[uint64]int64{}
	wantOrder := map[uint64][]string{}
	for _, o := range all {
		c, err := o.Change(g.rule, "x")
		if err != nil {
			t.Fatal(err)
		}
		want[o.CustomerID] = max(0, want[o.CustomerID]+c.Points)
		wantOrder[o.CustomerID] = append(wantOrder[o.CustomerID], o.ID)
	}
	gotOrder := map[uint64][]string{}
	for _, c := range g.applied {
		gotOrder[c.CustomerID] = append(gotOrder[c.CustomerID], c.ID)
	}
	for id, w := range wantOrder {
		if !slices.Equal(gotOrder[id], w) {
			t.Fatalf("customer %d: applied %v, want the file order %v", id, gotOrder[id], w)
		}
		if g.bal[id] != want[id] {
			t.Errorf("customer %d: balance %d, want %d", id, g.bal[id], want[id])
		}
	}
	c := run.Counts()
	if c.Applied != int64(len(all)) || c.Files != 3 || c.Rows != int64(len(all)) {
		t.Errorf("counts %+v, want %d applied in 3 files", c, len(all))
	}
	t.Logf("at most %d calls in flight", g.maxFlight)
}

// TestRunOverlapsDisjointCalls: calls of different customers are in flight
// together, up to Parallel.
func TestRunOverlapsDisjointCalls(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	var rows []row
	for i := range 16 {
		rows = append(rows, row{o: order(fmt.Sprint("o", i), uint64(1+i), "50", at)})
	}
	g := newGated(t)
	run := NewRun(RunConfig{Batch: 16, CallSize: 4, Parallel: 2}, g, nil, nil, sources(map[string][]row{"f": rows}), func(Reject) error { return nil })
	done := make(chan error, 1)
	go func() { done <- run.Files(context.Background(), []string{"f"}) }()
	next := func() *gatedCall {
		t.Helper()
		select {
		case c := <-g.calls:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no call started while another was held: the calls do not overlap")
			return nil
		}
	}
	first, second := next(), next() // both in flight before either is released
	if first.changes[0].ID == second.changes[0].ID {
		t.Fatal("the same call twice")
	}
	close(second.release)
	third := next()
	close(first.release)
	close(third.release)
	close(next().release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g.maxFlight != 2 || run.Counts().Applied != 16 {
		t.Errorf("%d calls in flight at most, %d applied; want 2 and 16", g.maxFlight, run.Counts().Applied)
	}
}

// TestRunStopsAtAFailedCall: a call that fails (not an outage) stops the
// run with its error, and no later call of its customers starts.
func TestRunStopsAtAFailedCall(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	var rows []row
	for i := range 200 {
		rows = append(rows, row{o: order(fmt.Sprint("o", i), uint64(1+i%10), "50", at)})
	}
	g := newGated(t)
	boom := errors.New("encode change: boom")
	g.fail = func(cs []ledger.Change) error {
		for _, c := range cs {
			if c.ID == "o57" {
				return boom
			}
		}
		return nil
	}
	stop := make(chan struct{})
	go g.releaseRandomly(rand.New(rand.NewPCG(1, 2)), 2, stop)
	defer close(stop)
	run := NewRun(RunConfig{Batch: 20, CallSize: 5, Parallel: 2}, g, nil, nil, sources(map[string][]row{"f": rows}), func(Reject) error { return nil })
	if err := run.Files(context.Background(), []string{"f"}); !errors.Is(err, boom) {
		t.Fatalf("Files = %v, want %v", err, boom)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// The call of o55..o59 (customers 6..10) failed: no later change of
	// those customers applied (calls of other customers may have).
	for _, c := range g.applied {
		var n int
		fmt.Sscanf(c.ID, "o%d", &n)
		if n >= 55 && c.CustomerID >= 6 {
			t.Errorf("%s (customer %d) applied although the call of o57 failed", c.ID, c.CustomerID)
		}
	}
	if n := run.Counts().Applied; n > int64(len(g.applied)) || n > 55 {
		t.Errorf("counted %d applied of %d, all before the failed call", n, len(g.applied))
	}
}

// fakeApplier answers outcomes from a table by change id, once.
type fakeApplier struct {
	rule    *points.Rule
	mu      sync.Mutex
	outcome map[string]ledger.Outcome
	unavail int // the first calls answer ErrUnavailable
	got     []ledger.Change
}

func (f *fakeApplier) Rule() *points.Rule { return f.rule }
func (f *fakeApplier) Correct(context.Context, Order, string) (ledger.Outcome, error) {
	return ledger.Outcome{}, errors.New("not used")
}

func (f *fakeApplier) Apply(_ context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unavail > 0 {
		f.unavail--
		return nil, fmt.Errorf("%w: connection refused", ErrUnavailable)
	}
	out := make([]ledger.Outcome, len(cs))
	for i, c := range cs {
		f.got = append(f.got, c)
		out[i] = ledger.Outcome{Entry: ledger.Entry{Change: c, Delta: c.Points}}
		if o, ok := f.outcome[c.ID]; ok {
			out[i] = o
		}
	}
	return out, nil
}

// TestRunCountsAndRejects: rejects from the source and from the outcomes go
// to the rejects file in file order; skipped, duplicates, points and rows
// are counted; an outage is retried.
func TestRunCountsAndRejects(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rows := []row{
		{o: order("a", 1, "100", at)},
		{o: Order{ID: "bad"}, reject: "InvoiceDate: bad date"},
		{o: order("anon", 0, "20", at)},
		{o: order("dup", 2, "30", at)},
		{o: order("conflict", 3, "30", at)},
		{o: order("refund", 1, "-50", at)},
		{o: order("usd", 4, "30", at)},
	}
	rows[6].o.Currency = "USD"
	f := &fakeApplier{rule: testRule(t), unavail: 2, outcome: map[string]ledger.Outcome{
		"dup":      {Replayed: true},
		"conflict": {Err: fmt.Errorf("change conflict: %w", ledger.ErrConflict)},
		"refund":   {Entry: ledger.Entry{Delta: -5}},
	}}
	var rejects []Reject
	var progress []Counts
	run := NewRun(RunConfig{Batch: 2, CallSize: 2, RetryWait: time.Nanosecond}, f, nil, nil, sources(map[string][]row{"f.csv": rows}),
		func(r Reject) error { rejects = append(rejects, r); return nil })
	run.Progress = func(c Counts) { progress = append(progress, c) }
	if err := run.Files(context.Background(), []string{"f.csv"}); err != nil {
		t.Fatal(err)
	}
	want := Counts{Files: 1, Rows: 7, Applied: 2, Skipped: 1, Duplicates: 1, Rejected: 3, Awarded: 10, Deducted: 5, File: "f.csv", FileRows: 7}
	if got := run.Counts(); got != want {
		t.Errorf("counts %+v\nwant   %+v", got, want)
	}
	var lines []int
	for _, r := range rejects {
		lines = append(lines, r.Line)
	}
	if !slices.Equal(lines, []int{2, 5, 7}) || rejects[1].OrderID != "conflict" || rejects[2].OrderID != "usd" {
		t.Errorf("rejects %+v, want lines 2, 5 (conflict) and 7 (usd)", rejects)
	}
	if len(progress) == 0 || progress[len(progress)-1] != want {
		t.Errorf("progress %+v", progress)
	}
}

// fakeCheck is the ledger look-up ahead: shipped mark 42, and the ids it
// holds.
type fakeCheck struct {
	mu    sync.Mutex
	has   map[string]bool
	asked []string
}

func (f *fakeCheck) Shipped(context.Context) (uint64, error) { return 42, nil }
func (f *fakeCheck) Lookup(_ context.Context, ids []string) (map[string]ledger.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, ids...)
	found := map[string]ledger.Entry{}
	for _, id := range ids {
		if f.has[id] {
			found[id] = ledger.Entry{}
		}
	}
	return found, nil
}

// TestRunLooksOldOrdersUpAhead: orders older than Recent are looked up in
// the ledger before their call; those it lacks go checked at the shipped
// mark read before the look-up, those it holds and the recent ones go
// unchecked (the Writer decides them).
func TestRunLooksOldOrdersUpAhead(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	old, recent := now.Add(-72*time.Hour), now.Add(-time.Hour)
	rows := []row{{o: order("old", 1, "10", old)}, {o: order("held", 2, "10", old)}, {o: order("new", 3, "10", recent)}}
	f := &fakeApplier{rule: testRule(t)}
	check := &fakeCheck{has: map[string]bool{"held": true}}
	run := NewRun(RunConfig{Recent: 24 * time.Hour}, f, check, nil, sources(map[string][]row{"f": rows}), func(Reject) error { return nil })
	run.now = func() time.Time { return now }
	if err := run.Files(context.Background(), []string{"f"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(check.asked, []string{"old", "held"}) {
		t.Errorf("looked up %v, want [old held]", check.asked)
	}
	got := map[string]string{}
	for _, c := range f.got {
		got[c.ID] = fmt.Sprint(c.Checked, c.CheckedMark)
	}
	want := map[string]string{"old": "true 42", "held": "false 0", "new": "false 0"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: checked, mark = %s, want %s", id, got[id], w)
		}
	}
}

// blockRunner runs until its context ends.
type blockRunner struct{ started, stopped chan struct{} }

func (b blockRunner) Run(ctx context.Context) {
	close(b.started)
	<-ctx.Done()
	close(b.stopped)
}

// TestRunShipsWhileItRuns: the shipper runs during the run and has
// stopped when Files returns; an input that can't be opened stops the run
// after the files before it.
func TestRunShipsWhileItRuns(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	ship := blockRunner{make(chan struct{}), make(chan struct{})}
	f := &fakeApplier{rule: testRule(t)}
	run := NewRun(RunConfig{}, f, nil, ship, sources(map[string][]row{"a": {{o: order("x", 1, "10", at)}}}), func(Reject) error { return nil })
	err := run.Files(context.Background(), []string{"a", "missing"})
	if err == nil || run.Counts().Files != 1 || run.Counts().Applied != 1 {
		t.Fatalf("Files = %v, counts %+v; want the open error after file a", err, run.Counts())
	}
	select {
	case <-ship.stopped:
	default:
		t.Fatal("the shipper still runs after Files returned")
	}
}
