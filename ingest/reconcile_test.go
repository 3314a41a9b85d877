package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// scanIndex is the index's balances in memory for Reconcile; between the
// two comparisons (after the second shipping round) the balances of
// change, if any, replace some of them.
type scanIndex struct {
	gen    uint64
	boards map[string]map[uint64]int64
	dead   []ledger.DeadLetter
	gens   []uint64 // the generation of every scan
}

func (x *scanIndex) Generation(context.Context) (uint64, error) { return x.gen, nil }

func (x *scanIndex) Scan(ctx context.Context, gen uint64, fn func(uint64, int64) error) error {
	return x.ScanSeason(ctx, gen, "", fn)
}

func (x *scanIndex) ScanSeason(_ context.Context, gen uint64, name string, fn func(uint64, int64) error) error {
	x.gens = append(x.gens, gen)
	for id, p := range x.boards[name] {
		if err := fn(id, p); err != nil {
			return err
		}
	}
	return nil
}

func (x *scanIndex) DeadLetters(context.Context) ([]ledger.DeadLetter, error) { return x.dead, nil }

// TestReconcile: differences that hold in both comparisons are reported,
// sorted, on the all-time board and the kept season boards (a customer
// missing on either side counts as 0 there); one seen in one comparison
// only, or with other balances in each (a change in flight), is not; the
// dead letters come last.
func TestReconcile(t *testing.T) {
	now := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	led := &boardsLedger{maxSeq: 9, seasons: []string{"2026-08", "2026-10", "2026-11"}, boards: map[string]map[uint64]int64{
		"":        {1: 10, 2: 20, 3: 30, 5: 50, 9: 90},
		"2026-08": {1: 99}, // no longer kept: never compared
		"2026-10": {1: 1, 2: 2},
		"2026-11": {3: 3},
	}}
	x := &scanIndex{gen: 4, boards: map[string]map[uint64]int64{
		"":        {1: 10, 2: 21, 3: 30, 5: 49, 7: 70, 9: 91},
		"2026-10": {1: 1, 2: 5},
		"2026-11": {3: 3, 4: 4},
	}}
	x.dead = []ledger.DeadLetter{{Seq: 8, CustomerID: 2}, {Seq: 9, CustomerID: 6}}
	ship := &countShipper{}
	ship.then = func() {
		if ship.calls == 2 { // changes in flight between the two comparisons
			x.boards[""][9] = 90 // differed, now equal
			x.boards[""][1] = 11 // was equal, now differs
			x.boards[""][5] = 48 // differs by another amount
		}
	}
	cfg := ReconcileConfig{Seasons: monthly(t), SeasonsKept: 1, Now: func() time.Time { return now }}
	r, err := Reconcile(context.Background(), cfg, ship, x, led)
	if err != nil {
		t.Fatal(err)
	}
	wantAll := []Difference{{"", 2, 21, 20}, {"", 7, 70, 0}}
	wantSeason := []Difference{{"2026-10", 2, 5, 2}, {"2026-11", 4, 4, 0}}
	if fmt.Sprint(r.AllTime) != fmt.Sprint(wantAll) || fmt.Sprint(r.Season) != fmt.Sprint(wantSeason) {
		t.Errorf("differences:\n all-time %v\n seasons  %v\nwant\n all-time %v\n seasons  %v", r.AllTime, r.Season, wantAll, wantSeason)
	}
	if r.SeasonBoards != 2 || len(r.DeadLetters) != 2 || r.Clean() {
		t.Errorf("%d season boards, %d dead letters, clean %v; want 2, 2, false", r.SeasonBoards, len(r.DeadLetters), r.Clean())
	}
	if n := r.WithDeadLetter(); n != 1 {
		t.Errorf("WithDeadLetter = %d, want 1 (customer 2)", n)
	}
	if ship.calls != 2 {
		t.Errorf("%d shipping rounds, want one before each comparison", ship.calls)
	}
	for _, g := range x.gens {
		if g != 4 {
			t.Errorf("scanned generation %d, want the current one (4)", g)
		}
	}
	for _, u := range led.upTo {
		if u != 9 {
			t.Errorf("ledger read up to seq %d, want its last (9)", u)
		}
	}
}

// TestReconcileClean: equal balances are compared once, with no second
// round; a clean result has nothing to report.
func TestReconcileClean(t *testing.T) {
	led := &boardsLedger{maxSeq: 2, boards: map[string]map[uint64]int64{"": {1: 5, 2: 6}}}
	x := &scanIndex{boards: map[string]map[uint64]int64{"": {1: 5, 2: 6}}}
	ship := &countShipper{}
	r, err := Reconcile(context.Background(), ReconcileConfig{}, ship, x, led)
	if err != nil || !r.Clean() || r.SeasonBoards != 0 || ship.calls != 1 {
		t.Fatalf("Reconcile = %+v, %v after %d shipping rounds; want clean after one", r, err, ship.calls)
	}
}

// TestReconcileShipFails: a comparison needs the ledger complete: a failed
// shipping round is the error.
func TestReconcileShipFails(t *testing.T) {
	down := errors.New("clickhouse down")
	led := &boardsLedger{boards: map[string]map[uint64]int64{}}
	if _, err := Reconcile(context.Background(), ReconcileConfig{}, &countShipper{err: down}, &scanIndex{}, led); !errors.Is(err, down) {
		t.Fatalf("Reconcile = %v, want the shipper's error", err)
	}
}
