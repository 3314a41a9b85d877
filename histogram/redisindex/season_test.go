package redisindex_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/internal/writecontract"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

// TestSeasonRebuild: a rebuild loads season boards as well as the all-time
// one, catches both up with changes applied while it loads (each floored on
// its own), and the season boards' ranks and top lists match a brute-force
// replay.
func TestSeasonRebuild(t *testing.T) {
	t.Parallel()
	x, _ := newIndexWith(t, func(c *redisindex.Config) { c.Seasons, c.SeasonsKept = writecontract.Calendar(), 1000 })
	ctx := testenv.Context(t)
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	cal := writecontract.Calendar()
	months := []time.Time{time.Date(2025, 10, 15, 12, 0, 0, 0, time.UTC), time.Date(2025, 11, 15, 12, 0, 0, 0, time.UTC)}
	type key struct {
		season string
		cust   uint64
	}
	all, seasonal := map[uint64]int64{}, map[key]int64{}
	mk := func(i int) ledger.Change {
		at := months[r.IntN(len(months))]
		c := change(fmt.Sprintf("s%d", i), uint64(1+r.IntN(40)), int64(r.IntN(50)-15))
		c.OccurredAt, c.Season = at, cal.Of(at)
		c.Seal()
		// Older than the index remembers: say the ledger (which this test
		// has not) was searched with everything shipped.
		c.Checked, c.CheckedMark = true, 1<<62
		return c
	}
	record := func(c ledger.Change) {
		all[c.CustomerID] = max(all[c.CustomerID]+c.Points, 0)
		k := key{c.Season, c.CustomerID}
		seasonal[k] = max(seasonal[k]+c.Points, 0)
	}
	for i := range 400 {
		c := mk(i)
		if _, err := x.Apply(ctx, []ledger.Change{c}); err != nil {
			t.Fatal(err)
		}
		record(c)
	}
	for k, want := range seasonal {
		if got, err := x.SeasonBalance(ctx, k.season, k.cust); err != nil || got != want {
			t.Fatalf("seed %d: before the rebuild, customer %d on %s: %d (%v), want %d", seed, k.cust, k.season, got, err, want)
		}
	}
	upTo, err := x.Seq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snapAll := map[uint64]int64{}
	for k, v := range all {
		snapAll[k] = v
	}
	snapSeason := map[key]int64{}
	for k, v := range seasonal {
		snapSeason[k] = v
	}
	var loads []redisindex.SeasonLoad
	for _, m := range months {
		name := cal.Of(m)
		loads = append(loads, redisindex.SeasonLoad{Season: name, Load: func(put func(uint64, int64) error) error {
			for k, v := range snapSeason {
				if k.season == name {
					if err := put(k.cust, v); err != nil {
						return err
					}
				}
			}
			return nil
		}})
	}
	next := 400
	if _, err := x.Rebuild(ctx, upTo, func(put func(uint64, int64) error) error {
		// Changes landing while the rebuild loads: more than the generation
		// switch applies itself (1000, logCatchUp), so the rebuild first
		// catches up with them in batches (lua/set.lua), then switches.
		for range 1100 {
			c := mk(next)
			next++
			if _, err := x.Apply(ctx, []ledger.Change{c}); err != nil {
				return err
			}
			record(c)
		}
		for id, p := range snapAll {
			if err := put(id, p); err != nil {
				return err
			}
		}
		return nil
	}, loads); err != nil {
		t.Fatal(err)
	}
	for k, want := range seasonal {
		got, err := x.SeasonBalance(ctx, k.season, k.cust)
		if err != nil || got != want {
			t.Fatalf("seed %d: customer %d on %s: %d (%v), want %d", seed, k.cust, k.season, got, err, want)
		}
	}
	for id, want := range all {
		if got, err := x.Balance(ctx, id); err != nil || got != want {
			t.Fatalf("seed %d: customer %d: %d (%v), want %d", seed, id, got, err, want)
		}
	}
}

// TestSeasonDashboards: the replica's season boards (loaded from a snapshot,
// then followed from the log) answer season dashboards equal to a
// brute-force oracle per season, each floored on its own; seasons older
// than the kept ones are not held.
func TestSeasonDashboards(t *testing.T) {
	t.Parallel()
	cal := writecontract.Calendar()
	x, _ := newIndexWith(t, func(c *redisindex.Config) { c.Seasons, c.SeasonsKept = cal, 1000 })
	ctx := testenv.Context(t)
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 4))
	now := time.Now()
	months := []time.Time{now.AddDate(0, -2, 0), now.AddDate(0, -1, 0), now}
	oracles := map[string]*oracle.Oracle{}
	next := 0
	apply := func(n int) {
		for range n {
			at := months[r.IntN(len(months))]
			c := change(fmt.Sprintf("sd%d", next), uint64(1+r.IntN(300)), int64(r.IntN(40)-10))
			next++
			c.OccurredAt, c.Season = at.UTC().Truncate(time.Second), cal.Of(at)
			c.Seal()
			c.Checked, c.CheckedMark = true, 1<<62
			if _, err := x.Apply(ctx, []ledger.Change{c}); err != nil {
				t.Fatal(err)
			}
			o := oracles[c.Season]
			if o == nil {
				o = oracle.New()
				oracles[c.Season] = o
			}
			o.Add(c.CustomerID, c.Points)
		}
	}
	apply(500) // before the replica loads: the snapshot holds them
	cfg := patientReplica()
	cfg.Seasons = ranker.Seasons{Calendar: cal, Kept: 1}
	rep := ranker.NewReplica(x, x, cfg, quiet)
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rep.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	apply(500) // after: the log carries them
	for _, m := range months[1:] {
		name := cal.Of(m)
		for range 20 {
			id := uint64(1 + r.IntN(310))
			got, err := rep.SeasonDashboard(ctx, name, id, 5, 2)
			for err != nil && errors.Is(err, ranker.ErrNotReady) {
				time.Sleep(10 * time.Millisecond)
				got, err = rep.SeasonDashboard(ctx, name, id, 5, 2)
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := oracle.Diff(got, oracles[name].Dashboard(id, 5, 2)); diff != "" {
				t.Fatalf("seed %d: season %s dashboard of %d: %s", seed, name, id, diff)
			}
		}
	}
	// Two months back is past Kept 1: not held.
	d, err := rep.SeasonDashboard(ctx, cal.Of(months[0]), 1, 5, 2)
	if err != nil || d.Total != 0 {
		t.Fatalf("a season past the kept ones: %+v, %v; want an empty board", d, err)
	}
}
