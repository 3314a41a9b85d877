package redisindex

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// formatsIndex returns an index on a fresh Redis, its client, and the
// current time in seconds.
func formatsIndex(t *testing.T) (*Index, *redis.Client, time.Time) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t).Addr})
	t.Cleanup(func() { rdb.Close() })
	cfg := DefaultConfig()
	cfg.Prefix, cfg.DedupeParts = t.Name(), 64
	return New(rdb, cfg), rdb, time.Now().UTC().Truncate(time.Second)
}

// TestRememberedRecords: what Apply remembers of a change (the packed
// record: negative deltas, a digest that is not Seal's) is what a replay and
// Recall answer.
func TestRememberedRecords(t *testing.T) {
	x, _, now := formatsIndex(t)
	ctx := testenv.Context(t)
	earn := ledger.Change{ID: "o-1", CustomerID: 300, Points: 70000, Cause: ledger.CauseOrder, OccurredAt: now}
	earn.Seal()
	refund := ledger.Change{ID: "r-1", CustomerID: 300, Points: -90000, Cause: ledger.CauseRefund, OccurredAt: now,
		Digest: "not a hex digest"}
	for round := range 2 {
		out, err := x.Apply(ctx, []ledger.Change{earn, refund})
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Replayed != (round == 1) || out[0].Seq != 1 || out[0].Delta != 70000 || out[0].Balance != 70000 ||
			out[1].Replayed != (round == 1) || out[1].Seq != 2 || out[1].Delta != -70000 || out[1].Balance != 0 {
			t.Fatalf("round %d: outcomes %+v", round, out)
		}
	}
	other := refund
	other.Digest = "another digest"
	if out, err := x.Apply(ctx, []ledger.Change{other}); err != nil || !errors.Is(out[0].Err, ledger.ErrConflict) {
		t.Fatalf("other content under r-1: %+v, %v; want a conflict", out, err)
	}
	// Recall from the remembered records alone (the log trimmed).
	if _, err := x.rdb.Del(ctx, x.logKey()).Result(); err != nil {
		t.Fatal(err)
	}
	got, err := x.Recall(ctx, []string{"o-1", "r-1", "never"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"o-1": fmt.Sprintf("%s 1 70000 70000 %d 70000", earn.Digest, got["o-1"].RecordedAt.Unix()),
		"r-1": fmt.Sprintf("not a hex digest 2 -70000 0 %d -90000", got["r-1"].RecordedAt.Unix()),
	}
	if len(got) != 2 {
		t.Fatalf("Recall = %+v, want o-1 and r-1", got)
	}
	for id, w := range want {
		e := got[id]
		if s := fmt.Sprintf("%s %d %d %d %d %d", e.Digest, e.Seq, e.Delta, e.Balance, e.RecordedAt.Unix(), e.Points); s != w ||
			e.RecordedAt.Before(now) {
			t.Errorf("Recall %s = %q, want %q", id, s, w)
		}
	}
}

// TestFormatsBefore: ids remembered and log entries written in the layout
// before the packed records and the e field are still read: a retry of such
// an id is a replay (other content a conflict), Recall finds it, and the log
// entry reaches the ledger and the rankers.
func TestFormatsBefore(t *testing.T) {
	x, rdb, now := formatsIndex(t)
	ctx := testenv.Context(t)
	c := ledger.Change{ID: "old-1", CustomerID: 9, Points: 4, Cause: ledger.CauseOrder, OccurredAt: now}
	c.Seal()
	day := now.Unix() / daySeconds
	key := x.p + ":o:" + strconv.FormatInt(day, 10) + ":" + strconv.FormatUint(uint64(x.part(c.ID)), 10)
	rec := fmt.Sprintf("%s 41 4 4 %d 4", c.Digest, now.Unix())
	if err := rdb.HSet(ctx, key, c.ID, rec).Err(); err != nil {
		t.Fatal(err)
	}
	out, err := x.Apply(ctx, []ledger.Change{c})
	if err != nil || !out[0].Replayed || out[0].Seq != 41 || out[0].Delta != 4 || out[0].Balance != 4 || !out[0].RecordedAt.Equal(now) {
		t.Fatalf("retry of an id remembered before: %+v, %v; want a replay of seq 41", out, err)
	}
	other := c
	other.Points = 5
	other.Seal()
	if out, err := x.Apply(ctx, []ledger.Change{other}); err != nil || !errors.Is(out[0].Err, ledger.ErrConflict) {
		t.Fatalf("other content: %+v, %v; want a conflict", out, err)
	}
	got, err := x.Recall(ctx, []string{c.ID})
	if e := got[c.ID]; err != nil || e.Seq != 41 || e.Digest != c.Digest || e.Points != 4 || e.Balance != 4 {
		t.Fatalf("Recall = %+v, %v", got, err)
	}

	js := `{"id":"old-2","customer_id":9,"points":3,"cause":"order","amount":"30","amount_gbp":"30","occurred_at":"2026-12-01T10:00:00Z","digest":"x"}`
	err = rdb.XAdd(ctx, &redis.XAddArgs{Stream: x.logKey(), ID: "42-0",
		Values: []any{"u", "9", "k", "0", "b", "7", "d", "3", "t", strconv.FormatInt(now.Unix(), 10), "s", "2026-12", "sd", "3", "sb", "3", "c", js}}).Err()
	if err != nil {
		t.Fatal(err)
	}
	es, err := x.Entries(ctx, 41, 10)
	if err != nil || len(es) != 1 || es[0].ID != "old-2" || es[0].Balance != 7 || es[0].Delta != 3 || es[0].SeasonBalance != 3 || !es[0].RecordedAt.Equal(now) {
		t.Fatalf("Entries = %+v, %v", es, err)
	}
	ls, err := x.ReadLog(ctx, 41, 10, 0)
	if err != nil || len(ls) != 1 || ls[0].CustomerID != 9 || ls[0].Balance != 7 || ls[0].Season != "2026-12" || ls[0].SeasonDelta != 3 {
		t.Fatalf("ReadLog = %+v, %v", ls, err)
	}
}

// TestIDsAhead: an id timed ahead of the clock is remembered in a later
// day's hash, and {P}:o:ahead makes the search reach it; without that key
// (an index the earlier version wrote) every day up to the latest a memory
// day can be is searched.
func TestIDsAhead(t *testing.T) {
	x, rdb, now := formatsIndex(t)
	ctx := testenv.Context(t)
	ahead := ledger.Change{ID: "ahead-1", CustomerID: 5, Points: 2, Cause: ledger.CauseOrder, OccurredAt: now.Add(24 * time.Hour)}
	ahead.Seal()
	today := ledger.Change{ID: "today-1", CustomerID: 6, Points: 3, Cause: ledger.CauseOrder, OccurredAt: now}
	today.Seal()
	apply := func(want bool, what string) {
		t.Helper()
		out, err := x.Apply(ctx, []ledger.Change{ahead, today})
		if err != nil || out[0].Err != nil || out[0].Replayed != want || out[1].Replayed != want {
			t.Fatalf("%s: %+v, %v; want replayed %v", what, out, err, want)
		}
	}
	apply(false, "first")
	day, err := rdb.Get(ctx, x.p+":o:ahead").Int64()
	if want := now.Add(24*time.Hour).Unix() / daySeconds; err != nil || day != want {
		t.Fatalf("%s:o:ahead = %d, %v; want %d", x.p, day, err, want)
	}
	apply(true, "retry")
	if err := rdb.Del(ctx, x.p+":o:ahead").Err(); err != nil {
		t.Fatal(err)
	}
	apply(true, "retry without the ahead key")
}
