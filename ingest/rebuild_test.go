package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/season"
)

// boardsLedger is a ledger in memory for Rebuild and Reconcile: balances by
// board ("" all-time), in the order a ledger scan gives them (customer id).
type boardsLedger struct {
	maxSeq  uint64
	boards  map[string]map[uint64]int64
	seasons []string // Seasons' answer
	recent  []ledger.Entry
	since   time.Time // Since's argument
	upTo    []uint64  // the upTo of every balances read
	err     error     // every read fails with it
}

func (l *boardsLedger) MaxSeq(context.Context) (uint64, error) { return l.maxSeq, l.err }

func (l *boardsLedger) Seasons(context.Context) ([]string, error) { return l.seasons, l.err }

func (l *boardsLedger) scan(board string, upTo uint64, fn func(uint64, int64) error) error {
	if l.err != nil {
		return l.err
	}
	l.upTo = append(l.upTo, upTo)
	bal := l.boards[board]
	for _, id := range slices.Sorted(maps.Keys(bal)) {
		if err := fn(id, bal[id]); err != nil {
			return err
		}
	}
	return nil
}

func (l *boardsLedger) BalancesUpTo(_ context.Context, upTo uint64, fn func(uint64, int64) error) error {
	return l.scan("", upTo, fn)
}

func (l *boardsLedger) SeasonBalancesUpTo(_ context.Context, name string, upTo uint64, fn func(uint64, int64) error) error {
	return l.scan(name, upTo, fn)
}

func (l *boardsLedger) Since(_ context.Context, t time.Time) ([]ledger.Entry, error) {
	l.since = t
	return l.recent, l.err
}

// countShipper counts ShipOnce calls and fails them with err.
type countShipper struct {
	calls int
	err   error
	then  func() // after each call, if set
}

func (s *countShipper) ShipOnce(context.Context) (int, error) {
	s.calls++
	if s.then != nil {
		s.then()
	}
	return 0, s.err
}

// rebuildIndex records what Rebuild loads.
type rebuildIndex struct {
	dead       int64
	gen        uint64
	upTo       uint64
	loaded     map[string]map[uint64]int64 // by board ("" all-time)
	remembered []ledger.Entry
	rebuilds   int
}

func (x *rebuildIndex) DeadLetterCount(context.Context) (int64, error) { return x.dead, nil }

func (x *rebuildIndex) Rebuild(_ context.Context, upTo uint64, load func(put func(uint64, int64) error) error, seasons []SeasonLoad) (uint64, error) {
	x.rebuilds++
	x.upTo = upTo
	x.loaded = map[string]map[uint64]int64{}
	into := func(board string) func(uint64, int64) error {
		x.loaded[board] = map[uint64]int64{}
		return func(id uint64, p int64) error { x.loaded[board][id] = p; return nil }
	}
	if err := load(into("")); err != nil {
		return 0, err
	}
	for _, s := range seasons {
		if err := s.Load(into(s.Season)); err != nil {
			return 0, err
		}
	}
	return x.gen, nil
}

func (x *rebuildIndex) Remember(_ context.Context, es []ledger.Entry) error {
	x.remembered = es
	return nil
}

func monthly(t *testing.T) season.Calendar {
	t.Helper()
	cal, err := season.New(season.Month)
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

// TestRebuild: the shipper ships first; the all-time board and the kept
// season boards the ledger has are loaded as of its last seq, without the
// customers at zero; the ids of the last DedupeDays+1 days are remembered.
func TestRebuild(t *testing.T) {
	now := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	led := &boardsLedger{maxSeq: 42,
		boards: map[string]map[uint64]int64{
			"":        {1: 10, 2: 0, 3: 7},
			"2026-09": {1: 4},
			"2026-10": {1: 5, 2: 0},
			"2026-11": {3: 7},
		},
		seasons: []string{"2026-09", "2026-10", "2026-11"},
		recent:  []ledger.Entry{{Seq: 41}, {Seq: 42}},
	}
	x := &rebuildIndex{gen: 7}
	ship := &countShipper{then: func() {
		if x.rebuilds > 0 {
			t.Error("shipped after the rebuild began")
		}
	}}
	cfg := RebuildConfig{Seasons: monthly(t), SeasonsKept: 1, DedupeDays: 3, Now: func() time.Time { return now }}
	r, err := Rebuild(context.Background(), cfg, ship, x, led, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	want := Rebuilt{Generation: 7, Customers: 2, Seasons: 2, UpTo: 42, Remembered: 2}
	if r != want {
		t.Errorf("Rebuild = %+v, want %+v", r, want)
	}
	if ship.calls != 1 {
		t.Errorf("%d shipping rounds, want 1", ship.calls)
	}
	wantLoaded := map[string]map[uint64]int64{"": {1: 10, 3: 7}, "2026-10": {1: 5}, "2026-11": {3: 7}}
	if fmt.Sprint(x.loaded) != fmt.Sprint(wantLoaded) || x.upTo != 42 {
		t.Errorf("loaded %v up to %d, want %v up to 42 (season 2026-09 is older than the one kept)", x.loaded, x.upTo, wantLoaded)
	}
	for _, u := range led.upTo {
		if u != 42 {
			t.Errorf("a board read up to seq %d, want 42", u)
		}
	}
	if len(x.remembered) != 2 || !led.since.Equal(now.Add(-4*24*time.Hour)) {
		t.Errorf("remembered %v, read since %v; want the 2 recent entries since %v", x.remembered, led.since, now.Add(-4*24*time.Hour))
	}
}

// TestRebuildWithoutSeasons: with no season calendar the ledger's seasons
// are not even asked for.
func TestRebuildWithoutSeasons(t *testing.T) {
	led := &boardsLedger{maxSeq: 3, boards: map[string]map[uint64]int64{"": {5: 1}}, seasons: []string{"2026-11"}}
	x := &rebuildIndex{gen: 2}
	r, err := Rebuild(context.Background(), RebuildConfig{}, &countShipper{}, x, led, slog.New(slog.DiscardHandler))
	if err != nil || r.Seasons != 0 || r.Customers != 1 || len(x.loaded) != 1 {
		t.Fatalf("Rebuild = %+v, %v, loaded %v; want the all-time board alone", r, err, x.loaded)
	}
}

// TestRebuildRefusals: pending dead letters refuse the rebuild before
// anything is loaded; a ledger that fails stops it with its error; a
// shipper that fails is logged and the rebuild goes on.
func TestRebuildRefusals(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	led := &boardsLedger{maxSeq: 1, boards: map[string]map[uint64]int64{"": {1: 1}}}

	x := &rebuildIndex{dead: 2}
	_, err := Rebuild(ctx, RebuildConfig{}, &countShipper{}, x, led, log)
	var pending *DeadLettersPendingError
	if !errors.As(err, &pending) || pending.N != 2 || x.rebuilds != 0 {
		t.Fatalf("with 2 dead letters: %v after %d rebuilds, want a *DeadLettersPendingError of 2 and no rebuild", err, x.rebuilds)
	}

	down := errors.New("clickhouse down")
	x = &rebuildIndex{}
	if _, err := Rebuild(ctx, RebuildConfig{}, &countShipper{}, x, &boardsLedger{err: down}, log); !errors.Is(err, down) || x.rebuilds != 0 {
		t.Fatalf("ledger down: %v after %d rebuilds, want its error and no rebuild", err, x.rebuilds)
	}

	x = &rebuildIndex{gen: 1}
	if _, err := Rebuild(ctx, RebuildConfig{}, &countShipper{err: down}, x, led, log); err != nil || x.rebuilds != 1 {
		t.Fatalf("shipper failing: %v after %d rebuilds, want the rebuild done", err, x.rebuilds)
	}
	if !strings.Contains(logs.String(), "could not ship the change log first") || !strings.Contains(logs.String(), "clickhouse down") {
		t.Errorf("log %q lacks the shipping failure", logs.String())
	}
}
