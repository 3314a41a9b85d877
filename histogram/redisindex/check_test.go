package redisindex_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/testenv"
)

// TestCheckEviction: a Redis that may evict keys is refused, naming the
// setting; where CONFIG GET is not allowed, the index refuses too unless
// AssumeNoEviction vouches for the policy (then it warns).
func TestCheckEviction(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	srv := testenv.Redis(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	x := redisindex.New(admin, redisindex.DefaultConfig())
	if warn, err := x.Check(ctx); err != nil || warn != nil {
		t.Fatalf("noeviction: warn %v, err %v", warn, err)
	}
	for _, policy := range []string{"volatile-lru", "allkeys-lru", "volatile-ttl"} {
		if err := admin.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
			t.Fatal(err)
		}
		_, err := x.Check(ctx)
		if !errors.Is(err, redisindex.ErrEvicting) || !strings.Contains(err.Error(), "maxmemory-policy is \""+policy+"\"") ||
			!strings.Contains(err.Error(), "noeviction") {
			t.Fatalf("%s: %v, want ErrEvicting naming the setting", policy, err)
		}
	}
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}

	// A user that may not run CONFIG, as on some managed services.
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">secret-pw", "~*", "&*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	app := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "app", Password: "secret-pw"})
	t.Cleanup(func() { app.Close() })
	_, err := redisindex.New(app, redisindex.DefaultConfig()).Check(ctx)
	if !errors.Is(err, redisindex.ErrEvicting) || !strings.Contains(err.Error(), "redis.assume_noeviction") {
		t.Fatalf("CONFIG not allowed: %v, want ErrEvicting naming redis.assume_noeviction", err)
	}
	cfg := redisindex.DefaultConfig()
	cfg.AssumeNoEviction = true
	warn, err := redisindex.New(app, cfg).Check(ctx)
	if err != nil || warn == nil || !strings.Contains(warn.Error(), "not checked") {
		t.Fatalf("CONFIG not allowed, assumed noeviction: warn %v, err %v; want a warning", warn, err)
	}

	// Refused credentials are an error naming the password setting, also
	// where assume_noeviction would excuse a refused CONFIG GET.
	wrong := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "app", Password: "not-the-pw", MaxRetries: -1})
	t.Cleanup(func() { wrong.Close() })
	for _, assume := range []bool{false, true} {
		cfg.AssumeNoEviction = assume
		warn, err := redisindex.New(wrong, cfg).Check(ctx)
		if err == nil || errors.Is(err, redisindex.ErrEvicting) || !strings.Contains(err.Error(), "redis.password") ||
			!strings.Contains(err.Error(), "WRONGPASS") {
			t.Fatalf("wrong password, assume_noeviction=%v: warn %v, err %v; want an error naming redis.password", assume, warn, err)
		}
	}
}

// TestGuard: a Redis switched to an evicting policy while the service runs
// is reported until switched back; Redis going away changes nothing.
func TestGuard(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	g := redisindex.NewGuard(redisindex.New(rdb, redisindex.DefaultConfig()), time.Hour, quiet)
	g.CheckNow(ctx)
	if err := g.Err(); err != nil {
		t.Fatalf("noeviction: %v", err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	g.CheckNow(ctx)
	if err := g.Err(); !errors.Is(err, redisindex.ErrEvicting) {
		t.Fatalf("allkeys-lru: %v, want ErrEvicting", err)
	}
	srv.Stop()
	g.CheckNow(ctx)
	if err := g.Err(); !errors.Is(err, redisindex.ErrEvicting) {
		t.Fatalf("Redis gone: %v, want the last verdict kept", err)
	}
	srv.Start(t)
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	g.CheckNow(ctx)
	if err := g.Err(); err != nil {
		t.Fatalf("fixed: %v", err)
	}
}
