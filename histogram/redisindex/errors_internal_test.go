package redisindex

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

// TestUnavailableClassifies: the adapter's one translation of go-redis's
// errors marks ErrUnavailable only what may pass if sent again (Redis
// unreachable, timed out, loading, read-only after a failover, out of
// memory); a reply Redis gives about the request itself (a script error, a
// wrong type) or a reply that makes no sense is a fault of no class. Either
// way the driver's text is kept and its types stay out of the chain.
func TestUnavailableClassifies(t *testing.T) {
	ctx := testenv.Context(t)
	primary := testenv.Redis(t)
	replica := testenv.RedisReplica(t, primary)
	stopped := testenv.Redis(t)
	stopped.Stop()
	client := func(addr string) *redis.Client {
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	rdb, ro, gone := client(primary.Addr), client(replica.Addr), client(stopped.Addr)
	closed := client(primary.Addr)
	closed.Close()
	if err := rdb.Set(ctx, "str", "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	timedOut, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-timedOut.Done()

	cases := []struct {
		name    string
		err     func() error
		unavail bool
	}{
		{"refused connection", func() error { return gone.Ping(ctx).Err() }, true},
		{"closed client", func() error { return closed.Ping(ctx).Err() }, true},
		{"deadline", func() error { return rdb.Ping(timedOut).Err() }, true},
		{"read-only replica", func() error { return ro.Set(ctx, "k", 1, 0).Err() }, true},
		{"read-only replica in a script", func() error { return ro.Eval(ctx, "return redis.call('SET', KEYS[1], 1)", []string{"k"}).Err() }, true},
		{"wrong type", func() error { return rdb.HGet(ctx, "str", "f").Err() }, false},
		{"script error", func() error { return rdb.Eval(ctx, "return 1 + nil", nil).Err() }, false},
		{"bad number", func() error { _, err := rdb.Get(ctx, "str").Uint64(); return err }, false},
		{"unexpected reply type", func() error { _, err := rdb.Eval(ctx, "return 'x'", nil).Int(); return err }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := c.err()
			if raw == nil {
				t.Fatal("no error")
			}
			err := unavailable("read thing", raw)
			if errors.Is(err, ErrUnavailable) != c.unavail || errors.Is(err, ledger.ErrUnavailable) != c.unavail {
				t.Errorf("unavailable(%v) = %v: ErrUnavailable %v, want %v", raw, err, errors.Is(err, ErrUnavailable), c.unavail)
			}
			var re redis.Error
			if !strings.HasPrefix(err.Error(), "read thing: ") || !strings.Contains(err.Error(), raw.Error()) || errors.As(err, &re) {
				t.Errorf("unavailable(%v) = %q: want the op, the driver's text, and no driver type in the chain", raw, err)
			}
		})
	}
	if unavailable("op", nil) != nil {
		t.Error("unavailable(nil) != nil")
	}
}

// TestApplyFaultIsNotAnOutage: a change the index can't encode (a time
// JSON can't hold) fails Apply with an error of no class, so no caller
// retries it as an outage; nothing is applied.
func TestApplyFaultIsNotAnOutage(t *testing.T) {
	ctx := testenv.Context(t)
	rdb := redis.NewClient(&redis.Options{Addr: testenv.SharedRedis(t).Addr})
	t.Cleanup(func() { rdb.Close() })
	cfg := DefaultConfig()
	cfg.Prefix = t.Name()
	x := New(rdb, cfg)
	c := ledger.Change{ID: "far", CustomerID: 1, Points: 5, Cause: ledger.CauseManual, OccurredAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.Seal()
	out, err := x.Apply(ctx, []ledger.Change{c})
	if err == nil || len(out) != 0 || errors.Is(err, ledger.ErrUnavailable) || ledger.Retryable(err) {
		t.Fatalf("Apply of a change JSON can't encode = %v, %v; want a fault, not an outage", out, err)
	}
	if seq, err := x.Seq(ctx); err != nil || seq != 0 {
		t.Fatalf("seq %d, %v after the failed Apply; want 0", seq, err)
	}
}
