package histogram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/ledger"
)

// ErrUnavailable wraps every failure to reach Redis.
var ErrUnavailable = errors.New("redis unavailable")

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
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{Prefix: "loyalty", DedupeDays: 1, DedupeParts: 1 << 20, LogKeep: 100_000, BatchSize: 256}
}

// Index is the Redis score-histogram index. Safe for concurrent use.
type Index struct {
	rdb  redis.UniversalClient
	cfg  Config
	keys []string
	p    string
}

// New returns the index over rdb (the primary: the index writes).
func New(rdb redis.UniversalClient, cfg Config) *Index {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	p := "{" + cfg.Prefix + "}"
	return &Index{rdb: rdb, cfg: cfg, keys: []string{p}, p: p}
}

func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
}

// Check verifies the server's encoding limits the memory figures rely on:
// balance hashes hold up to 128 customers and must stay listpacks.
func (x *Index) Check(ctx context.Context) error {
	v, err := x.rdb.ConfigGet(ctx, "hash-max-listpack-entries").Result()
	if err != nil {
		return unavailable("check redis config", err)
	}
	if n, _ := strconv.Atoi(v["hash-max-listpack-entries"]); n < 128 {
		return fmt.Errorf("redis hash-max-listpack-entries is %d: set it to at least 128 (balances are kept 128 per hash)", n)
	}
	return nil
}

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

// Apply applies changes in order, atomically each, idempotently by change id
// (within DedupeDays; see ingest for older ids). The outcome i belongs to
// changes[i]. An error means nothing after it is known to have applied.
func (x *Index) Apply(ctx context.Context, changes []ledger.Change) ([]ledger.Outcome, error) {
	out := make([]ledger.Outcome, 0, len(changes))
	for start := 0; start < len(changes); start += x.cfg.BatchSize {
		batch := changes[start:min(len(changes), start+x.cfg.BatchSize)]
		args := make([]any, 0, 1+8*len(batch))
		args = append(args, x.cfg.DedupeDays)
		for i := range batch {
			c := &batch[i]
			js, err := json.Marshal(c)
			if err != nil {
				return out, fmt.Errorf("encode change %s: %w", c.ID, err)
			}
			args = append(args, c.ID, c.Digest, c.CustomerID, c.CustomerID>>7, c.Points,
				c.OccurredAt.Unix()/86400, x.part(c.ID), js)
		}
		res, err := applyScript.Run(ctx, x.rdb, x.keys, args...).StringSlice()
		if err != nil {
			return out, unavailable("apply changes", err)
		}
		for i, r := range res {
			o, err := parseOutcome(batch[i], r)
			if err != nil {
				return out, err
			}
			out = append(out, o)
		}
	}
	return out, nil
}

func parseOutcome(c ledger.Change, r string) (ledger.Outcome, error) {
	o := ledger.Outcome{Entry: ledger.Entry{Change: c}}
	if strings.HasPrefix(r, "E ") {
		o.Err = errors.New(r[2:])
		return o, nil
	}
	f := strings.Fields(r)
	if len(f) != 5 {
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
	case "R":
		o.Replayed = true
	case "C":
		o.Err = fmt.Errorf("change %s: %w", c.ID, ledger.ErrConflict)
	}
	return o, nil
}

// Balance returns a customer's balance in the current generation.
func (x *Index) Balance(ctx context.Context, id uint64) (int64, error) {
	gen, err := x.Generation(ctx)
	if err != nil {
		return 0, err
	}
	v, err := x.rdb.HGet(ctx, x.balKey(gen, id>>7), strconv.FormatUint(id, 10)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, unavailable("read balance", err)
}

func (x *Index) balKey(gen, bucket uint64) string {
	return x.p + ":g" + strconv.FormatUint(gen, 10) + ":b:" + strconv.FormatUint(bucket, 10)
}

// Generation returns the current generation of the index (1 until the first
// rebuild).
func (x *Index) Generation(ctx context.Context) (uint64, error) {
	v, err := x.rdb.Get(ctx, x.p+":gen").Uint64()
	if errors.Is(err, redis.Nil) {
		return 1, nil
	}
	return v, unavailable("read generation", err)
}

// Rank returns, from the Redis histogram, how many customers have strictly
// more than points, and how many are ranked.
func (x *Index) Rank(ctx context.Context, points int64) (above, total int64, err error) {
	if points < 0 || points > MaxPoints {
		return 0, 0, fmt.Errorf("rank: points %d out of range", points)
	}
	v, err := rankScript.Run(ctx, x.rdb, x.keys, points).Slice()
	if err != nil {
		return 0, 0, unavailable("rank", err)
	}
	atMost, total := v[0].(int64), v[1].(int64)
	return total - atMost, total, nil
}

// Seq returns the seq of the last change applied (0 if none).
func (x *Index) Seq(ctx context.Context) (uint64, error) {
	v, err := x.rdb.Get(ctx, x.p+":seq").Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, unavailable("read seq", err)
}
