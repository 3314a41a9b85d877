package redisindex

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/ledger"
)

func streamID(seq uint64) string { return strconv.FormatUint(seq, 10) + "-0" }

func seqOf(id string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSuffix(id, "-0"), 10, 64)
	return n
}

// logRecord is a change-log entry's values (see doc.go): customer u,
// balance hash k, delta d, balance b, unix t, season s, season delta sd,
// season balance sb, and the change's JSON c.
type logRecord struct{ u, k, d, b, t, s, sd, sb, c string }

// readRecord returns the values of a log entry with fields v, in either
// format (doc.go, "Upgrading: the format gate"): at the compact one field e
// holds u k d b t [s sd sb] separated by spaces (lua/prelude.lua,
// logentry); at the text one each value is its own field.
func readRecord(v map[string]any) logRecord {
	var r logRecord
	get := func(k string) string {
		s, _ := v[k].(string)
		return s
	}
	r.c = get("c")
	if e, ok := v["e"].(string); ok {
		f := strings.Fields(e)
		f = append(f, make([]string, 8-min(8, len(f)))...)
		r.u, r.k, r.d, r.b, r.t, r.s, r.sd, r.sb = f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
		return r
	}
	r.u, r.k, r.d, r.b, r.t, r.s, r.sd, r.sb = get("u"), get("k"), get("d"), get("b"), get("t"), get("s"), get("sd"), get("sb")
	return r
}

// ReadLog returns up to count log entries after seq, waiting up to block for
// the first one when there is none yet (block 0: don't wait).
func (x *Index) ReadLog(ctx context.Context, after uint64, count int64, block time.Duration) ([]histogram.LogEntry, error) {
	var msgs []redis.XMessage
	if block > 0 {
		res, err := x.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{x.logKey(), streamID(after)}, Count: count, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, unavailable("read change log", err)
		}
		msgs = res[0].Messages
	} else {
		var err error
		msgs, err = x.rdb.XRangeN(ctx, x.logKey(), "("+streamID(after), "+", count).Result()
		if err != nil {
			return nil, unavailable("read change log", err)
		}
	}
	out := make([]histogram.LogEntry, 0, len(msgs))
	for _, m := range msgs {
		e := histogram.LogEntry{Seq: seqOf(m.ID)}
		r := readRecord(m.Values)
		var e1, e2, e3 error
		e.CustomerID, e1 = strconv.ParseUint(r.u, 10, 64)
		e.Balance, e2 = strconv.ParseInt(r.b, 10, 64)
		e.Delta, e3 = strconv.ParseInt(r.d, 10, 64)
		if err := errors.Join(e1, e2, e3); err != nil {
			return nil, fmt.Errorf("change log entry %s: %w", m.ID, err)
		}
		if r.s != "" {
			e.Season = r.s
			e.SeasonBalance, e1 = strconv.ParseInt(r.sb, 10, 64)
			e.SeasonDelta, e2 = strconv.ParseInt(r.sd, 10, 64)
			if err := errors.Join(e1, e2); err != nil {
				return nil, fmt.Errorf("change log entry %s: season: %w", m.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Entries returns up to count full ledger entries after seq, for shipping to
// the ledger. At an entry that can't be decoded it stops: it returns the
// entries before it and a *ledger.BrokenEntryError.
func (x *Index) Entries(ctx context.Context, after uint64, count int64) ([]ledger.Entry, error) {
	msgs, err := x.rdb.XRangeN(ctx, x.logKey(), "("+streamID(after), "+", count).Result()
	if err != nil {
		return nil, unavailable("read change log", err)
	}
	out := make([]ledger.Entry, 0, len(msgs))
	for _, m := range msgs {
		e, err := decodeEntry(m.ID, m.Values)
		if err != nil {
			fields := fieldStrings(m.Values)
			u, _ := strconv.ParseUint(readRecord(m.Values).u, 10, 64)
			return out, &ledger.BrokenEntryError{Seq: seqOf(m.ID), CustomerID: u, Fields: fields, Err: err}
		}
		out = append(out, e)
	}
	return out, nil
}

// FirstLogSeq returns the seq of the oldest entry still in the log (0 when
// the log is empty).
func (x *Index) FirstLogSeq(ctx context.Context) (uint64, error) {
	msgs, err := x.rdb.XRangeN(ctx, x.logKey(), "-", "+", 1).Result()
	if err != nil {
		return 0, unavailable("read change log", err)
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	return seqOf(msgs[0].ID), nil
}

// LogLen returns the number of entries in the log.
func (x *Index) LogLen(ctx context.Context) (int64, error) {
	n, err := x.rdb.XLen(ctx, x.logKey()).Result()
	return n, unavailable("read change log length", err)
}

// Shipped returns the seq up to which the log is in the ledger.
func (x *Index) Shipped(ctx context.Context) (uint64, error) {
	v, err := x.rdb.Get(ctx, x.shippedKey()).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, unavailable("read shipped mark", err)
}

// MarkShipped records that every entry up to seq is in the ledger, and trims
// the log to what is unshipped plus the last LogKeep entries. Trimming pauses
// while a rebuild runs.
func (x *Index) MarkShipped(ctx context.Context, seq uint64) error {
	if err := x.rdb.Set(ctx, x.shippedKey(), seq, 0).Err(); err != nil {
		return unavailable("mark shipped", err)
	}
	if n, err := x.rdb.Exists(ctx, x.rebuildingKey()).Result(); err != nil || n > 0 {
		return unavailable("check rebuild", err)
	}
	head, err := x.Seq(ctx)
	if err != nil {
		return err
	}
	if head < uint64(x.cfg.LogKeep) {
		return nil
	}
	keep := min(seq+1, head+1-uint64(x.cfg.LogKeep))
	return unavailable("trim change log", x.rdb.XTrimMinIDApprox(ctx, x.logKey(), streamID(keep), 0).Err())
}

// Scan calls fn for every customer with a balance in generation gen, in
// ascending customer id order, each once (see scanBoard); not a snapshot
// (see ranker.Replica).
func (x *Index) Scan(ctx context.Context, gen uint64, fn func(id uint64, points int64) error) error {
	return x.scanBoard(ctx, x.genBoardOf(gen), fn)
}

// Lease takes or renews the named lease for holder for ttl and reports
// whether holder has it: one ledger shipper per deployment.
func (x *Index) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	n, err := leaseScript.Run(ctx, x.rdb, []string{x.leaseKey(name)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, unavailable("lease "+name, err)
	}
	return n == 1, nil
}

// Confirmed returns the seq up to which the change log is on at least
// Config.MinReplicasAck replicas (with 0, the primary's seq): the most the
// shipper may copy into the ledger, so a failover to a replica never loses
// a change the ledger already holds, nor reuses its seq. It reads the seq,
// writes a probe and WAITs for it on one connection: replication is one
// ordered stream, so a replica that has the probe has every change before
// it.
func (x *Index) Confirmed(ctx context.Context) (uint64, error) {
	if x.cfg.MinReplicasAck <= 0 {
		return x.Seq(ctx)
	}
	pipe := x.rdb.Pipeline()
	seq := pipe.Get(ctx, x.seqKey())
	pipe.Incr(ctx, x.probeKey())
	wait := pipe.Do(ctx, "WAIT", x.cfg.MinReplicasAck, x.cfg.WaitTimeout.Milliseconds())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, unavailable("confirm the change log", err)
	}
	n, err := wait.Int64()
	if err != nil {
		return 0, unavailable("confirm the change log", err)
	}
	if n < int64(x.cfg.MinReplicasAck) {
		return 0, fmt.Errorf("confirm the change log: %w: %d of %d replicas within %s", ledger.ErrNotConfirmed, n, x.cfg.MinReplicasAck, x.cfg.WaitTimeout)
	}
	s, err := seq.Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return s, unavailable("read seq", err)
}

// ScanSeason calls fn for every customer with a balance on the board of
// season name in generation gen, as Scan does for the all-time board.
func (x *Index) ScanSeason(ctx context.Context, gen uint64, name string, fn func(id uint64, points int64) error) error {
	return x.scanBoard(ctx, x.genBoardOf(gen).season(name), fn)
}
