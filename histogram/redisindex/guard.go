package redisindex

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Guard re-checks the Redis settings the index relies on (Index.Check)
// every interval while a service runs, so a Redis switched to an evicting
// maxmemory-policy (by hand, or by a failover to a server configured
// otherwise) is noticed: Err reports it until it is fixed. An unreachable
// Redis changes nothing (that is an outage, not a setting). Safe for
// concurrent use.
type Guard struct {
	x     *Index
	every time.Duration
	log   *slog.Logger

	mu  sync.Mutex
	err error
}

// NewGuard returns a guard of x checking every interval.
func NewGuard(x *Index, every time.Duration, log *slog.Logger) *Guard {
	return &Guard{x: x, every: every, log: log}
}

// Err returns the last definite verdict: nil, or why Redis must not be
// written (ErrEvicting).
func (g *Guard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Run checks until ctx ends.
func (g *Guard) Run(ctx context.Context) {
	t := time.NewTicker(g.every)
	defer t.Stop()
	for {
		g.check(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (g *Guard) check(ctx context.Context) {
	_, err := g.x.Check(ctx)
	if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err != nil && g.err == nil:
		g.log.Error("redis settings unsafe: not ready until fixed", "err", err)
	case err == nil && g.err != nil:
		g.log.Info("redis settings fixed", "was", g.err)
	}
	g.err = err
}
