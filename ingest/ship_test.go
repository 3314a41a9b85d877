package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest/mocks"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"go.uber.org/mock/gomock"
)

// errorLog is a logger that keeps its error records.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *errorLog) WithGroup(string) slog.Handler                { return h }
func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	h.mu.Lock()
	h.msgs = append(h.msgs, b.String())
	h.mu.Unlock()
	return nil
}

func (h *errorLog) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

// shipEnv is a Redis index and a ClickHouse ledger of the test's own.
type shipEnv struct {
	ctx    context.Context
	x      *redisindex.Index
	rdb    *redis.Client
	prefix string
	led    *chledger.Ledger
}

// databases numbers the tests' databases on the shared ClickHouse: each
// test its own, also under -count.
var databases atomic.Int64

func newShipEnv(t testing.TB, withLedger bool) *shipEnv {
	t.Helper()
	e := &shipEnv{ctx: testenv.Context(t), prefix: t.Name()}
	e.rdb = redis.NewClient(&redis.Options{Addr: testenv.Redis(t).Addr})
	t.Cleanup(func() { e.rdb.Close() })
	cfg := redisindex.DefaultConfig()
	cfg.Prefix, cfg.DedupeParts = e.prefix, 64
	e.x = redisindex.New(e.rdb, cfg)
	if withLedger {
		ch := chledger.DefaultConfig()
		ch.Addr = testenv.SharedClickHouse(t).Addr
		ch.Database = fmt.Sprintf("%s_%d", strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")), databases.Add(1))
		var err error
		if e.led, err = chledger.Open(e.ctx, ch); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.led.Close() })
	}
	return e
}

// apply applies orders "id:customer:points:amount" to the index, bypassing
// validation (as a change validation missed would).
func (e *shipEnv) apply(t testing.TB, orders ...string) {
	t.Helper()
	cs := make([]ledger.Change, len(orders))
	for i, o := range orders {
		f := strings.Split(o, ":")
		cust, _ := strconv.ParseUint(f[1], 10, 64)
		pts, _ := strconv.ParseInt(f[2], 10, 64)
		amt := decimal.RequireFromString(f[3])
		cs[i] = ledger.Change{ID: f[0], CustomerID: cust, Points: pts, Cause: ledger.CauseOrder, Channel: "web",
			Amount: amt, Currency: "GBP", AmountGBP: amt, OccurredAt: time.Now().UTC().Truncate(time.Second)}
		cs[i].Seal()
	}
	out, err := e.x.Apply(e.ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Err != nil || o.Replayed {
			t.Fatalf("apply %s: %+v", o.ID, o)
		}
	}
}

// plantBroken appends to the change log an entry whose change can't be
// decoded, for customer 9, as a bug or a newer writer could; it returns its
// seq. The test knows the log's layout (histogram/redisindex/doc.go) to do so.
func (e *shipEnv) plantBroken(t *testing.T) uint64 {
	t.Helper()
	p := "{" + e.prefix + "}"
	seq, err := e.rdb.Incr(e.ctx, p+":seq").Uint64()
	if err == nil {
		err = e.rdb.XAdd(e.ctx, &redis.XAddArgs{Stream: p + ":log", ID: strconv.FormatUint(seq, 10) + "-0",
			Values: []any{"u", "9", "k", "0", "b", "3", "d", "3", "t", strconv.FormatInt(time.Now().Unix(), 10), "c", `{"id":"broken","customer_id":`}}).Err()
	}
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func (e *shipEnv) inLedger(t *testing.T, ids ...string) map[string]bool {
	t.Helper()
	found, err := e.led.Lookup(e.ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for id := range found {
		got[id] = true
	}
	return got
}

func (e *shipEnv) deadSeqs(t *testing.T) []uint64 {
	t.Helper()
	ds, err := e.x.DeadLetters(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, d := range ds {
		out = append(out, d.Seq)
	}
	return out
}

// gate is the real ledger behind a switch that refuses chosen change ids the
// way the ledger refuses data it can't store (chledger.ErrInvalid): a cause
// an operator can fix, as a migration widening a column would.
type gate struct {
	Sink
	mu     sync.Mutex
	refuse map[string]bool
}

func (g *gate) Append(ctx context.Context, es []ledger.Entry) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range es {
		if g.refuse[e.ID] {
			return fmt.Errorf("chledger: append entry seq %d (%s): %w: column too narrow", e.Seq, e.ID, chledger.ErrInvalid)
		}
	}
	return g.Sink.Append(ctx, es)
}

// TestShipperDeadLetters plants three entries the ledger can't take between
// good ones (one refused until the cause is fixed, one whose amount no
// column holds, one whose change can't be decoded): the good ones reach
// ClickHouse, the three are set aside with their reasons and logged once,
// even after a crash before the shipped mark; retry ships the fixed one and
// drop (with a reason) deals with the others.
func TestShipperDeadLetters(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, true)
	e.apply(t, "a1:1:5:50", "a2:2:3:30", "fixable:3:4:40", "poison:4:1:1e40") // seq 1..4
	broken := e.plantBroken(t)                                                // 5
	e.apply(t, "a3:5:2:20", "a4:1:1:10")                                      // 6, 7
	g := &gate{Sink: e.led, refuse: map[string]bool{"fixable": true}}
	logs := &errorLog{}
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	sh := NewShipper(e.x, nil, g, 100, slog.New(logs))
	sh.now = func() time.Time { return at }

	n, err := sh.ShipOnce(e.ctx)
	if err != nil || n != 4 {
		t.Fatalf("ShipOnce = %d, %v; want 4 shipped past the dead letters", n, err)
	}
	if got := e.inLedger(t, "a1", "a2", "fixable", "poison", "a3", "a4"); len(got) != 4 || !got["a1"] || !got["a2"] || !got["a3"] || !got["a4"] {
		t.Fatalf("in the ledger: %v, want a1 a2 a3 a4", got)
	}
	if mark, err := e.x.Shipped(e.ctx); err != nil || mark != 7 {
		t.Fatalf("shipped mark = %d, %v; want 7", mark, err)
	}
	ds, err := e.x.DeadLetters(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].Seq != 3 || ds[1].Seq != 4 || ds[2].Seq != broken {
		t.Fatalf("dead letters %+v, want seqs 3, 4, %d", ds, broken)
	}
	for _, c := range []struct {
		d        ledger.DeadLetter
		id       string
		customer uint64
		reason   string
	}{{ds[0], "fixable", 3, "column too narrow"}, {ds[1], "poison", 4, "does not fit"}, {ds[2], "", 9, "can't be decoded"}} {
		if c.d.ChangeID != c.id || c.d.CustomerID != c.customer || !strings.Contains(c.d.Reason, c.reason) || !c.d.At.Equal(at) {
			t.Errorf("dead letter %d = %+v; want change %q, customer %d, reason with %q, at %s", c.d.Seq, c.d, c.id, c.customer, c.reason, at)
		}
	}
	if ds[1].Entry == nil || ds[1].Entry.Delta != 1 || ds[2].Entry != nil || ds[2].DecodeErr == "" || ds[2].Fields["c"] == "" {
		t.Errorf("dead letters keep the entry (or, broken, its fields and why): %+v / %+v", ds[1], ds[2])
	}
	if logs.count() != 3 || sh.DeadLettered() != 3 || sh.DeadLetterCount() != 3 {
		t.Fatalf("%d errors logged, DeadLettered %d, DeadLetterCount %d; want 3 each:\n%s", logs.count(), sh.DeadLettered(), sh.DeadLetterCount(), strings.Join(logs.msgs, "\n"))
	}

	// A crash after setting aside, before the mark: the next shipper sends the
	// batch again and sets nothing aside twice.
	if err := e.x.MarkShipped(e.ctx, 0); err != nil {
		t.Fatal(err)
	}
	logs2 := &errorLog{}
	sh2 := NewShipper(e.x, nil, g, 100, slog.New(logs2))
	if n, err := sh2.ShipOnce(e.ctx); err != nil || n != 4 {
		t.Fatalf("ShipOnce after the crash = %d, %v; want the 4 sent again", n, err)
	}
	if got := e.deadSeqs(t); len(got) != 3 || logs2.count() != 0 || sh2.DeadLettered() != 0 {
		t.Fatalf("after the crash: dead letters %v, %d errors logged, DeadLettered %d; want the same 3, none new", got, logs2.count(), sh2.DeadLettered())
	}
	bal := map[uint64]int64{}
	if err := e.led.Balances(e.ctx, func(c uint64, b int64) error { bal[c] = b; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := map[uint64]int64{1: 6, 2: 3, 5: 2}; fmt.Sprint(bal) != fmt.Sprint(want) {
		t.Fatalf("ledger balances %v, want %v (nothing counted twice)", bal, want)
	}

	// The cause of the first is fixed: retry ships it; the others stay.
	g.mu.Lock()
	g.refuse = nil
	g.mu.Unlock()
	res, err := sh.RetryDeadLetters(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Shipped, []uint64{3}) || len(res.Failed) != 2 || res.Failed[0].Seq != 4 || res.Failed[1].Seq != broken ||
		!strings.Contains(res.Failed[0].Reason, "does not fit") || !strings.Contains(res.Failed[1].Reason, "can only be dropped") || len(res.Missing) != 0 {
		t.Fatalf("retry = %+v; want 3 shipped, 4 and %d failed", res, broken)
	}
	if !e.inLedger(t, "fixable")["fixable"] || !slices.Equal(e.deadSeqs(t), []uint64{4, broken}) {
		t.Fatalf("after retry: fixable in the ledger %v, dead letters %v", e.inLedger(t, "fixable"), e.deadSeqs(t))
	}
	if res, err := sh.RetryDeadLetters(e.ctx, []uint64{4, 99}); err != nil || len(res.Shipped) != 0 || len(res.Failed) != 1 || !slices.Equal(res.Missing, []uint64{99}) {
		t.Fatalf("retry 4 99 = %+v, %v; want 4 failed, 99 missing", res, err)
	}

	// The others can never be stored: dropped, with a reason.
	if err := sh.DropDeadLetter(e.ctx, 4, "  "); err == nil || !strings.Contains(err.Error(), "reason is required") {
		t.Fatalf("drop without a reason = %v, want it refused", err)
	}
	for _, seq := range []uint64{4, broken} {
		if err := sh.DropDeadLetter(e.ctx, seq, "typed in by mistake"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sh.DropDeadLetter(e.ctx, 4, "again"); !errors.Is(err, redisindex.ErrNoDeadLetter) {
		t.Fatalf("drop twice = %v, want ErrNoDeadLetter", err)
	}
	dropped, err := e.x.DroppedLetters(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 2 || dropped[0].Seq != 4 || dropped[0].ChangeID != "poison" || dropped[0].DropReason != "typed in by mistake" || dropped[1].Seq != broken {
		t.Fatalf("dropped %+v", dropped)
	}
	// Shipping the log again (a crash) never brings a dropped letter back.
	if err := e.x.MarkShipped(e.ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.ShipOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := e.x.DeadLetterCount(e.ctx); err != nil || n != 0 || sh.DeadLettered() != 3 {
		t.Fatalf("after dropping and shipping again: %d dead letters (%v), DeadLettered %d; want 0 and still 3", n, err, sh.DeadLettered())
	}
}

// TestShipperLedgerDown: while the ledger is unreachable, or answers an
// error that blames no entry, nothing is set aside and the mark stays; once
// it answers, everything ships.
func TestShipperLedgerDown(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, false)
	e.apply(t, "a1:1:5:50", "a2:2:3:30", "a3:3:1:10")
	sink := mocks.NewMockSink(gomock.NewController(t))
	down := fmt.Errorf("chledger: append 3 entries: %w: dial tcp 127.0.0.1:9000: connection refused", chledger.ErrUnavailable)
	schema := errors.New("chledger: append 3 entries: the ledger's amount column is Decimal(18, 3), not Decimal(18, 6): run `loyalty migrate`")
	gomock.InOrder(
		sink.EXPECT().Append(gomock.Any(), gomock.Len(3)).Return(down).Times(2),
		sink.EXPECT().Append(gomock.Any(), gomock.Len(3)).Return(schema),
		sink.EXPECT().Append(gomock.Any(), gomock.Len(3)).Return(nil),
	)
	logs := &errorLog{}
	sh := NewShipper(e.x, nil, sink, 100, slog.New(logs))
	for i, want := range []error{chledger.ErrUnavailable, chledger.ErrUnavailable, nil} {
		n, err := sh.ShipOnce(e.ctx)
		if err == nil || n != 0 || (want != nil && !errors.Is(err, want)) {
			t.Fatalf("round %d: ShipOnce = %d, %v; want 0 and the ledger's error", i, n, err)
		}
		if mark, _ := e.x.Shipped(e.ctx); mark != 0 {
			t.Fatalf("round %d: shipped mark %d, want 0", i, mark)
		}
		if dead, _ := e.x.DeadLetterCount(e.ctx); dead != 0 || logs.count() != 0 {
			t.Fatalf("round %d: %d dead letters, %d errors logged; want none", i, dead, logs.count())
		}
	}
	if n, err := sh.ShipOnce(e.ctx); err != nil || n != 3 {
		t.Fatalf("ShipOnce with the ledger back = %d, %v; want 3", n, err)
	}
	if mark, _ := e.x.Shipped(e.ctx); mark != 3 {
		t.Fatalf("shipped mark %d, want 3", mark)
	}
}

// TestShipperSetAsideFails: if the dead letter can't be stored (Redis
// fails at that moment), the mark does not pass the entry.
func TestShipperSetAsideFails(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	out, sink := mocks.NewMockOutbox(ctrl), mocks.NewMockSink(ctrl)
	es := []ledger.Entry{{Seq: 1}, {Seq: 2}}
	es[0].ID, es[1].ID = "good", "bad"
	refused := fmt.Errorf("append: %w: amount does not fit", chledger.ErrInvalid)
	out.EXPECT().Shipped(gomock.Any()).Return(uint64(0), nil)
	out.EXPECT().DeadLetterCount(gomock.Any()).Return(int64(0), nil)
	out.EXPECT().Confirmed(gomock.Any()).Return(uint64(2), nil)
	out.EXPECT().Entries(gomock.Any(), uint64(0), int64(2)).Return(es, nil)
	sink.EXPECT().Append(gomock.Any(), es).Return(refused)
	sink.EXPECT().Append(gomock.Any(), es[:1]).Return(nil)
	sink.EXPECT().Append(gomock.Any(), es[1:]).Return(refused)
	out.EXPECT().PutDeadLetter(gomock.Any(), gomock.Any()).Return(false, fmt.Errorf("store dead letter: %w: i/o timeout", redisindex.ErrUnavailable))
	// No MarkShipped expected: the mock fails the test if it is called.
	sh := NewShipper(out, nil, sink, 100, slog.New(&errorLog{}))
	if _, err := sh.ShipOnce(context.Background()); !errors.Is(err, redisindex.ErrUnavailable) {
		t.Fatalf("ShipOnce = %v, want the store's error", err)
	}
}

// memSink is a ledger in memory that refuses any batch holding a poison
// entry, the way ClickHouse refuses a whole insert.
type memSink struct {
	poison  map[uint64]bool
	stored  map[uint64]int
	inserts int
}

func (m *memSink) Append(_ context.Context, es []ledger.Entry) error {
	m.inserts++
	for _, e := range es {
		if m.poison[e.Seq] {
			return fmt.Errorf("append: %w: entry %d", chledger.ErrInvalid, e.Seq)
		}
	}
	for _, e := range es {
		m.stored[e.Seq]++
	}
	return nil
}

// TestAppendSplittingRandom: in random batches with random poison entries,
// splitting stores every other entry once, hands on exactly the poison
// ones, and costs at most 2*log2(n)+1 inserts per poison entry.
func TestAppendSplittingRandom(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for round := range 200 {
		n, k := 1+rng.IntN(400), rng.IntN(6)
		m := &memSink{poison: map[uint64]bool{}, stored: map[uint64]int{}}
		for range k {
			m.poison[uint64(1+rng.IntN(n))] = true
		}
		es := make([]ledger.Entry, n)
		for i := range es {
			es[i].Seq = uint64(i + 1)
		}
		var dead []uint64
		sh := &Shipper{sink: m}
		if err := sh.appendSplitting(context.Background(), es, func(e ledger.Entry, err error) error {
			if !errors.Is(err, chledger.ErrInvalid) {
				t.Fatalf("round %d: entry %d handed on with %v", round, e.Seq, err)
			}
			dead = append(dead, e.Seq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if want := map[bool]int{false: 1, true: 0}[m.poison[e.Seq]]; m.stored[e.Seq] != want {
				t.Fatalf("round %d (n %d, poison %v): entry %d stored %d times, want %d", round, n, m.poison, e.Seq, m.stored[e.Seq], want)
			}
		}
		if len(dead) != len(m.poison) {
			t.Fatalf("round %d: set aside %v, want %v", round, dead, m.poison)
		}
		if limit := 1 + len(m.poison)*2*(bits.Len(uint(n))+1); m.inserts > limit {
			t.Fatalf("round %d: %d inserts for n %d with %d poison, want at most %d", round, m.inserts, n, len(m.poison), limit)
		}
	}
}

// orderedFinder records the order of the lookups.
type orderedFinder struct {
	calls *[]string
	has   map[string]ledger.Entry
	name  string
}

func (f orderedFinder) DeadLetterChanges(_ context.Context, ids []string) (map[string]ledger.Entry, error) {
	*f.calls = append(*f.calls, f.name)
	return f.has, nil
}

func (f orderedFinder) Lookup(ctx context.Context, ids []string) (map[string]ledger.Entry, error) {
	return f.DeadLetterChanges(ctx, ids)
}

// TestWithDeadLetters: a change set aside is known to the Writer's history
// as if in the ledger, and the dead letters are searched before the ledger
// (a retry moves a letter into the ledger, then out of the store).
func TestWithDeadLetters(t *testing.T) {
	t.Parallel()
	var calls []string
	inLedger := ledger.Entry{Seq: 1}
	inLedger.ID = "shipped"
	set := ledger.Entry{Seq: 2}
	set.ID = "refused"
	h := WithDeadLetters(orderedFinder{&calls, map[string]ledger.Entry{"shipped": inLedger}, "ledger"},
		orderedFinder{&calls, map[string]ledger.Entry{"refused": set}, "dead"})
	found, err := h.Lookup(context.Background(), []string{"shipped", "refused", "new"})
	if err != nil || len(found) != 2 || found["shipped"].Seq != 1 || found["refused"].Seq != 2 {
		t.Fatalf("Lookup = %+v, %v; want shipped and refused", found, err)
	}
	if !slices.Equal(calls, []string{"dead", "ledger"}) {
		t.Fatalf("searched %v, want the dead letters first", calls)
	}
}

// BenchmarkShipPoisonBatch ships a full batch of 10,000 entries to a real
// ClickHouse, clean or with one entry the ledger refuses (found by
// splitting): the cost of a dead letter. Each round sends the batch again
// (the ledger deduplicates by seq).
func BenchmarkShipPoisonBatch(b *testing.B) {
	for _, poison := range []bool{false, true} {
		b.Run(fmt.Sprintf("poison=%v", poison), func(b *testing.B) {
			e := newShipEnv(b, true)
			const n = 10_000
			orders := make([]string, 0, n)
			for i := range n {
				amt := "10"
				if poison && i == n/3 {
					amt = "1e40"
				}
				orders = append(orders, fmt.Sprintf("b%d:%d:1:%s", i, 1+i%500, amt))
			}
			for i := 0; i < n; i += 1000 {
				e.apply(b, orders[i:i+1000]...)
			}
			sh := NewShipper(e.x, nil, e.led, n, slog.New(&errorLog{}))
			for b.Loop() {
				if err := e.x.MarkShipped(e.ctx, 0); err != nil {
					b.Fatal(err)
				}
				if got, err := sh.ShipOnce(e.ctx); err != nil || got != n-map[bool]int{false: 0, true: 1}[poison] {
					b.Fatalf("ShipOnce = %d, %v", got, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/batch")
		})
	}
}
