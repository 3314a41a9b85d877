package redisindex

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/season"
)

// Config configures the index.
type Config struct {
	// Prefix names the board; keys are "{Prefix}:...", one cluster slot.
	Prefix string
	// DedupeDays is how many days a change id is remembered in Redis after it
	// was applied. Older ids are the ledger's to remember (see ingest).
	DedupeDays int
	// DedupeParts spreads the remembered ids over this many small hashes a day.
	DedupeParts int
	// LogKeep is how many change-log entries are kept after shipping, for
	// replicas catching up.
	LogKeep int64
	// BatchSize is the most changes one script call applies.
	BatchSize int
	// MaxAhead is how far a change's time may be ahead of the index's clock;
	// later changes are refused. The exactly-once rule relies on it: a change
	// timed T was applied no earlier than T - MaxAhead. It must be at least
	// the ahead-limit of validation plus the clock skew tolerated between the
	// API's and Redis's clocks.
	MaxAhead time.Duration
	// MinReplicasAck is how many replicas must confirm a write (WAIT) before
	// it is acknowledged; 0 acknowledges once the primary has it.
	MinReplicasAck int
	// WaitTimeout bounds that WAIT; on timeout the write is not acknowledged
	// (ledger.ErrNotConfirmed) and a retry is a replay.
	WaitTimeout time.Duration
	// Seasons names the season boards' seasons; SeasonsKept is how many
	// seasons a season board is kept after its own ends.
	Seasons     season.Calendar
	SeasonsKept int
	// AssumeNoEviction acknowledges that Redis's maxmemory-policy is
	// noeviction where CONFIG GET is not allowed (some managed services);
	// Check then warns instead of failing.
	AssumeNoEviction bool
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{Prefix: "loyalty", DedupeDays: 1, DedupeParts: 1 << 20, LogKeep: 100_000, BatchSize: 256,
		MaxAhead: 25 * time.Hour, WaitTimeout: 100 * time.Millisecond}
}

// Index is the Redis score-histogram index. Safe for concurrent use.
type Index struct {
	rdb redis.UniversalClient
	cfg Config
	p   string

	mu    sync.Mutex
	gen   string       // the generation last seen
	clock int64        // the index's clock last seen (unix seconds)
	hot   map[int]bool // score buckets above hotBuckets a write needed
}

// New returns the index over rdb (the primary: the index writes).
func New(rdb redis.UniversalClient, cfg Config) *Index {
	d := DefaultConfig()
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = d.BatchSize
	}
	if cfg.MaxAhead <= 0 {
		cfg.MaxAhead = d.MaxAhead
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = d.WaitTimeout
	}
	return &Index{rdb: rdb, cfg: cfg, p: "{" + cfg.Prefix + "}", gen: "1", hot: map[int]bool{}}
}

// Check verifies the server settings the index relies on: maxmemory-policy
// noeviction (a full Redis must refuse writes, never drop keys), and
// hash-max-listpack-entries of at least 128 (balance hashes hold up to 128
// customers and must stay listpacks for the memory figures). Where CONFIG
// GET is not allowed, Config.AssumeNoEviction acknowledges the policy: Check
// then returns a warning (non-nil warn) instead of an error.
func (x *Index) Check(ctx context.Context) (warn, err error) {
	v, err := x.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err == nil {
		var w map[string]string
		if w, err = x.rdb.ConfigGet(ctx, "hash-max-listpack-entries").Result(); err == nil {
			v["hash-max-listpack-entries"] = w["hash-max-listpack-entries"]
		}
	}
	if err != nil {
		var rerr redis.Error
		if !errors.As(err, &rerr) {
			return nil, unavailable("check redis config", err)
		}
		if redis.IsAuthError(err) {
			return nil, fmt.Errorf("redis refused the credentials (%v): check redis.password (LOYALTY_REDIS_PASSWORD)", err)
		}
		if !x.cfg.AssumeNoEviction {
			return nil, fmt.Errorf("%w: CONFIG GET is not allowed (%v), so maxmemory-policy can't be checked: make sure it is noeviction and set redis.assume_noeviction (LOYALTY_REDIS_ASSUME_NOEVICTION=true)", ErrEvicting, err)
		}
		return fmt.Errorf("redis maxmemory-policy and hash-max-listpack-entries not checked (CONFIG GET: %v); redis.assume_noeviction says the policy is noeviction", err), nil
	}
	if p := v["maxmemory-policy"]; p != "noeviction" {
		return nil, fmt.Errorf("%w: redis maxmemory-policy is %q: set it to noeviction (redis.conf `maxmemory-policy noeviction`, or CONFIG SET maxmemory-policy noeviction); a full Redis then refuses writes, which are retried, instead of dropping remembered order ids and balances", ErrEvicting, p)
	}
	if n, _ := strconv.Atoi(v["hash-max-listpack-entries"]); n < balancesPerHash {
		return nil, fmt.Errorf("redis hash-max-listpack-entries is %d: set it to at least %d (balances are kept %d per hash)", n, balancesPerHash, balancesPerHash)
	}
	return nil, nil
}

// balancesPerHash is how many customers' balances share one hash:
// customer id >> balanceShift.
const (
	balanceShift    = 7
	balancesPerHash = 1 << balanceShift
)

// Ping checks the connection.
func (x *Index) Ping(ctx context.Context) error {
	return unavailable("ping redis", x.rdb.Ping(ctx).Err())
}

// Part returns the dedupe hash a change id is remembered in.
func (x *Index) part(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32() % uint32(x.cfg.DedupeParts)
}

// idField returns the field a change id is remembered under in its dedupe
// hash: 80 bits of its SHA-256, with the part's bits (DedupeParts of them,
// from another hash) about 100 bits at the default: no two ids in the
// window share both while there are fewer than ~2^40 of them.
func idField(id string) string {
	sum := sha256.Sum256([]byte(id))
	return string(sum[:idFieldBytes])
}

const idFieldBytes = 10

// packDigest returns digest d as the remembered record stores it (see
// lua/prelude.lua, packrec): a zero byte and the 8 bytes of Seal's 16 hex
// digits, or, for any other digest, len(d)+1 as a varint and d.
func packDigest(d string) string {
	if b, err := hex.DecodeString(d); err == nil && len(b) == 8 && hex.EncodeToString(b) == d {
		return "\x00" + string(b)
	}
	return string(binary.AppendUvarint(nil, uint64(len(d)+1))) + d
}

// idKeys appends to keys the remembered-id hashes of dedupe part a script
// may search when the index's clock was last seen on day (see lua/apply.lua,
// iddays): the window's days up to the latest a change may be ahead, with one
// more on each side for a day turning since the clock was seen.
func (x *Index) idKeys(keys []string, day int64, part string) []string {
	last := day + (int64(x.cfg.MaxAhead/time.Second)+daySeconds-1)/daySeconds
	for d := day - int64(x.cfg.DedupeDays) - 1; d <= last+1; d++ {
		keys = append(keys, x.idsKey(d, part))
	}
	return keys
}

// Apply applies changes in order, atomically each, idempotently by change
// id. Outcome i belongs to changes[i]; fewer outcomes than changes means
// the last one has NeedLedger set and the rest were not attempted (see
// ledger.Outcome). An error means nothing after it is known to have applied.
// Safe to retry: a change applied before is answered as a replay.
func (x *Index) Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error) {
	out := make([]ledger.Outcome, 0, len(changes))
	for start := 0; start < len(changes); start += x.cfg.BatchSize {
		batch := changes[start:min(len(changes), start+x.cfg.BatchSize)]
		gen, day, hot := x.view()
		g := x.genBoard(gen)
		keys := append([]string{x.seqKey(), x.logKey(), x.shippedKey(), x.clockKey(), x.aheadKey(), x.formatKey()}, x.histKeys(gen, hot)...)
		args := make([]any, 0, 2+14*len(batch))
		seasons := map[string]bool{}
		args = append(args, x.cfg.DedupeDays, int64(x.cfg.MaxAhead/time.Second))
		for i := range batch {
			c := &batch[i]
			js, err := json.Marshal(c)
			if err != nil {
				return out, fmt.Errorf("encode change %s: %w", c.ID, err)
			}
			bk := strconv.FormatUint(c.CustomerID>>balanceShift, 10)
			part := strconv.FormatUint(uint64(x.part(c.ID)), 10)
			keys = x.idKeys(append(keys, g.balanceKey(c.CustomerID>>balanceShift)), day, part)
			t, mode, mark := c.OccurredAt.Unix(), "f", int64(-1)
			if !c.TimeBoundsApplication() {
				t = 0
			}
			if c.Cause == ledger.CauseManual {
				mode = "s"
			}
			if c.Checked {
				mark = int64(c.CheckedMark)
			}
			var sexp int64
			if c.Season != "" {
				sexp = x.cfg.Seasons.ExpiresAt(c.OccurredAt, x.cfg.SeasonsKept).Unix()
				sb := g.season(c.Season)
				keys = append(keys, sb.balanceKey(c.CustomerID>>balanceShift))
				if !seasons[c.Season] {
					seasons[c.Season] = true
					keys = append(keys, x.boardKeys(sb, hot)...)
				}
			}
			args = append(args, c.ID, idField(c.ID), c.Digest, packDigest(c.Digest), c.CustomerID, bk, c.Points, t, mode, part, mark, js, c.Season, sexp)
		}
		res, err := x.run(ctx, applyScript, keys, true, args...)
		if err != nil {
			return out, x.writeErr("apply changes", err)
		}
		if len(res) == 0 {
			return out, fmt.Errorf("apply changes: empty reply")
		}
		f := strings.Fields(replyString(res, 0))
		if len(f) != 3 || f[0] != "H" {
			return out, fmt.Errorf("apply changes: unexpected reply header %q", replyString(res, 0))
		}
		x.learn(f[1], f[2])
		for i, r := range res[1:] {
			o, err := parseOutcome(batch[i], fmt.Sprint(r))
			if err != nil {
				return out, err
			}
			out = append(out, o)
			if o.NeedLedger {
				return out, nil
			}
		}
		if len(res)-1 != len(batch) {
			return out, fmt.Errorf("apply changes: %d outcomes for %d changes", len(res)-1, len(batch))
		}
	}
	return out, nil
}

// Recall returns what the index remembers of these change ids: for each id
// it remembers, its whole entry while the change log still holds it, else an
// entry with only the change's ID, Digest and requested Points, and the
// applied Seq, Delta, Balance and RecordedAt (CustomerID 0). Ids it does not
// remember (never applied, or applied before its memory window: ask the
// ledger) are absent. A read, not a snapshot.
func (x *Index) Recall(ctx context.Context, ids []string) (map[string]ledger.Entry, error) {
	out := map[string]ledger.Entry{}
	if len(ids) == 0 {
		return out, nil
	}
	_, day, _ := x.view()
	args := make([]any, 0, 2+3*len(ids))
	args = append(args, x.cfg.DedupeDays, int64(x.cfg.MaxAhead/time.Second))
	keys := []string{x.clockKey(), x.aheadKey(), x.formatKey(), x.seqKey()}
	for _, id := range ids {
		part := strconv.FormatUint(uint64(x.part(id)), 10)
		keys = x.idKeys(keys, day, part)
		args = append(args, idField(id), id, part)
	}
	res, err := x.run(ctx, recallScript, keys, false, args...)
	if err != nil {
		return nil, unavailable("recall change ids", err)
	}
	for i, id := range ids {
		r, _ := res[i].([]any)
		if len(r) != 2 {
			continue
		}
		f := strings.Fields(replyString(r, 1))
		if len(f) != 5 {
			return nil, fmt.Errorf("recall change %s: record %q", id, replyString(r, 1))
		}
		seq, e1 := strconv.ParseUint(f[0], 10, 64)
		delta, e2 := strconv.ParseInt(f[1], 10, 64)
		bal, e3 := strconv.ParseInt(f[2], 10, 64)
		ts, e4 := strconv.ParseInt(f[3], 10, 64)
		pts, e5 := strconv.ParseInt(f[4], 10, 64)
		if err := errors.Join(e1, e2, e3, e4, e5); err != nil {
			return nil, fmt.Errorf("recall change %s: record %q: %w", id, replyString(r, 1), err)
		}
		out[id] = ledger.Entry{Change: ledger.Change{ID: id, Digest: replyString(r, 0), Points: pts}, Seq: seq, Delta: delta, Balance: bal,
			RecordedAt: time.Unix(ts, 0).UTC()}
	}
	pipe := x.rdb.Pipeline()
	// The whole change, from the log while it still holds the entry.
	full := make(map[string]*redis.XMessageSliceCmd, len(out))
	for id, e := range out {
		full[id] = pipe.XRange(ctx, x.logKey(), streamID(e.Seq), streamID(e.Seq))
	}
	if len(full) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable("recall change ids", err)
		}
	}
	for id, c := range full {
		if msgs := c.Val(); len(msgs) == 1 {
			if e, err := decodeEntry(msgs[0].ID, msgs[0].Values); err == nil && e.ID == id {
				out[id] = e
			}
		}
	}
	return out, nil
}

// writeErr classifies a failed write: not confirmed by replicas, or Redis
// unreachable or refusing (out of memory, read-only replica).
func (x *Index) writeErr(op string, err error) error {
	if errors.Is(err, ledger.ErrNotConfirmed) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return unavailable(op, err)
}

func parseOutcome(c ledger.Change, r string) (ledger.Outcome, error) {
	o := ledger.Outcome{Entry: ledger.Entry{Change: c}}
	f := strings.Fields(r)
	if len(f) == 0 {
		return o, fmt.Errorf("apply change %s: empty reply", c.ID)
	}
	switch f[0] {
	case "E":
		o.Err = errors.New(strings.TrimPrefix(r, "E "))
		return o, nil
	case "I":
		bal, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil || len(f) != 2 {
			return o, fmt.Errorf("apply change %s: unexpected reply %q", c.ID, r)
		}
		o.Balance = bal
		o.Err = fmt.Errorf("change %s: %w: the balance is %d, the deduction %d", c.ID, ledger.ErrInsufficient, bal, -c.Points)
		return o, nil
	case "L":
		mark, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil || len(f) != 2 {
			return o, fmt.Errorf("apply change %s: unexpected reply %q", c.ID, r)
		}
		o.NeedLedger, o.Mark = true, mark
		return o, nil
	}
	if len(f) != 5 && (len(f) != 6 || f[0] == "N") {
		return o, fmt.Errorf("apply change %s: unexpected reply %q", c.ID, r)
	}
	seq, e1 := strconv.ParseUint(f[1], 10, 64)
	delta, e2 := strconv.ParseInt(f[2], 10, 64)
	bal, e3 := strconv.ParseInt(f[3], 10, 64)
	ts, e4 := strconv.ParseInt(f[4], 10, 64)
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return o, fmt.Errorf("apply change %s: reply %q: %w", c.ID, r, err)
	}
	o.Seq, o.Delta, o.Balance, o.RecordedAt = seq, delta, bal, time.Unix(ts, 0).UTC()
	switch f[0] {
	case "N":
	case "R":
		o.Replayed = true
	case "C":
		o.Err = fmt.Errorf("change %s: %w", c.ID, ledger.ErrConflict)
	default:
		return o, fmt.Errorf("apply change %s: unexpected reply %q", c.ID, r)
	}
	return o, nil
}

// Balance returns a customer's balance in the current generation.
func (x *Index) Balance(ctx context.Context, id uint64) (int64, error) {
	gen, err := x.Generation(ctx)
	if err != nil {
		return 0, err
	}
	v, err := x.rdb.HGet(ctx, x.genBoardOf(gen).balanceKey(id>>balanceShift), strconv.FormatUint(id, 10)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, unavailable("read balance", err)
}

// SeasonBalance returns a customer's balance on the board of season name in
// the current generation (0 when absent or expired).
func (x *Index) SeasonBalance(ctx context.Context, name string, id uint64) (int64, error) {
	gen, err := x.Generation(ctx)
	if err != nil {
		return 0, err
	}
	k := x.genBoardOf(gen).season(name).balanceKey(id >> balanceShift)
	v, err := x.rdb.HGet(ctx, k, strconv.FormatUint(id, 10)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, unavailable("read season balance", err)
}

// Generation returns the current generation of the index (1 until the first
// rebuild).
func (x *Index) Generation(ctx context.Context) (uint64, error) {
	v, err := x.rdb.Get(ctx, x.genKey()).Uint64()
	if errors.Is(err, redis.Nil) {
		return 1, nil
	}
	return v, unavailable("read generation", err)
}

// Rank returns, from the Redis histogram, how many customers have strictly
// more than points, and how many are ranked.
func (x *Index) Rank(ctx context.Context, points int64) (above, total int64, err error) {
	if points < 0 || points > histogram.MaxPoints {
		return 0, 0, fmt.Errorf("rank: points %d out of range", points)
	}
	gen, _, _ := x.view()
	g := x.genBoard(gen)
	v, err := x.run(ctx, rankScript, []string{g.h1Key(), g.rankedKey(), g.h2Key(int(points/histogram.BucketWidth + 1))}, false, points)
	if err != nil {
		return 0, 0, unavailable("rank", err)
	}
	atMost, e1 := strconv.ParseInt(replyString(v, 1), 10, 64)
	total, e2 := strconv.ParseInt(replyString(v, 2), 10, 64)
	if err := errors.Join(e1, e2); err != nil {
		return 0, 0, fmt.Errorf("rank: reply %v: %w", v, err)
	}
	return total - atMost, total, nil
}

// Seq returns the seq of the last change applied (0 if none).
func (x *Index) Seq(ctx context.Context) (uint64, error) {
	v, err := x.rdb.Get(ctx, x.seqKey()).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, unavailable("read seq", err)
}

// Partial returns customer id's place and the top n from the Redis
// histogram and top list, in one snapshot: what a process can answer while
// its in-memory board loads. Ties in Top are by customer id ascending.
func (x *Index) Partial(ctx context.Context, id uint64, n int) (histogram.Place, error) {
	gen, _, hot := x.view()
	v, err := x.run(ctx, partialScript, append(x.histKeys(gen, hot), x.genBoardOf(mustGen(gen)).balanceKey(id>>balanceShift)), false,
		id, id>>balanceShift)
	if err != nil {
		return histogram.Place{}, unavailable("partial dashboard", err)
	}
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(replyString(v, i), 10, 64)
		return n
	}
	p := histogram.Place{Points: num(1), Ranked: num(3)}
	p.Above = p.Ranked - num(2)
	min := num(4)
	for i := 5; i+1 < len(v); i += 2 {
		c, e1 := strconv.ParseUint(replyString(v, i), 10, 64)
		s, e2 := strconv.ParseFloat(replyString(v, i+1), 64)
		if err := errors.Join(e1, e2); err != nil {
			return histogram.Place{}, fmt.Errorf("partial dashboard: top list entry %q %q: %w", replyString(v, i), replyString(v, i+1), err)
		}
		p.Top = append(p.Top, histogram.TopEntry{CustomerID: c, Points: int64(s)})
	}
	slices.SortFunc(p.Top, func(a, b histogram.TopEntry) int {
		if a.Points != b.Points {
			return cmp.Compare(b.Points, a.Points)
		}
		return cmp.Compare(a.CustomerID, b.CustomerID)
	})
	p.TopFull = min <= 1 || len(p.Top) >= n
	if len(p.Top) > n {
		p.Top = p.Top[:n]
	}
	return p, nil
}

func mustGen(gen string) uint64 {
	g, _ := strconv.ParseUint(gen, 10, 64)
	return g
}
