package redisindex

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetClockAhead moves the index's clock d ahead of the real time (it never
// goes back), as if Redis's clock ran ahead, or days had passed.
func (x *Index) SetClockAhead(ctx context.Context, d time.Duration) error {
	to := time.Now().Add(d).Unix()
	cur, err := x.rdb.Get(ctx, x.p+":clock").Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if to <= cur {
		return nil
	}
	return x.rdb.Set(ctx, x.p+":clock", to, 0).Err()
}

// Scripts returns every script of the index by name.
func Scripts() map[string]*redis.Script {
	return map[string]*redis.Script{"apply": applyScript, "set": setScript, "switch": switchScript,
		"remember": rememberScript, "recall": recallScript, "format": formatScript, "rank": rankScript, "partial": partialScript, "lease": leaseScript}
}

// CheckNow runs one check of the guard.
func (g *Guard) CheckNow(ctx context.Context) { g.check(ctx) }
