package redisindex_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// TestDeadLetterStore: a dead letter is stored once per seq (also once
// dropped), keeps its entry, can be removed or dropped with a reason, and an
// entry the log could not decode is decoded again when listed.
func TestDeadLetterStore(t *testing.T) {
	t.Parallel()
	x, rdb := newIndex(t)
	ctx := testenv.Context(t)
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	e := ledger.Entry{Change: change("o-1", 7, 5), Seq: 1, Delta: 5, Balance: 5, RecordedAt: at}
	put := func(d ledger.DeadLetter, want bool) {
		t.Helper()
		stored, err := x.PutDeadLetter(ctx, d)
		if err != nil || stored != want {
			t.Fatalf("PutDeadLetter(%d) = %v, %v; want %v", d.Seq, stored, err, want)
		}
	}
	put(ledger.DeadLetter{Seq: 1, Reason: "amount does not fit", At: at, Entry: &e}, true)
	put(ledger.DeadLetter{Seq: 1, Reason: "another try", At: at.Add(time.Hour), Entry: &e}, false)

	// A log entry this version could not decode, that a later one can.
	plant := func(seq uint64, c string) {
		t.Helper()
		err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "{" + t.Name() + "}:log", ID: strconv.FormatUint(seq, 10) + "-0",
			Values: []any{"u", "8", "k", "0", "b", "2", "d", "2", "t", strconv.FormatInt(at.Unix(), 10), "c", c}}).Err()
		if err != nil {
			t.Fatal(err)
		}
	}
	plant(2, `{"id":"o-2","customer_id":8,"points":2,"cause":"order","amount":"20","amount_gbp":"20","occurred_at":"2026-12-01T10:00:00Z","digest":"x"}`)
	plant(3, `{"id":`)
	es, err := x.Entries(ctx, 0, 10)
	if len(es) != 1 || es[0].ID != "o-2" || es[0].Seq != 2 {
		t.Fatalf("Entries = %+v, want o-2 before the broken entry", es)
	}
	var broken *ledger.BrokenEntryError
	if !errors.As(err, &broken) || broken.Seq != 3 || broken.Fields["c"] != `{"id":` {
		t.Fatalf("Entries error = %v, want a BrokenEntryError for seq 3", err)
	}
	put(broken.DeadLetter("can't be decoded", at), true)
	good := &ledger.BrokenEntryError{Seq: 2, Fields: map[string]string{"u": "8", "b": "2", "d": "2", "t": strconv.FormatInt(at.Unix(), 10),
		"c": `{"id":"o-2","customer_id":8,"points":2,"cause":"order","amount":"20","amount_gbp":"20","occurred_at":"2026-12-01T10:00:00Z","digest":"x"}`}, Err: errors.New("old version")}
	put(good.DeadLetter("can't be decoded", at), true)

	ds, err := x.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].Seq != 1 || ds[1].Seq != 2 || ds[2].Seq != 3 {
		t.Fatalf("DeadLetters = %+v, want seqs 1 2 3", ds)
	}
	if d := ds[0]; d.Reason != "amount does not fit" || !d.At.Equal(at) || d.ChangeID != "o-1" || d.CustomerID != 7 || d.Entry == nil || d.Entry.Digest != e.Digest || d.Entry.Delta != 5 {
		t.Errorf("dead letter 1 = %+v, want the first one stored, with its entry", d)
	}
	if d := ds[1]; d.Entry == nil || d.Entry.ID != "o-2" || d.Entry.Seq != 2 || d.Entry.Delta != 2 || d.ChangeID != "o-2" || d.DecodeErr != "" {
		t.Errorf("dead letter 2 = %+v, want it decoded now", d)
	}
	if d := ds[2]; d.Entry != nil || d.DecodeErr == "" || d.CustomerID != 8 {
		t.Errorf("dead letter 3 = %+v, want no entry, the decoding error and customer 8", d)
	}

	found, err := x.DeadLetterChanges(ctx, []string{"o-1", "o-2", "o-9"})
	if err != nil || len(found) != 2 || found["o-1"].Seq != 1 || found["o-2"].Seq != 2 {
		t.Fatalf("DeadLetterChanges = %+v, %v; want o-1 and o-2", found, err)
	}
	if err := x.RemoveDeadLetter(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := x.DropDeadLetter(ctx, 3, `can't be "stored"`, at); err != nil {
		t.Fatal(err)
	}
	if err := x.DropDeadLetter(ctx, 3, "twice", at); !errors.Is(err, redisindex.ErrNoDeadLetter) {
		t.Fatalf("DropDeadLetter twice = %v, want ErrNoDeadLetter", err)
	}
	put(broken.DeadLetter("again after a crash", at), false)
	if n, err := x.DeadLetterCount(ctx); err != nil || n != 1 {
		t.Fatalf("DeadLetterCount = %d, %v; want 1", n, err)
	}
	if err := x.DropDeadLetter(ctx, 1, "refunded by hand", at); err != nil {
		t.Fatal(err)
	}
	if found, err := x.DeadLetterChanges(ctx, []string{"o-1", "o-2"}); err != nil || len(found) != 1 || found["o-1"].Digest != e.Digest {
		t.Fatalf("DeadLetterChanges after dropping o-1 and removing o-2 = %+v, %v; want o-1 (dropped letters stay known)", found, err)
	}
	dropped, err := x.DroppedLetters(ctx)
	if err != nil || len(dropped) != 2 || dropped[1].Seq != 3 || dropped[1].DropReason != `can't be "stored"` || !dropped[1].DroppedAt.Equal(at) || dropped[1].Reason != "can't be decoded" || dropped[0].Entry == nil {
		t.Fatalf("DroppedLetters = %+v, %v", dropped, err)
	}
}
