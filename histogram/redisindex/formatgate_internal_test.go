package redisindex

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/season"
)

// textBoard returns an index on a board an earlier version wrote (a
// {P}:seq, no {P}:format: the text formats), its client and now.
func textBoard(t *testing.T) (*Index, *redis.Client, time.Time) {
	t.Helper()
	x, rdb, now := formatsIndex(t)
	if err := rdb.Set(testenv.Context(t), x.p+":seq", 40, 0).Err(); err != nil {
		t.Fatal(err)
	}
	return x, rdb, now
}

// idKey returns the remembered-id hash of id on day.
func (x *Index) idKey(id string, day int64) string {
	return x.p + ":o:" + strconv.FormatInt(day, 10) + ":" + strconv.FormatUint(uint64(x.part(id)), 10)
}

// logFields returns the fields of log entry seq, in order, as XRANGE
// answers them.
func logFields(t *testing.T, x *Index, rdb *redis.Client, seq int) []string {
	t.Helper()
	v, err := rdb.Do(testenv.Context(t), "XRANGE", x.logKey(), strconv.Itoa(seq)+"-0", strconv.Itoa(seq)+"-0").Slice()
	if err != nil || len(v) != 1 {
		t.Fatalf("XRANGE %d: %v, %v", seq, v, err)
	}
	var out []string
	for _, f := range v[0].([]any)[1].([]any) {
		out = append(out, f.(string))
	}
	return out
}

// TestTextFormatLayout: on a board at the text format (an existing board:
// {P}:seq, no {P}:format) Apply and Remember write exactly what the version
// before the compact formats wrote (lua/apply.lua and remember.lua at
// b9f1414), so its writers find the ids and its rankers and shipper read
// the log: field = the id, record "digest seq delta balance unix points",
// log entries u k b d t [s sd sb] c. Nothing compact is written, and the
// board stays at the text format.
func TestTextFormatLayout(t *testing.T) {
	x, rdb, now := textBoard(t)
	ctx := testenv.Context(t)
	cal, err := season.New(season.Month)
	if err != nil {
		t.Fatal(err)
	}
	x.cfg.Seasons, x.cfg.SeasonsKept = cal, 2
	earn := ledger.Change{ID: "o-1", CustomerID: 300, Points: 70, Cause: ledger.CauseOrder, OccurredAt: now, Season: cal.Of(now)}
	earn.Seal()
	refund := ledger.Change{ID: "r-1", CustomerID: 300, Points: -90, Cause: ledger.CauseRefund, OccurredAt: now}
	refund.Seal()
	out, err := x.Apply(ctx, []ledger.Change{earn, refund})
	if err != nil || len(out) != 2 || out[0].Seq != 41 || out[1].Seq != 42 {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	unix := out[0].RecordedAt.Unix()
	day := max(now.Unix(), unix) / daySeconds
	for _, c := range []struct {
		ch   ledger.Change
		want string
	}{
		{earn, fmt.Sprintf("%s 41 70 70 %d 70", earn.Digest, unix)},
		{refund, fmt.Sprintf("%s 42 -70 0 %d -90", refund.Digest, out[1].RecordedAt.Unix())},
	} {
		got, err := rdb.HGetAll(ctx, x.idKey(c.ch.ID, day)).Result()
		if err != nil || got[c.ch.ID] != c.want {
			t.Errorf("%s: hash %s = %q, %v; want field %q = %q", c.ch.ID, x.idKey(c.ch.ID, day), got, err, c.ch.ID, c.want)
		}
		if _, ok := got[idField(c.ch.ID)]; ok {
			t.Errorf("%s: a compact record written at the text format", c.ch.ID)
		}
	}
	u := strconv.FormatInt(unix, 10)
	for seq, want := range map[int][]string{
		41: {"u", "300", "k", "2", "b", "70", "d", "70", "t", u, "s", earn.Season, "sd", "70", "sb", "70", "c"},
		42: {"u", "300", "k", "2", "b", "0", "d", "-70", "t", u, "c"},
	} {
		got := logFields(t, x, rdb, seq)
		if len(got) != len(want)+1 || !slices.Equal(got[:len(want)], want) {
			t.Errorf("log entry %d = %q, want %q and the change's JSON", seq, got, want)
			continue
		}
		if e, err := decodeEntry(strconv.Itoa(seq)+"-0", map[string]any{"c": got[len(want)], "d": "0", "b": "0", "t": "0"}); err != nil ||
			e.Change.ID != map[int]string{41: earn.ID, 42: refund.ID}[seq] {
			t.Errorf("log entry %d: c = %q: %+v, %v", seq, got[len(want)], e.Change, err)
		}
	}

	// Remember (a rebuild) at the text format: the record the earlier
	// version's remember.lua wrote.
	old := ledger.Entry{Change: ledger.Change{ID: "m-1", CustomerID: 7, Points: 5, Cause: ledger.CauseOrder, OccurredAt: now, Digest: "abc"},
		Seq: 9, Delta: 5, Balance: 12, RecordedAt: now}
	if err := x.Remember(ctx, []ledger.Entry{old}); err != nil {
		t.Fatal(err)
	}
	rec, err := rdb.HGetAll(ctx, x.idKey("m-1", now.Unix()/daySeconds)).Result()
	if want := fmt.Sprintf("abc 9 5 12 %d 5", now.Unix()); err != nil || rec["m-1"] != want || len(rec) != 1 {
		t.Errorf("remembered m-1: %q, %v; want only m-1 = %q", rec, err, want)
	}
	if f, fresh, err := x.Format(ctx); err != nil || f != FormatText || fresh {
		t.Errorf("Format = %v, %v, %v; want text", f, fresh, err)
	}
	if n, err := rdb.Exists(ctx, x.p+":format").Result(); err != nil || n != 0 {
		t.Errorf("%s:format written on a board at the text format: %d, %v", x.p, n, err)
	}
}

// TestEarlierWriterAhead: at the text format a writer of the earlier
// version may remember an id timed ahead in a later day's hash without
// keeping {P}:o:ahead. Such an id is found (a retry is a replay, not a
// second apply) at the text format, and still after the switch to compact,
// which raises {P}:o:ahead over every day it can be in. Ids remembered
// before the switch are found after it, and the compact format is written
// from then on.
func TestEarlierWriterAhead(t *testing.T) {
	x, rdb, now := textBoard(t)
	ctx := testenv.Context(t)
	today := now.Unix() / daySeconds
	before := ledger.Change{ID: "new-1", CustomerID: 3, Points: 4, Cause: ledger.CauseOrder, OccurredAt: now}
	before.Seal()
	if out, err := x.Apply(ctx, []ledger.Change{before}); err != nil || out[0].Err != nil || out[0].Replayed {
		t.Fatalf("first apply: %+v, %v", out, err)
	}
	// A writer of this version saw no id ahead of today...
	if err := rdb.Set(ctx, x.p+":o:ahead", today, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// ...and one of the earlier version then remembered an order dated
	// tomorrow in tomorrow's hash, as its apply.lua did.
	ahead := ledger.Change{ID: "old-ahead", CustomerID: 5, Points: 2, Cause: ledger.CauseOrder, OccurredAt: now.Add(24 * time.Hour)}
	ahead.Seal()
	rec := fmt.Sprintf("%s 41 2 2 %d 2", ahead.Digest, now.Unix())
	if err := rdb.HSet(ctx, x.idKey(ahead.ID, today+1), ahead.ID, rec).Err(); err != nil {
		t.Fatal(err)
	}
	retry := func(what string) {
		t.Helper()
		out, err := x.Apply(ctx, []ledger.Change{ahead, before})
		if err != nil || out[0].Err != nil || !out[0].Replayed || out[0].Seq != 41 || !out[1].Replayed {
			t.Fatalf("%s: retries = %+v, %v; want replays (old-ahead of seq 41)", what, out, err)
		}
		got, err := x.Recall(ctx, []string{ahead.ID, before.ID})
		if err != nil || got[ahead.ID].Seq != 41 || got[before.ID].Seq == 0 {
			t.Fatalf("%s: Recall = %+v, %v", what, got, err)
		}
		if b, err := x.Balance(ctx, 5); err != nil || b != 0 {
			t.Fatalf("%s: balance of customer 5 = %d, %v; want 0 (old-ahead not applied here)", what, b, err)
		}
	}
	retry("text format")
	sw, err := x.SetFormat(ctx, FormatCompact)
	if err != nil || sw.From != FormatText || !sw.CompactUntil.IsZero() {
		t.Fatalf("SetFormat(compact) = %+v, %v", sw, err)
	}
	retry("after the switch to compact")
	if a, err := rdb.Get(ctx, x.p+":o:ahead").Int64(); err != nil || a <= today {
		t.Fatalf("%s:o:ahead after the switch = %d, %v; want past today (%d)", x.p, a, err, today)
	}

	after := ledger.Change{ID: "new-2", CustomerID: 3, Points: 1, Cause: ledger.CauseOrder, OccurredAt: now}
	after.Seal()
	out, err := x.Apply(ctx, []ledger.Change{after})
	if err != nil || out[0].Err != nil || out[0].Replayed {
		t.Fatalf("apply after the switch: %+v, %v", out, err)
	}
	rec2, err := rdb.HGetAll(ctx, x.idKey(after.ID, out[0].RecordedAt.Unix()/daySeconds)).Result()
	if _, ok := rec2[idField(after.ID)]; err != nil || !ok || rec2[after.ID] != "" {
		t.Errorf("after the switch, new-2 remembered as %q, %v; want its compact field only", rec2, err)
	}
	if got := logFields(t, x, rdb, int(out[0].Seq)); len(got) != 4 || got[0] != "e" || got[2] != "c" {
		t.Errorf("log entry after the switch = %q, want fields e and c", got)
	}
}

// TestFreshBoardFormat: a board never written (no {P}:seq, no
// {P}:format) is at the compact format from its first write; one an
// earlier version wrote ({P}:seq) stays at text. Back to text (a
// rollback) says when the last compact ids expire, and writes text from
// then on.
func TestFreshBoardFormat(t *testing.T) {
	x, rdb, now := formatsIndex(t)
	ctx := testenv.Context(t)
	if f, fresh, err := x.Format(ctx); err != nil || f != FormatCompact || !fresh {
		t.Fatalf("fresh board: Format = %v, %v, %v; want compact, fresh", f, fresh, err)
	}
	c := ledger.Change{ID: "c-1", CustomerID: 1, Points: 1, Cause: ledger.CauseOrder, OccurredAt: now}
	c.Seal()
	out, err := x.Apply(ctx, []ledger.Change{c})
	if err != nil || out[0].Err != nil {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	if v, err := rdb.Get(ctx, x.p+":format").Result(); err != nil || v != "2" {
		t.Fatalf("%s:format after the first write = %q, %v; want 2", x.p, v, err)
	}
	day := out[0].RecordedAt.Unix() / daySeconds
	if got, err := rdb.HGetAll(ctx, x.idKey(c.ID, day)).Result(); err != nil || len(got) != 1 || got[idField(c.ID)] == "" {
		t.Fatalf("fresh board: c-1 remembered as %q, %v; want the compact field", got, err)
	}

	sw, err := x.SetFormat(ctx, FormatText)
	if err != nil || sw.From != FormatCompact || !sw.CompactUntil.After(now.Add(time.Duration(x.cfg.DedupeDays)*24*time.Hour)) {
		t.Fatalf("SetFormat(text) = %+v, %v; want From compact, CompactUntil past DedupeDays from now", sw, err)
	}
	c2 := ledger.Change{ID: "c-2", CustomerID: 1, Points: 1, Cause: ledger.CauseOrder, OccurredAt: now}
	c2.Seal()
	out, err = x.Apply(ctx, []ledger.Change{c2, c})
	if err != nil || out[0].Err != nil || !out[1].Replayed {
		t.Fatalf("Apply at text = %+v, %v; want c-2 applied, c-1 a replay", out, err)
	}
	if got, err := rdb.HGet(ctx, x.idKey(c2.ID, out[0].RecordedAt.Unix()/daySeconds), c2.ID).Result(); err != nil || got == "" {
		t.Fatalf("back at text: c-2's text record: %q, %v", got, err)
	}

	cfg := x.cfg
	cfg.Prefix += "-earlier"
	y := New(rdb, cfg)
	if err := rdb.Set(ctx, y.p+":seq", 7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if f, fresh, err := y.Format(ctx); err != nil || f != FormatText || fresh {
		t.Fatalf("existing board: Format = %v, %v, %v; want text", f, fresh, err)
	}
	if _, err := y.Apply(ctx, []ledger.Change{c}); err != nil {
		t.Fatal(err)
	}
	if f, _, err := y.Format(ctx); err != nil || f != FormatText {
		t.Fatalf("existing board after a write: Format = %v, %v; want text", f, err)
	}
}
