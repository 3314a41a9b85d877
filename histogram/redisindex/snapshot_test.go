package redisindex_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/internal/writecontract"
	"github.com/xyz/loyalty/ledger"
)

// TestScanInIDOrder: Scan gives every balance once, in ascending customer
// id order, whatever wrote the hashes: a rebuild (ids in order), changes
// that add customers to a hash, change and remove them (listpack order no
// longer sorted), ids and points of every integer width a listpack has, and
// hashes that are not listpacks (read with HGETALL instead of DUMP).
// loadAll is a rebuild's load putting every balance of want.
func loadAll(want map[uint64]int64) func(put func(uint64, int64) error) error {
	return func(put func(uint64, int64) error) error {
		for id, p := range want {
			if err := put(id, p); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestScanInIDOrder(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 34))
	x, rdb := newIndex(t)
	ctx := testenv.Context(t)
	want := map[uint64]int64{}
	randID := func() uint64 {
		switch r.IntN(8) {
		case 0:
			return 1<<40 + r.Uint64N(3000) // 48-bit ids
		case 1:
			return 1 + r.Uint64N(1<<62) // 64-bit ids, each alone in its hash
		case 2:
			return 1<<20 + r.Uint64N(500) // 24- and 32-bit ids
		}
		return 1 + r.Uint64N(20_000) // 7- to 16-bit ids, full hashes
	}
	randPoints := func() int64 {
		switch r.IntN(6) {
		case 0:
			return 1 + r.Int64N(histogram.MaxPoints)
		case 1:
			return 1 + r.Int64N(1<<20)
		}
		return 1 + r.Int64N(200)
	}
	for range 15_000 {
		want[randID()] = randPoints()
	}
	if _, err := x.Rebuild(ctx, 0, loadAll(want), nil); err != nil {
		t.Fatal(err)
	}
	changes := 0
	apply := func(n int) {
		var batch []ledger.Change
		bal := map[uint64]int64{} // as the batch leaves them
		for range n {
			id := randID()
			if _, ok := bal[id]; !ok {
				bal[id] = want[id]
			}
			pts := randPoints()
			if r.IntN(3) == 0 || bal[id]+pts > histogram.MaxPoints {
				pts = -pts // a refund, down to 0 at most: customers leave hashes
			}
			bal[id] = max(bal[id]+pts, 0)
			changes++
			batch = append(batch, change(fmt.Sprintf("c%d", changes), id, pts))
		}
		out, err := x.Apply(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range out {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			if want[batch[i].CustomerID] = o.Balance; o.Balance == 0 {
				delete(want, batch[i].CustomerID)
			}
		}
	}
	for range 20 {
		apply(200)
	}
	// Hashes that grow past 4 fields from now on become hashtables.
	if err := rdb.ConfigSet(ctx, "hash-max-listpack-entries", "4").Err(); err != nil {
		t.Fatal(err)
	}
	apply(300)
	gen, err := x.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	encodings := map[string]int{}
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, "*:b:*", 1000).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			encodings[rdb.ObjectEncoding(ctx, k).Val()]++
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if encodings["listpack"] == 0 || encodings["hashtable"] == 0 {
		t.Fatalf("balance hashes by encoding %v: want both listpacks and hashtables", encodings)
	}
	var got []uint64
	if err := x.Scan(ctx, gen, func(id uint64, points int64) error {
		if len(got) > 0 && id <= got[len(got)-1] {
			return fmt.Errorf("customer %d after %d", id, got[len(got)-1])
		}
		got = append(got, id)
		if want[id] != points {
			return fmt.Errorf("customer %d: %d points, want %d", id, points, want[id])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Scan gave %d customers, want %d (hashes by encoding %v)", len(got), len(want), encodings)
	}
	t.Logf("%d customers in hashes by encoding %v", len(got), encodings)
}

// TestScanSeasonInIDOrder: a season board reads like the all-time board.
func TestScanSeasonInIDOrder(t *testing.T) {
	t.Parallel()
	x, _ := newIndexWith(t, func(c *redisindex.Config) { c.Seasons, c.SeasonsKept = writecontract.Calendar(), 1000 })
	ctx := testenv.Context(t)
	want := map[uint64]int64{}
	for id := uint64(1); id <= 1000; id++ {
		want[id*37] = int64(id%13) + 1
	}
	load := loadAll(want)
	name := writecontract.Calendar().Of(time.Date(2025, 11, 15, 12, 0, 0, 0, time.UTC))
	gen, err := x.Rebuild(ctx, 0, load, []redisindex.SeasonLoad{{Season: name, Load: load}})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	if err := x.ScanSeason(ctx, gen, name, func(id uint64, points int64) error {
		if want[id] != points {
			return fmt.Errorf("customer %d: %d points, want %d", id, points, want[id])
		}
		got = append(got, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !slices.IsSorted(got) {
		t.Fatalf("ScanSeason gave %d customers (sorted: %v), want %d", len(got), slices.IsSorted(got), len(want))
	}
}

// TestScanStops: when fn fails, Scan returns its error at once, with the
// readers ahead of it stopped (not waiting for a consumer that has left).
func TestScanStops(t *testing.T) {
	t.Parallel()
	x, _ := newIndex(t)
	ctx := context.Background() // no deadline: a reader left waiting hangs the test
	const customers = 3000      // one per hash: dozens of batches
	if _, err := x.Rebuild(testenv.Context(t), 0, func(put func(uint64, int64) error) error {
		for i := uint64(1); i <= customers; i++ {
			if err := put(i<<7, int64(i)); err != nil {
				return err
			}
		}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	gen, err := x.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	for _, after := range []int{0, 1, 700, customers - 1} {
		n := 0
		err := x.Scan(ctx, gen, func(id uint64, points int64) error {
			if n == after {
				return stop
			}
			n++
			return nil
		})
		if !errors.Is(err, stop) || n != after {
			t.Fatalf("fn failing after %d customers: Scan returned %v after %d", after, err, n)
		}
	}
}

// TestScanWithoutDump: where DUMP is not allowed (an ACL, a managed
// service), Scan reads every hash with HGETALL instead.
func TestScanWithoutDump(t *testing.T) {
	t.Parallel()
	x, rdb := newIndex(t)
	ctx := testenv.Context(t)
	want := map[uint64]int64{}
	for i := uint64(1); i <= 1000; i++ {
		want[i*3] = int64(i%17) + 1
	}
	if _, err := x.Rebuild(ctx, 0, loadAll(want), nil); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Do(ctx, "ACL", "SETUSER", "nodump", "on", "nopass", "~*", "&*", "+@all", "-dump").Err(); err != nil {
		t.Fatal(err)
	}
	opt := *rdb.Options()
	opt.Username, opt.Password = "nodump", "any" // nopass: any password
	limited := redis.NewClient(&opt)
	t.Cleanup(func() { limited.Close() })
	if err := limited.Dump(ctx, "any").Err(); err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("DUMP as the limited user: %v, want refused", err)
	}
	cfg := redisindex.DefaultConfig()
	cfg.Prefix = t.Name()
	y := redisindex.New(limited, cfg)
	gen, err := y.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := y.Scan(ctx, gen, func(id uint64, points int64) error {
		if want[id] != points {
			return fmt.Errorf("customer %d: %d points, want %d", id, points, want[id])
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("Scan gave %d customers, want %d", n, len(want))
	}
}
