package redisindex

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/ledger"
)

// The dead-letter store: change-log entries the ledger refused, set aside so
// that the entries after them can be shipped. See doc.go for the keys.

var (
	//go:embed lua/deadletter_put.lua
	deadPutLua string
	//go:embed lua/deadletter_drop.lua
	deadDropLua string

	deadPutScript  = redis.NewScript(deadPutLua)
	deadDropScript = redis.NewScript(deadDropLua)
)

// ErrNoDeadLetter means no dead letter of that seq is pending.
var ErrNoDeadLetter = errors.New("no such dead letter")

// decodeEntry decodes the log entry of stream id id with fields v.
func decodeEntry(id string, v map[string]any) (ledger.Entry, error) {
	var e ledger.Entry
	r := readRecord(v)
	if err := json.Unmarshal([]byte(r.c), &e.Change); err != nil {
		return e, fmt.Errorf("change log entry %s: change: %w", id, err)
	}
	var e1, e2, e3 error
	var ts int64
	e.Delta, e1 = strconv.ParseInt(r.d, 10, 64)
	e.Balance, e2 = strconv.ParseInt(r.b, 10, 64)
	ts, e3 = strconv.ParseInt(r.t, 10, 64)
	if err := errors.Join(e1, e2, e3); err != nil {
		return e, fmt.Errorf("change log entry %s: %w", id, err)
	}
	e.Seq, e.RecordedAt = seqOf(id), time.Unix(ts, 0).UTC()
	if r.s != "" {
		e.Season = r.s
		e.SeasonDelta, e1 = strconv.ParseInt(r.sd, 10, 64)
		e.SeasonBalance, e2 = strconv.ParseInt(r.sb, 10, 64)
		if err := errors.Join(e1, e2); err != nil {
			return e, fmt.Errorf("change log entry %s: season: %w", id, err)
		}
	}
	return e, nil
}

func fieldStrings(v map[string]any) map[string]string {
	out := make(map[string]string, len(v))
	for k, x := range v {
		s, _ := x.(string)
		out[k] = s
	}
	return out
}

func (x *Index) deadKeys() []string { return []string{x.deadKey(), x.droppedKey()} }

// PutDeadLetter sets d aside unless a dead letter of its seq is already
// pending or was dropped; it reports whether it stored d. Calling it again
// for the same seq (a shipper that crashed before marking the entry
// shipped) changes nothing.
func (x *Index) PutDeadLetter(ctx context.Context, d ledger.DeadLetter) (bool, error) {
	if d.Entry != nil {
		d.ChangeID, d.CustomerID, d.Fields = d.Entry.ID, d.Entry.CustomerID, nil
	}
	js, err := json.Marshal(d)
	if err != nil {
		return false, fmt.Errorf("encode dead letter %d: %w", d.Seq, err)
	}
	n, err := deadPutScript.Run(ctx, x.rdb, x.deadKeys(), d.Seq, js).Int()
	if err != nil {
		return false, unavailable("store dead letter", err)
	}
	return n == 1, nil
}

// DeadLetters returns the pending dead letters by seq. An entry logged in a
// form this version could not decode when it was set aside is decoded again
// (a newer version may read it).
func (x *Index) DeadLetters(ctx context.Context) ([]ledger.DeadLetter, error) {
	m, err := x.rdb.HGetAll(ctx, x.deadKey()).Result()
	if err != nil {
		return nil, unavailable("read dead letters", err)
	}
	out := make([]ledger.DeadLetter, 0, len(m))
	for k, v := range m {
		var d ledger.DeadLetter
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, fmt.Errorf("dead letter %s in %s: %w", k, x.deadKey(), err)
		}
		decodeLetter(&d)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// decodeLetter decodes the fields of a letter without an entry, if it can.
func decodeLetter(d *ledger.DeadLetter) {
	if d.Entry != nil {
		return
	}
	raw := make(map[string]any, len(d.Fields))
	for f, s := range d.Fields {
		raw[f] = s
	}
	if e, err := decodeEntry(streamID(d.Seq), raw); err != nil {
		d.DecodeErr = err.Error()
	} else {
		d.Entry, d.ChangeID = &e, e.ID
	}
}

// DeadLetterChanges returns the entries of the dead letters, pending or
// dropped, whose change id is one of ids, keyed by change id: changes that
// were applied and that the shipped mark passed, but that the ledger does
// not hold.
func (x *Index) DeadLetterChanges(ctx context.Context, ids []string) (map[string]ledger.Entry, error) {
	pending, err := x.DeadLetters(ctx)
	if err != nil {
		return nil, err
	}
	dropped, err := x.DroppedLetters(ctx)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := map[string]ledger.Entry{}
	keep := func(d ledger.DeadLetter) {
		if d.Entry != nil && want[d.Entry.ID] {
			out[d.Entry.ID] = *d.Entry
		}
	}
	for _, d := range pending {
		keep(d)
	}
	for _, d := range dropped {
		keep(d.DeadLetter)
	}
	return out, nil
}

// DeadLetterCount returns the number of pending dead letters.
func (x *Index) DeadLetterCount(ctx context.Context) (int64, error) {
	n, err := x.rdb.HLen(ctx, x.deadKey()).Result()
	return n, unavailable("count dead letters", err)
}

// RemoveDeadLetter forgets the pending dead letter seq: call it once its
// entry is in the ledger.
func (x *Index) RemoveDeadLetter(ctx context.Context, seq uint64) error {
	return unavailable("remove dead letter", x.rdb.HDel(ctx, x.deadKey(), strconv.FormatUint(seq, 10)).Err())
}

// DropDeadLetter moves the pending dead letter seq to the dropped ones with
// reason and at; ErrNoDeadLetter if none is pending.
func (x *Index) DropDeadLetter(ctx context.Context, seq uint64, reason string, at time.Time) error {
	r, _ := json.Marshal(reason)
	t, _ := json.Marshal(at.UTC())
	n, err := deadDropScript.Run(ctx, x.rdb, x.deadKeys(), seq, r, t).Int()
	if err != nil {
		return unavailable("drop dead letter", err)
	}
	if n == 0 {
		return fmt.Errorf("dead letter %d: %w", seq, ErrNoDeadLetter)
	}
	return nil
}

// DroppedLetters returns the dead letters dropped so far, by seq.
func (x *Index) DroppedLetters(ctx context.Context) ([]ledger.DroppedLetter, error) {
	m, err := x.rdb.HGetAll(ctx, x.droppedKey()).Result()
	if err != nil {
		return nil, unavailable("read dropped letters", err)
	}
	out := make([]ledger.DroppedLetter, 0, len(m))
	for k, v := range m {
		var w struct {
			DropReason string            `json:"drop_reason"`
			DroppedAt  time.Time         `json:"dropped_at"`
			Letter     ledger.DeadLetter `json:"letter"`
		}
		if err := json.Unmarshal([]byte(v), &w); err != nil {
			return nil, fmt.Errorf("dropped letter %s in %s: %w", k, x.droppedKey(), err)
		}
		decodeLetter(&w.Letter)
		out = append(out, ledger.DroppedLetter{DeadLetter: w.Letter, DropReason: w.DropReason, DroppedAt: w.DroppedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}
