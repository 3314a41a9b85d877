package redisindex

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/internal/retry"
	"github.com/xyz/loyalty/ledger"
)

// daySeconds is the length of a dedupe day on the index's clock.
const daySeconds = 86400

// logCatchUp is the most change-log entries the generation switch applies
// inside its own script; with more, the rebuild catches up first.
const logCatchUp = 1000

//go:embed lua/*.lua
var luaFiles embed.FS

func lua(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name)
	if err != nil {
		panic(err) // embedded at build time: a missing file is a build error
	}
	return string(b)
}

// The index's scripts. Each but lease starts with lua/prelude.lua, receives
// every key it touches in KEYS ({P}:gen first) and the constants in
// consts as ARGV[1..5].
var (
	applyScript    = redis.NewScript(lua("prelude.lua") + lua("apply.lua"))
	setScript      = redis.NewScript(lua("prelude.lua") + lua("set.lua"))
	switchScript   = redis.NewScript(lua("prelude.lua") + lua("switch.lua"))
	rememberScript = redis.NewScript(lua("prelude.lua") + lua("remember.lua"))
	recallScript   = redis.NewScript(lua("prelude.lua") + lua("recall.lua"))
	formatScript   = redis.NewScript(lua("prelude.lua") + lua("format.lua"))
	rankScript     = redis.NewScript(lua("prelude.lua") + lua("rank.lua"))
	partialScript  = redis.NewScript(lua("prelude.lua") + lua("partial.lua"))
	leaseScript    = redis.NewScript(lua("lease.lua"))
)

// consts are the numbers Go and Lua must agree on, passed to every prelude
// script as ARGV[1..5].
var consts = []any{histogram.BucketWidth, histogram.Buckets, histogram.MaxPoints, daySeconds, TopCap}

// TopCap is the most customers the top list in Redis holds (see
// lua/prelude.lua, setbals): enough for the largest top N a dashboard asks.
const TopCap = 1000

// maxRetries bounds how often a script is called again with the keys it
// asked for (a rebuild switching generations, a day turning, a customer in a
// bucket not passed before).
const maxRetries = 4

// run runs a prelude script with keys (after {P}:gen) and args (after the
// constants), passing the keys the script asks for until it has them all.
// With wait, the final call is followed on the same connection by WAIT for
// Config.MinReplicasAck replicas. It returns the reply.
func (x *Index) run(ctx context.Context, s *redis.Script, keys []string, wait bool, args ...any) ([]any, error) {
	ks := make([]string, 0, 1+len(keys))
	ks = append(append(ks, x.genKey()), keys...)
	argv := make([]any, 0, len(consts)+len(args))
	argv = append(append(argv, consts...), args...)
	var v []any
	err := retry.Do(ctx, retry.Policy{Attempts: maxRetries + 1, Retryable: lacksKeys}, func() (err error) {
		if v, err = x.call(ctx, s, ks, wait, argv); err != nil || len(v) < 3 || v[0] != "RETRY" {
			return err
		}
		gen, _ := v[1].(string)
		clock, _ := v[2].(string)
		x.learn(gen, clock)
		for _, k := range v[3:] {
			if k, ok := k.(string); ok {
				ks = append(ks, k)
				x.learnKey(k)
			}
		}
		return missingKeys(fmt.Sprint(v[3:]))
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// missingKeys is a script's RETRY reply: the keys it asked for, to be
// passed in the next call.
type missingKeys string

func (m missingKeys) Error() string { return "script still lacks keys " + string(m) }

func lacksKeys(err error) bool {
	var m missingKeys
	return errors.As(err, &m)
}

// call runs s once; with wait (and MinReplicasAck > 0), WAIT follows it in
// the same pipeline, so it waits for this call's writes.
func (x *Index) call(ctx context.Context, s *redis.Script, keys []string, wait bool, argv []any) ([]any, error) {
	if !wait || x.cfg.MinReplicasAck <= 0 {
		return s.Run(ctx, x.rdb, keys, argv...).Slice()
	}
	for tried := false; ; tried = true {
		pipe := x.rdb.Pipeline()
		res := s.EvalSha(ctx, pipe, keys, argv...)
		w := pipe.Do(ctx, "WAIT", x.cfg.MinReplicasAck, x.cfg.WaitTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		v, err := res.Slice()
		if err != nil && !tried && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := s.Load(ctx, x.rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(v) > 0 && v[0] == "RETRY" {
			return v, nil
		}
		n, err := w.Int64()
		if err != nil {
			return nil, fmt.Errorf("%w: WAIT: %v", ledger.ErrNotConfirmed, err)
		}
		if n < int64(x.cfg.MinReplicasAck) {
			return nil, fmt.Errorf("%w: %d of %d replicas confirmed within %s", ledger.ErrNotConfirmed, n, x.cfg.MinReplicasAck, x.cfg.WaitTimeout)
		}
		return v, nil
	}
}

// learn records the generation and clock a script reported.
func (x *Index) learn(gen, clock string) {
	c, err := strconv.ParseInt(clock, 10, 64)
	x.mu.Lock()
	defer x.mu.Unlock()
	if gen != "" && gen != x.gen {
		x.gen = gen
		x.hot = map[int]bool{}
	}
	if err == nil && c > x.clock {
		x.clock = c
	}
}

// learnKey remembers a score bucket whose tree a script asked for, so the
// next calls pass it from the start (the set is bounded).
func (x *Index) learnKey(k string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	prefix := x.genBoard(x.gen).h2Prefix()
	if b, err := strconv.Atoi(strings.TrimPrefix(k, prefix)); err == nil && strings.HasPrefix(k, prefix) && len(x.hot) < maxHot {
		x.hot[b] = true
	}
}

// hotBuckets is how many low score buckets (4096 scores each) every write
// passes; with realistic balances nearly every customer is in them.
const (
	hotBuckets = 32
	maxHot     = 4096
)

// view returns the generation, the clock's day and the extra score buckets
// to pass.
func (x *Index) view() (gen string, day int64, hot []int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	clock := max(x.clock, time.Now().Unix())
	for b := range x.hot {
		hot = append(hot, b)
	}
	return x.gen, clock / daySeconds, hot
}

// histKeys returns the keys of generation gen's histogram: the bucket tree,
// the ranked count, and the trees of the hot buckets.
func (x *Index) histKeys(gen string, hot []int) []string {
	return x.boardKeys(x.genBoard(gen), hot)
}

// boardKeys returns the histogram keys of board g (a generation's all-time
// board, or a season board).
func (x *Index) boardKeys(g board, hot []int) []string {
	ks := make([]string, 0, 4+hotBuckets+len(hot))
	ks = append(ks, g.h1Key(), g.rankedKey(), g.topKey(), g.topMinKey())
	for b := 1; b <= hotBuckets; b++ {
		ks = append(ks, g.h2Key(b))
	}
	for _, b := range hot {
		if b > hotBuckets {
			ks = append(ks, g.h2Key(b))
		}
	}
	return ks
}

func replyString(v []any, i int) string {
	if i >= len(v) {
		return ""
	}
	s, _ := v[i].(string)
	return s
}
