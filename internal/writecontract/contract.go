// Package writecontract is the exactly-once contract of the write path, as
// a test suite every store must pass: the Redis index (with the ClickHouse
// ledger behind it) and the embedded store, and any store added later. Each
// store's own test calls Run with a Harness over a fresh store.
//
// The contract, for ingest.Writer over a store:
//   - a change applied once is answered, when sent again with the same
//     content, with the original result (Replayed) and changes nothing;
//   - the same id with other content is a conflict and applies nothing;
//   - the same holds inside one batch, and for one id sent from many
//     goroutines at once: it applies exactly once;
//   - none of it depends on clocks: purchases dated ahead of the store's
//     clock (anywhere in the accepted range) or far behind it, a writer's
//     clock hours off the store's, and days passing on the store's clock
//     (past any memory window: the ledger answers then);
//   - a refund floors the balance at zero; a manual deduction larger than
//     the balance is refused (ledger.ErrInsufficient) and changes nothing;
//     a balance never exceeds the store's limit;
//   - a change also moves the season board of its own time (Europe/London
//     months), floored at zero on its own: refunds in the season of their
//     own date, across boundaries, checked against a brute-force sum;
//   - order ids may not use the "manual:" prefix of manual changes;
//   - a correction applies the difference to the points the order stands
//     at, once however often it is sent, also after the store forgot the
//     order (the ledger answers); the customer can't be corrected; an order
//     never applied can't be.
//
// Randomised parts log their seed; the -seed flag replays one (testenv.Seed).
package writecontract

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
	"github.com/xyz/loyalty/season"
)

// Harness is one fresh store under test.
type Harness struct {
	// Writer builds the store's write path (as production wires it), with
	// now as the writer's clock.
	Writer func(now func() time.Time) *ingest.Writer
	// Balance returns a customer's balance as the store holds it.
	Balance func(ctx context.Context, customer uint64) (int64, error)
	// Settle makes the ledger hold everything applied so far (ships the
	// change log); nil when the store is its own ledger.
	Settle func(ctx context.Context) error
	// AdvanceClock moves the store's clock d ahead of the real time (never
	// back), as a store whose clock runs ahead, or days passing, look to it.
	AdvanceClock func(ctx context.Context, d time.Duration) error
	// MaxPoints is the largest balance the store holds.
	MaxPoints int64
	// SeasonBalance returns a customer's balance on a season board; the
	// harness's writer must use monthly seasons (Calendar).
	SeasonBalance func(ctx context.Context, season string, customer uint64) (int64, error)
}

// Calendar is the season calendar harnesses give their writers: months.
func Calendar() season.Calendar {
	c, err := season.New(season.Month)
	if err != nil {
		panic(err) // Europe/London is embedded (time/tzdata)
	}
	return c
}

// Run runs the contract against stores made by newHarness, each subtest on
// a fresh store, in parallel: newHarness must give each its own store (its
// own key prefix, database or directory).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"ReplayAndConflict", testReplayAndConflict},
		{"InsideOneBatch", testInsideOneBatch},
		{"ManyGoroutines", testManyGoroutines},
		{"DatedAhead", testDatedAhead},
		{"DatedBehind", testDatedBehind},
		{"SkewedClocks", testSkewedClocks},
		{"FloorsAndLimits", testFloorsAndLimits},
		{"Manual", testManual},
		{"Corrections", testCorrections},
		{"Seasons", testSeasons},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newHarness(t))
		})
	}
}

// seed returns the generator of a randomised test, its seed logged
// (testenv.Seed: -seed=N replays one).
func seed(t *testing.T) *rand.Rand {
	t.Helper()
	s := testenv.Seed(t)
	return rand.New(rand.NewPCG(s, s))
}

func rule(t *testing.T) *points.Rule {
	t.Helper()
	r, err := points.New(points.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func order(id string, customer uint64, amount string, at time.Time) ingest.Order {
	return ingest.Order{ID: id, CustomerID: customer, Channel: ingest.ChannelWeb, Amount: decimal.RequireFromString(amount),
		Currency: "GBP", ItemIDs: []string{"85123A"}, PurchasedAt: at}
}

// change is the change o makes with the default rule.
func change(t *testing.T, o ingest.Order) ledger.Change {
	t.Helper()
	c, err := o.Change(rule(t), "contract")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// settle runs h.Settle, when the store has one.
func settle(t *testing.T, h Harness) {
	t.Helper()
	if h.Settle == nil {
		return
	}
	if err := h.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// apply sends one order and fails the test on an error.
func apply(t *testing.T, w *ingest.Writer, o ingest.Order) ledger.Outcome {
	t.Helper()
	out, err := w.ApplyOrder(context.Background(), o, "contract")
	if err != nil {
		t.Fatalf("order %s: %v", o.ID, err)
	}
	return out
}

func wantBalance(t *testing.T, h Harness, customer uint64, want int64) {
	t.Helper()
	got, err := h.Balance(context.Background(), customer)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("customer %d has %d points, want %d", customer, got, want)
	}
}

// wantReplay checks that o, sent again, is answered as a replay of first.
func wantReplay(t *testing.T, w *ingest.Writer, o ingest.Order, first ledger.Outcome) {
	t.Helper()
	got := apply(t, w, o)
	if !got.Replayed || got.Err != nil || got.Seq != first.Seq || got.Delta != first.Delta || got.Balance != first.Balance {
		t.Fatalf("order %s sent again: replayed=%v err=%v seq %d delta %d balance %d; want a replay of seq %d delta %d balance %d",
			o.ID, got.Replayed, got.Err, got.Seq, got.Delta, got.Balance, first.Seq, first.Delta, first.Balance)
	}
}

func wantConflict(t *testing.T, w *ingest.Writer, o ingest.Order) {
	t.Helper()
	got := apply(t, w, o)
	if !errors.Is(got.Err, ledger.ErrConflict) {
		t.Fatalf("order %s with other content: replayed=%v err=%v delta %d, want ErrConflict", o.ID, got.Replayed, got.Err, got.Delta)
	}
}

func testReplayAndConflict(t *testing.T, h Harness) {
	r := seed(t)
	now := time.Now()
	w := h.Writer(time.Now)
	want := map[uint64]int64{}
	type sent struct {
		o   ingest.Order
		out ledger.Outcome
	}
	var all []sent
	for i := range 60 {
		cust := uint64(1 + r.IntN(8))
		o := order(fmt.Sprintf("rc-%d", i), cust, fmt.Sprintf("%d.%02d", r.IntN(300), r.IntN(100)), now.Add(-time.Duration(r.IntN(3600))*time.Second))
		out := apply(t, w, o)
		if out.Replayed || out.Err != nil || out.Delta != change(t, o).Points {
			t.Fatalf("order %s: %+v, want %d points applied", o.ID, out, change(t, o).Points)
		}
		want[cust] += out.Delta
		all = append(all, sent{o, out})
	}
	for _, i := range r.Perm(len(all)) {
		wantReplay(t, w, all[i].o, all[i].out)
		other := all[i].o
		other.Amount = other.Amount.Add(decimal.NewFromInt(10))
		wantConflict(t, w, other)
	}
	for cust, p := range want {
		wantBalance(t, h, cust, p)
	}
}

func testInsideOneBatch(t *testing.T, h Harness) {
	w := h.Writer(time.Now)
	at := time.Now().Add(-time.Minute)
	a := change(t, order("batch-a", 5, "50", at))
	b := change(t, order("batch-a", 5, "70", at))
	c := change(t, order("batch-c", 5, "20", at))
	out, err := w.Apply(context.Background(), []ledger.Change{a, a, b, c, a})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Replayed || out[0].Err != nil || out[0].Delta != 5 {
		t.Fatalf("first: %+v", out[0])
	}
	if !out[1].Replayed || out[1].Seq != out[0].Seq || !out[4].Replayed || out[4].Seq != out[0].Seq {
		t.Fatalf("duplicates in one batch: %+v, %+v; want replays of seq %d", out[1], out[4], out[0].Seq)
	}
	if !errors.Is(out[2].Err, ledger.ErrConflict) {
		t.Fatalf("other content in one batch: %+v, want a conflict", out[2])
	}
	if out[3].Err != nil || out[3].Delta != 2 || out[3].Balance != 7 {
		t.Fatalf("the change after them: %+v, want +2 to 7", out[3])
	}
	wantBalance(t, h, 5, 7)
}

func testManyGoroutines(t *testing.T, h Harness) {
	r := seed(t)
	w := h.Writer(time.Now)
	const ids, senders = 20, 8
	at := time.Now().Add(-time.Hour)
	var wg sync.WaitGroup
	applied := make([]int, ids)
	var mu sync.Mutex
	errs := make(chan error, ids*senders)
	for g := range senders {
		order := r.Perm(ids)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range order {
				o := ingest.Order{ID: fmt.Sprintf("race-%d", i), CustomerID: 42, Channel: ingest.ChannelApp,
					Amount: decimal.NewFromInt(100), Currency: "GBP", PurchasedAt: at}
				out, err := w.ApplyOrder(context.Background(), o, "goroutine-"+strconv.Itoa(g))
				if err == nil && out.Err != nil {
					err = out.Err
				}
				if err != nil {
					errs <- fmt.Errorf("order %s: %w", o.ID, err)
					return
				}
				if !out.Replayed {
					mu.Lock()
					applied[i]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, n := range applied {
		if n != 1 {
			t.Fatalf("race-%d applied %d times by %d senders, want once", i, n, senders)
		}
	}
	wantBalance(t, h, 42, ids*10)
}

// testDatedAhead: purchases dated ahead of the store's clock, anywhere in
// the accepted range, count once when sent again: at once, a day later, and
// long after (when a store with a memory window has forgotten them and the
// ledger answers).
func testDatedAhead(t *testing.T, h Harness) {
	r := seed(t)
	w := h.Writer(time.Now)
	now := time.Now()
	var sent []ingest.Order
	var first []ledger.Outcome
	aheads := []time.Duration{time.Second, time.Hour, 20 * time.Hour, ingest.MaxAhead - time.Minute}
	for range 4 {
		aheads = append(aheads, time.Duration(r.Int64N(int64(ingest.MaxAhead-time.Minute))))
	}
	for i, d := range aheads {
		o := order(fmt.Sprintf("ahead-%d", i), 9, "50", now.Add(d))
		out := apply(t, w, o)
		if out.Replayed || out.Delta != 5 {
			t.Fatalf("order %s dated %s ahead: %+v, want 5 points applied", o.ID, d, out)
		}
		sent, first = append(sent, o), append(first, out)
		wantReplay(t, w, o, out)
		wantReplay(t, w, o, out)
	}
	wantBalance(t, h, 9, int64(5*len(aheads)))
	for _, days := range []int{1, 2, 5, 40} {
		settle(t, h)
		if err := h.AdvanceClock(context.Background(), time.Duration(days)*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		for i, o := range sent {
			wantReplay(t, w, o, first[i])
		}
	}
	wantBalance(t, h, 9, int64(5*len(aheads)))
}

// testDatedBehind: purchases older than any memory window apply once (the
// ledger is asked first), and count once when sent again, before and after
// the ledger has them.
func testDatedBehind(t *testing.T, h Harness) {
	r := seed(t)
	w := h.Writer(time.Now)
	now := time.Now()
	var sent []ingest.Order
	var first []ledger.Outcome
	for i := range 12 {
		back := time.Duration(1+r.IntN(400*24)) * time.Hour
		o := order(fmt.Sprintf("behind-%d", i), uint64(20+i%3), "30", now.Add(-back))
		out := apply(t, w, o)
		if out.Replayed || out.Delta != 3 {
			t.Fatalf("order %s dated %s behind: %+v, want 3 points applied", o.ID, back, out)
		}
		wantReplay(t, w, o, out)
		sent, first = append(sent, o), append(first, out)
	}
	settle(t, h)
	for i, o := range sent {
		wantReplay(t, w, o, first[i])
		other := o
		other.ItemIDs = []string{"OTHER"}
		wantConflict(t, w, other)
	}
	if err := h.AdvanceClock(context.Background(), 10*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for i, o := range sent {
		wantReplay(t, w, o, first[i])
	}
	wantBalance(t, h, 20, 12)
	wantBalance(t, h, 21, 12)
	wantBalance(t, h, 22, 12)
}

// testSkewedClocks: the writer's clock hours ahead of or behind the store's
// changes nothing: every order counts once.
func testSkewedClocks(t *testing.T, h Harness) {
	r := seed(t)
	var total int64
	type sent struct {
		o    ingest.Order
		out  ledger.Outcome
		skew time.Duration
	}
	var all []sent
	writer := func(skew time.Duration) *ingest.Writer {
		return h.Writer(func() time.Time { return time.Now().Add(skew) })
	}
	skews := []time.Duration{-11 * time.Hour, -3 * time.Hour, 0, 2 * time.Hour, 13 * time.Hour}
	for i, skew := range skews {
		// Dated by the channel's clock, which agrees with the writer's.
		at := time.Now().Add(skew).Add(-time.Duration(r.IntN(7200)) * time.Second)
		o := order(fmt.Sprintf("skew-%d", i), 77, "100", at)
		out := apply(t, writer(skew), o)
		if out.Err != nil || out.Replayed || out.Delta != 10 {
			t.Fatalf("writer clock %s off: %+v, want 10 points applied", skew, out)
		}
		total += out.Delta
		all = append(all, sent{o, out, skew})
		wantReplay(t, writer(skew), o, out)
	}
	if err := h.AdvanceClock(context.Background(), 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		for _, more := range []time.Duration{-time.Hour, time.Hour} {
			wantReplay(t, writer(s.skew+more), s.o, s.out)
		}
	}
	wantBalance(t, h, 77, total)
}

func testFloorsAndLimits(t *testing.T, h Harness) {
	w := h.Writer(time.Now)
	at := time.Now().Add(-time.Minute)
	apply(t, w, order("floor-buy", 31, "30", at))
	out := apply(t, w, order("floor-refund", 31, "-100", at))
	if out.Delta != -3 || out.Balance != 0 {
		t.Fatalf("refund of 10 points on 3: %+v, want -3 to 0", out)
	}
	wantBalance(t, h, 31, 0)

	mk := func(id string, pts int64) ledger.Change {
		c := ledger.Change{ID: id, CustomerID: 32, Points: pts, Cause: ledger.CauseOrder, OccurredAt: at.UTC().Truncate(time.Second)}
		c.Seal()
		return c
	}
	outs, err := w.Apply(context.Background(), []ledger.Change{mk("limit-1", h.MaxPoints-1), mk("limit-2", 1), mk("limit-3", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err != nil || outs[1].Err != nil || outs[1].Balance != h.MaxPoints {
		t.Fatalf("up to the limit: %+v, %+v", outs[0], outs[1])
	}
	if outs[2].Err == nil {
		t.Fatalf("past the limit: %+v, want an error", outs[2])
	}
	wantBalance(t, h, 32, h.MaxPoints)

	if _, err := w.ApplyOrder(context.Background(), order(ingest.ManualPrefix+"x", 33, "10", at), "contract"); !errors.Is(err, ingest.ErrInvalid) {
		t.Fatalf("an order id with the manual prefix: %v, want invalid", err)
	}
}

// testManual: a manual change is answered as a replay whenever its
// idempotency key comes again (its time is that of the request); a
// deduction larger than the balance is refused.
func testManual(t *testing.T, h Harness) {
	w := h.Writer(time.Now)
	mk := func(key string, pts int64, at time.Time) ledger.Change {
		c := ledger.Change{ID: ingest.ManualPrefix + key, CustomerID: 50, Points: pts, Cause: ledger.CauseManual,
			Reason: "goodwill", Actor: "staff", OccurredAt: at.UTC().Truncate(time.Second)}
		c.Seal()
		return c
	}
	one := func(c ledger.Change) ledger.Outcome {
		t.Helper()
		out, err := w.Apply(context.Background(), []ledger.Change{c})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	first := one(mk("case-1", 60, time.Now()))
	if first.Delta != 60 || first.Replayed {
		t.Fatalf("manual +60: %+v", first)
	}
	out := one(mk("case-2", -3000, time.Now()))
	if !errors.Is(out.Err, ledger.ErrInsufficient) || out.Balance != 60 {
		t.Fatalf("manual -3000 on 60: %+v, want ErrInsufficient at balance 60", out)
	}
	wantBalance(t, h, 50, 60)
	settle(t, h)
	for _, days := range []int{0, 3, 30} {
		if err := h.AdvanceClock(context.Background(), time.Duration(days)*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		again := one(mk("case-1", 60, time.Now().Add(time.Duration(days)*24*time.Hour)))
		if !again.Replayed || again.Seq != first.Seq {
			t.Fatalf("manual case-1 again after %d days: %+v, want a replay of seq %d", days, again, first.Seq)
		}
	}
	out = one(mk("case-3", -60, time.Now()))
	if out.Err != nil || out.Balance != 0 {
		t.Fatalf("manual -60 on 60: %+v, want 0", out)
	}
	wantBalance(t, h, 50, 0)
}

// testCorrections: corrections apply the difference once, chain, survive
// the store's memory window, and refuse what can't be corrected.
func testCorrections(t *testing.T, h Harness) {
	w := h.Writer(time.Now)
	ctx := context.Background()
	at := time.Now().Add(-2 * time.Hour)
	orig := order("corr-1", 60, "100", at)
	first := apply(t, w, orig)
	if first.Delta != 10 {
		t.Fatalf("original: %+v", first)
	}
	correct := func(o ingest.Order) ledger.Outcome {
		t.Helper()
		out, err := w.Correct(ctx, o, "contract")
		if err != nil {
			t.Fatalf("correct %s to %s: %v", o.ID, o.Amount, err)
		}
		if out.Err != nil {
			t.Fatalf("correct %s to %s: %v", o.ID, o.Amount, out.Err)
		}
		return out
	}
	fixed := orig
	fixed.Amount = decimal.RequireFromString("180") // 18 points: +8
	c1 := correct(fixed)
	if c1.Replayed || c1.Delta != 8 || c1.Balance != 18 || c1.ID != ledger.CorrectionID("corr-1", 1) || c1.Cause != ledger.CauseCorrection {
		t.Fatalf("first correction: %+v, want +8 to 18 as corr-1#1", c1)
	}
	again := correct(fixed)
	if !again.Replayed || again.Seq != c1.Seq {
		t.Fatalf("the same correction again: %+v, want a replay of seq %d", again, c1.Seq)
	}
	wantConflict(t, w, fixed) // a POST of other content stays a conflict
	wantReplay(t, w, orig, first)
	settle(t, h)
	if err := h.AdvanceClock(ctx, 20*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	again = correct(fixed)
	if !again.Replayed || again.Seq != c1.Seq {
		t.Fatalf("the same correction 20 days later: %+v, want a replay of seq %d", again, c1.Seq)
	}
	down := orig
	down.Amount = decimal.RequireFromString("40") // 4 points: -14
	c2 := correct(down)
	if c2.Delta != -14 || c2.Balance != 4 || c2.ID != ledger.CorrectionID("corr-1", 2) {
		t.Fatalf("second correction: %+v, want -14 to 4 as corr-1#2", c2)
	}
	back := correct(orig)
	if back.Delta != 6 || back.Balance != 10 || back.ID != ledger.CorrectionID("corr-1", 3) {
		t.Fatalf("back to the original content: %+v, want +6 to 10 as corr-1#3", back)
	}
	wantBalance(t, h, 60, 10)

	other := orig
	other.CustomerID = 61
	if _, err := w.Correct(ctx, other, "contract"); !errors.Is(err, ingest.ErrInvalid) {
		t.Fatalf("correcting the customer: %v, want invalid", err)
	}
	if _, err := w.Correct(ctx, order("never-sent", 60, "10", at), "contract"); !errors.Is(err, ingest.ErrNotFound) {
		t.Fatalf("correcting an order never applied: %v, want ErrNotFound", err)
	}
	wantBalance(t, h, 60, 10)
	wantBalance(t, h, 61, 0)
}

// testSeasons: random purchases and refunds around month boundaries
// (including British Summer Time's) land on the season board of their own
// time, each board floored at zero on its own, as a brute-force replay says.
func testSeasons(t *testing.T, h Harness) {
	r := seed(t)
	w := h.Writer(time.Now)
	cal := Calendar()
	edges := []time.Time{
		time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),                // London is on UTC in winter
		time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Add(-time.Hour), // 00:00 BST
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	type key struct {
		season string
		cust   uint64
	}
	all, seasonal := map[uint64]int64{}, map[key]int64{}
	for i := range 80 {
		at := edges[r.IntN(len(edges))].Add(time.Duration(r.IntN(7200)-3600) * time.Second)
		cust := uint64(300 + r.IntN(4))
		amount := fmt.Sprintf("%d", 5+r.IntN(200))
		if r.IntN(3) == 0 {
			amount = "-" + amount
		}
		o := order(fmt.Sprintf("season-%d", i), cust, amount, at)
		out := apply(t, w, o)
		if out.Err != nil || out.Replayed {
			t.Fatalf("order %s: %+v", o.ID, out)
		}
		p := change(t, o).Points
		all[cust] = max(all[cust]+p, 0)
		k := key{cal.Of(at), cust}
		seasonal[k] = max(seasonal[k]+p, 0)
	}
	for c, want := range all {
		wantBalance(t, h, c, want)
	}
	for k, want := range seasonal {
		got, err := h.SeasonBalance(context.Background(), k.season, k.cust)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("customer %d on season %s: %d points, want %d", k.cust, k.season, got, want)
		}
	}
	if len(seasonal) < 6 {
		t.Fatalf("only %d season balances exercised", len(seasonal))
	}
}
