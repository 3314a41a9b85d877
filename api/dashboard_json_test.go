package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ranker"
)

// TestDashboardJSON: the hand-written dashboard encoder gives the bytes
// encoding/json gives, on random answers covering every optional part (no
// "at", null and empty lines, unknown and null gaps and percentages) and
// strings that need escaping.
func TestDashboardJSON(t *testing.T) {
	t.Parallel()
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	strs := []string{"", "all-time", "2026-11", "123", "Amber Falcon 4821", `a"b\c`, "<script>&", "tab\there", "caf\u00e9", "\u2028", "bad \xff utf8"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	line := func() rankView {
		return rankView{Rank: rng.Int64N(1 << 40), ProxyName: str(), Points: rng.Int64N(1<<53) - 1<<20, You: rng.IntN(4) == 0}
	}
	lines := func() []rankView {
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1:
			return []rankView{}
		}
		vs := make([]rankView, rng.IntN(12))
		for i := range vs {
			vs[i] = line()
		}
		return vs
	}
	gap := func() gapJSON {
		switch rng.IntN(3) {
		case 0:
			return gapJSON{} // unknown: left out
		case 1:
			return gapJSON(ranker.Gap{None: true})
		}
		return gapJSON(ranker.Gap{Points: rng.Int64N(100_000), OK: true})
	}
	percent := func() percentJSON {
		switch rng.IntN(4) {
		case 0:
			return percentJSON{}
		case 1:
			return percentJSON{null: true}
		case 2:
			return percentJSON{v: 100}
		}
		return percentJSON{v: rng.Float64() * 100 / float64(1+rng.IntN(1e6))}
	}
	for i := range 5000 {
		r := dashboardResponse{
			Me: line(), Ranked: rng.IntN(2) == 0, TiedWith: rng.Int64N(1e8), TotalRanked: rng.Int64N(1e9),
			Top: lines(), Above: lines(), Below: lines(), AsOf: asOf{Seq: rng.Uint64()},
			Stale: rng.IntN(2) == 0, Partial: rng.IntN(2) == 0, Board: str(), CustomerID: str(),
			PointsToNextRank: gap(), PointsToTop: gap(), TopPercent: percent(),
		}
		if rng.IntN(3) > 0 {
			at := time.UnixMilli(rng.Int64N(4e12)).UTC()
			r.AsOf.At = &at
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("answer %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestTopNames: the remembered top list names whatever top it is given,
// also after the top changed, shrank or grew.
func TestTopNames(t *testing.T) {
	t.Parallel()
	n := NewProxyNamer([]byte("test-proxy-key-of-at-least-32-bytes"))
	for _, ids := range [][]uint64{{1, 2, 3}, {1, 2, 3}, {1, 5, 3}, {1}, {1, 5, 3, 7}, {9, 5}, {}} {
		es := make([]ranker.Entry, len(ids))
		for i, id := range ids {
			es[i].CustomerID = id
		}
		got := n.topNames(es)
		if len(got) != len(ids) {
			t.Fatalf("top %v: %d names", ids, len(got))
		}
		for i, id := range ids {
			if want := n.Name(id); got[i] != want {
				t.Fatalf("top %v: line %d named %q, want %q", ids, i, got[i], want)
			}
		}
	}
}
