// Package retry calls an operation again, with exponential backoff, while it
// fails for a reason that may pass (a store unreachable): the one retry loop
// of the write side (the ingest run's calls, the ledger shipper, the index's
// script calls).
package retry

import (
	"context"
	"time"
)

// Backoff is the waits between attempts: Initial after the first failure,
// twice as long after each next one, at most Max (0: no cap). The zero value
// never waits. Not safe for concurrent use.
type Backoff struct {
	Initial, Max time.Duration
	next         time.Duration
}

// Next returns the wait after one more failure.
func (b *Backoff) Next() time.Duration {
	d := b.next
	if d == 0 {
		d = b.Initial
	}
	if b.Max > 0 {
		d = min(d, b.Max)
	}
	b.next = d
	if d <= (1<<63-1)/2 {
		b.next = 2 * d
	}
	return d
}

// Reset makes the next wait Initial again (after a success).
func (b *Backoff) Reset() { b.next = 0 }

// Sleep waits d, or until ctx ends: then it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Policy says which failures are retried, how often and how long apart.
type Policy struct {
	// Attempts is the most calls (0 or 1: one call, no retry).
	Attempts int
	// Backoff is the waits between calls.
	Backoff Backoff
	// Retryable reports whether an error may pass if the call is made
	// again; any other error is returned at once.
	Retryable func(error) bool
	// Sleep waits between calls (nil: Sleep); tests inject a clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Do calls fn until it returns nil or an error Retryable rejects, or
// Attempts calls have failed, waiting between calls as Backoff says. It
// returns fn's last error (nil on success), or ctx's error if ctx ended
// while it waited.
func Do(ctx context.Context, p Policy, fn func() error) error {
	sleep := p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	back := p.Backoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= p.Attempts || !p.Retryable(err) {
			return err
		}
		if serr := sleep(ctx, back.Next()); serr != nil {
			return serr
		}
	}
}
