package ranker_test

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ranker"
)

// randomBoard fills a board and an oracle with the same random balances:
// big tie groups at low scores (several idSet blocks), a long tail, and
// scores at bucket edges.
func randomBoard(t *testing.T, r *rand.Rand, customers int) (*ranker.Board, *oracle.Oracle) {
	t.Helper()
	b, o := ranker.NewBoard(), oracle.New()
	seq := uint64(0)
	for i := 0; i < customers*2; i++ {
		id := uint64(r.IntN(customers)) + 1
		var pts int64
		switch r.IntN(10) {
		case 0:
			pts = -int64(r.IntN(40))
		case 1:
			pts = int64([]int{4095, 4096, 4097, 8192}[r.IntN(4)]) - o.Bal[id]
		case 2:
			pts = int64(r.IntN(200_000))
		default:
			pts = int64(r.IntN(4))
		}
		_, bal := o.Add(id, pts)
		seq++
		b.Set(id, bal, seq)
	}
	return b, o
}

// TestPageOracle pages through random boards at random offsets and limits,
// and walks one board page by page: every page equals the oracle's slice of
// the sorted list, and the walk meets every customer once.
func TestPageOracle(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	for round := 0; round < 4; round++ {
		b, o := randomBoard(t, r, 3_000+r.IntN(6_000))
		all := o.Sorted()
		check := func(offset int64, limit int) {
			t.Helper()
			got := b.Page(offset, limit)
			want := o.Page(offset, limit)
			if got.Total != int64(len(all)) || got.Offset != offset || !slices.Equal(got.Entries, want) && len(got.Entries)+len(want) > 0 {
				t.Fatalf("seed %d: page(%d, %d): total %d, %d entries %v; want total %d, %d entries %v",
					seed, offset, limit, got.Total, len(got.Entries), head(got.Entries), len(all), len(want), head(want))
			}
		}
		for i := 0; i < 300; i++ {
			check(int64(r.IntN(len(all)+20)), 1+r.IntN(1_000))
		}
		check(0, 1)
		check(int64(len(all)-1), 5)
		check(int64(len(all)), 5)
		check(0, len(all)+3)
		limit := 1 + r.IntN(700)
		seen := 0
		for off := int64(0); ; off += int64(limit) {
			pg := b.Page(off, limit)
			if len(pg.Entries) == 0 {
				break
			}
			check(off, limit)
			seen += len(pg.Entries)
		}
		if seen != len(all) {
			t.Fatalf("seed %d: the walk by %d met %d customers, the board has %d", seed, limit, seen, len(all))
		}
	}
	if pg := ranker.NewBoard().Page(0, 10); pg.Total != 0 || len(pg.Entries) != 0 {
		t.Fatalf("empty board page: %+v", pg)
	}
}

func head(es []ranker.Entry) []ranker.Entry { return es[:min(len(es), 5)] }

// TestDistributionOracle: the buckets of random boards are contiguous
// ranges from 1 to the highest score whose counts equal the oracle's count
// of balances in them (and add up to everyone), and the quantiles are the
// nearest-rank quantiles of the sorted balances.
func TestDistributionOracle(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	for round := 0; round < 6; round++ {
		b, o := randomBoard(t, r, 1+r.IntN(5_000))
		for _, buckets := range []int{1, 2, 7, 20, 100, 1 + r.IntN(100)} {
			d := b.Distribution(buckets)
			if d.Total != int64(len(o.Bal)) || len(d.Buckets) > buckets || len(d.Buckets) == 0 {
				t.Fatalf("seed %d: %d buckets asked: total %d, %d buckets; want total %d", seed, buckets, d.Total, len(d.Buckets), len(o.Bal))
			}
			var sum int64
			for i, bk := range d.Buckets {
				if bk.Lo > bk.Hi || (i == 0 && bk.Lo != 1) || (i > 0 && bk.Lo != d.Buckets[i-1].Hi+1) {
					t.Fatalf("seed %d: bucket %d %+v breaks the ranges %v", seed, i, bk, d.Buckets)
				}
				if want := o.Count(bk.Lo, bk.Hi); bk.Count != want {
					t.Fatalf("seed %d: bucket %+v counts %d, the oracle %d", seed, bk, bk.Count, want)
				}
				sum += bk.Count
			}
			if last := d.Buckets[len(d.Buckets)-1]; last.Hi != d.Max || sum != d.Total {
				t.Fatalf("seed %d: buckets end at %d (max %d) and count %d of %d", seed, last.Hi, d.Max, sum, d.Total)
			}
			if d.Min != o.Quantile(1) || d.Max != o.Quantile(10_000) {
				t.Fatalf("seed %d: min %d max %d; want %d %d", seed, d.Min, d.Max, o.Quantile(1), o.Quantile(10_000))
			}
			for i, q := range ranker.Quantiles {
				if want := o.Quantile(q); d.Quantiles[i].Points != want || d.Quantiles[i].Q != float64(q)/10_000 {
					t.Fatalf("seed %d: quantile %+v; want %d at %v", seed, d.Quantiles[i], want, float64(q)/10_000)
				}
			}
		}
	}
	if d := ranker.NewBoard().Distribution(10); d.Total != 0 || len(d.Buckets) != 0 || len(d.Quantiles) != 0 {
		t.Fatalf("empty board distribution: %+v", d)
	}
}

// TestNudgeExamples pins the nudges on a small board by hand: 100, 50, 50,
// 10 points (customers 1-4).
func TestNudgeExamples(t *testing.T) {
	t.Parallel()
	b := ranker.NewBoard()
	for id, p := range []int64{100, 50, 50, 10} {
		b.Set(uint64(id+1), p, uint64(id+1))
	}
	gap := func(p int64) ranker.Gap { return ranker.Gap{Points: p, OK: true} }
	none := ranker.Gap{None: true}
	for _, c := range []struct {
		id      uint64
		n       int
		next    ranker.Gap
		toTop   ranker.Gap
		percent float64
	}{
		{1, 1, none, gap(0), 25},
		{2, 1, gap(50), gap(50), 75},  // 50 -> 100 ties for rank 1
		{3, 2, gap(50), gap(0), 75},   // rank 2 of top 2, though listed third
		{4, 2, gap(40), gap(40), 100}, // the second line of the top has 50
		{4, 9, gap(40), gap(0), 100},
		{9, 3, gap(10), gap(50), 0}, // 0 points: reach the lowest score; the third line has 50
		{9, 4, gap(10), gap(10), 0}, // the fourth has 10
		{9, 5, gap(10), gap(1), 0},  // four customers: any point makes rank 5
		{9, 0, gap(10), none, 0},    // no top asked
		{2, 0, gap(50), none, 75},
	} {
		d := b.Dashboard(c.id, c.n, 1)
		if d.NextRank != c.next || d.ToTop != c.toTop || d.TopPercent != c.percent {
			t.Errorf("customer %d top %d: next %+v toTop %+v percent %v; want %+v %+v %v", c.id, c.n, d.NextRank, d.ToTop, d.TopPercent, c.next, c.toTop, c.percent)
		}
	}
	if d := ranker.NewBoard().Dashboard(1, 10, 2); d.NextRank != none || d.ToTop != gap(1) || d.TopPercent != 0 {
		t.Errorf("empty board: %+v", d)
	}
}

// TestTopPercentRounding: rounded up (never flattering), to one decimal,
// or two significant digits below 1%.
func TestTopPercentRounding(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rank, tied, total int64
		want              float64
	}{
		{1, 1, 1, 100}, {1, 1, 3, 33.4}, {2, 1, 3, 66.7}, {1, 1, 8, 12.5}, {1, 1, 30, 3.4},
		{1, 1, 100, 1}, {1, 1, 101, 1}, {1, 1, 102, 0.99}, {1, 1, 1_000, 0.1}, {1, 1, 1_001, 0.1},
		{1, 1, 3_000, 0.034}, {1, 3, 3_000, 0.1}, {32, 1, 1_000, 3.2}, {1, 1, 50_000_000, 0.000002},
		{933_867, 2, 50_000_000, 1.9}, {1, 1, 49_999_999, 0.0000021}, {10, 5, 20, 70}, {1, 20, 20, 100},
	} {
		d := ranker.Dashboard{Me: ranker.Entry{Rank: c.rank, Points: 5}, Ranked: true, Tied: c.tied, Total: c.total}
		if got := ranker.TopPercent(d); got != c.want {
			t.Errorf("rank %d, %d tied of %d: %v%%; want %v%%", c.rank, c.tied, c.total, got, c.want)
		}
	}
	if got := ranker.TopPercent(ranker.Dashboard{Me: ranker.Entry{Rank: 4}, Total: 3}); got != 0 {
		t.Errorf("unranked: %v; want 0", got)
	}
}

// TestPartialNudges: a partial dashboard (Me, Total and the top list from
// one Redis read) carries each nudge only where that read answers it
// exactly, and then equal to the oracle's; unknown otherwise. Simulated
// from oracle dashboards with the top list whole, cut short or missing.
func TestPartialNudges(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	r := rand.New(rand.NewPCG(seed, 4))
	_, o := randomBoard(t, r, 400)
	known := 0
	for i := 0; i < 2_000; i++ {
		id, n := uint64(r.IntN(450))+1, 1+r.IntN(30)
		want := o.Dashboard(id, n, 0)
		d := ranker.Dashboard{Me: want.Me, Ranked: want.Ranked, Tied: want.Tied, Total: want.Total, Partial: true}
		switch r.IntN(3) {
		case 0:
			d.Top = want.Top
		case 1:
			d.Top = want.Top[:r.IntN(len(want.Top)+1)]
		}
		ranker.PartialNudges(&d, n)
		for _, g := range []struct {
			name      string
			got, want ranker.Gap
		}{{"nextRank", d.NextRank, want.NextRank}, {"toTop", d.ToTop, want.ToTop}} {
			if (g.got.OK || g.got.None) && g.got != g.want {
				t.Fatalf("seed %d: customer %d top %d with %d top lines: %s %+v; want %+v", seed, id, n, len(d.Top), g.name, g.got, g.want)
			}
			if g.got.OK {
				known++
			}
		}
		if len(d.Top) == len(want.Top) && (!d.NextRank.OK && !d.NextRank.None && want.Me.Rank <= int64(n) || !d.ToTop.OK && !d.ToTop.None) {
			t.Fatalf("seed %d: customer %d top %d: the whole top list answers %+v, got %+v %+v", seed, id, n, want, d.NextRank, d.ToTop)
		}
		if d.TopPercent != 0 {
			t.Fatalf("seed %d: a partial dashboard claims top %v%%", seed, d.TopPercent)
		}
	}
	if known == 0 {
		t.Fatal("no nudge was ever known")
	}
}

// TestReplicaPartialNudges: the same through a replica whose board can't
// load (its Redis replica is stopped), answering from the Redis index.
func TestReplicaPartialNudges(t *testing.T) {
	t.Parallel()
	p := testenv.Redis(t)
	r := testenv.RedisReplica(t, p)
	open := func(addr string) *redisindex.Index { return openHA(t, addr, "nudge", 500*time.Millisecond) }
	g := &haRig{primary: p, replica: r, write: open(p.Addr)}
	o := oracle.New()
	// 100, 80, 80, 60, 40, 40, 40, 20, 10: ties, and customer 10 without points.
	for id, pts := range []int64{100, 80, 80, 60, 40, 40, 40, 20, 10} {
		g.add(t, uint64(id+1), pts)
		o.Add(uint64(id+1), pts)
	}
	r.Pause(t)
	cfg := ranker.DefaultReplicaConfig()
	cfg.Partial = g.write
	rep := ranker.NewReplica(open(r.Addr), g.write, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runReplica(t, rep)
	t.Cleanup(func() { r.Resume(t) }) // first: the replica's reads stop waiting on the paused server
	for id := uint64(1); id <= 10; id++ {
		for _, n := range []int{1, 3, 5} {
			d, err := rep.Dashboard(t.Context(), id, n, 0)
			if err != nil || !d.Partial {
				t.Fatalf("customer %d: partial %v, %v", id, d.Partial, err)
			}
			want := o.Dashboard(id, n, 0)
			if d.ToTop != want.ToTop || d.TopPercent != 0 {
				t.Errorf("customer %d top %d: toTop %+v percent %v; want %+v, 0 (unknown)", id, n, d.ToTop, d.TopPercent, want.ToTop)
			}
			// The top list answers the next rank of the customers it reaches.
			if want.Me.Rank <= int64(len(d.Top))+1 && d.NextRank != want.NextRank || (d.NextRank.OK || d.NextRank.None) && d.NextRank != want.NextRank {
				t.Errorf("customer %d top %d (%d top lines): nextRank %+v; want %+v", id, n, len(d.Top), d.NextRank, want.NextRank)
			}
		}
	}
}

// TestSeasonLeaderboard: the replica's staff boards are the all-time board
// itself, a kept season's board beside it, or an empty board at the
// all-time seq for a season without changes.
func TestSeasonLeaderboard(t *testing.T) {
	t.Parallel()
	b := ranker.NewBoard()
	b.Set(1, 50, 1)
	b.Set(2, 30, 2)
	ranker.SetSeason(b, "2026-12", 2, 30)
	if got := ranker.SeasonBoard(b, ""); got != b {
		t.Fatal("season \"\" is not the all-time board")
	}
	pg := ranker.SeasonBoard(b, "2026-12").Page(0, 10)
	if pg.Total != 1 || len(pg.Entries) != 1 || pg.Entries[0] != (ranker.Entry{CustomerID: 2, Rank: 1, Points: 30}) || pg.Seq != 2 {
		t.Fatalf("season page: %+v", pg)
	}
	if d := ranker.SeasonBoard(b, "2026-11").Distribution(5); d.Total != 0 || d.Seq != 2 || len(d.Buckets) != 0 {
		t.Fatalf("a season without changes: %+v", d)
	}
}
