package chledger

import (
	"context"
	"sync"
	"time"

	"github.com/xyz/loyalty/ledger"
)

// RedialWait is how long Lazy answers a failed connect's error before it
// tries to connect again.
const RedialWait = 2 * time.Second

// Lazy is the ledger connected on first use and again after a failed
// connect (at most every RedialWait), so a service starts and serves while
// ClickHouse is down; once connected it keeps the connection (the driver's
// pool redials by itself). Safe for concurrent use.
type Lazy struct {
	cfg     Config
	observe func(op string, start time.Time, err error)
	open    func(ctx context.Context, cfg Config) (*Ledger, error)
	now     func() time.Time

	mu   sync.Mutex
	l    *Ledger
	last time.Time // of the last failed connect
	err  error     // of the last failed connect
}

// NewLazy returns a ledger that connects with cfg (Open) on first use.
// observe, if not nil, is called after each Lookup, Append and Ping with
// the operation's name ("lookup", "append", "ping"), its start and its
// error: the process's latency and error metrics.
func NewLazy(cfg Config, observe func(op string, start time.Time, err error)) *Lazy {
	if observe == nil {
		observe = func(string, time.Time, error) {}
	}
	return &Lazy{cfg: cfg, observe: observe, open: Open, now: time.Now}
}

// Get returns the connected ledger, connecting if need be. Within
// RedialWait of a failed connect it returns that connect's error without
// trying again.
func (z *Lazy) Get(ctx context.Context) (*Ledger, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.l != nil {
		return z.l, nil
	}
	if z.err != nil && z.now().Sub(z.last) < RedialWait {
		return nil, z.err
	}
	l, err := z.open(ctx, z.cfg)
	if err != nil {
		z.last, z.err = z.now(), err
		return nil, err
	}
	z.l, z.err = l, nil
	return l, nil
}

// Lookup finds changes in the ledger (Ledger.Lookup).
func (z *Lazy) Lookup(ctx context.Context, ids []string) (found map[string]ledger.Entry, err error) {
	defer func(start time.Time) { z.observe("lookup", start, err) }(z.now())
	l, err := z.Get(ctx)
	if err != nil {
		return nil, err
	}
	return l.Lookup(ctx, ids)
}

// Append writes entries to the ledger (Ledger.Append).
func (z *Lazy) Append(ctx context.Context, es []ledger.Entry) (err error) {
	defer func(start time.Time) { z.observe("append", start, err) }(z.now())
	l, err := z.Get(ctx)
	if err != nil {
		return err
	}
	return l.Append(ctx, es)
}

// Ping checks ClickHouse (Ledger.Ping), connecting if need be.
func (z *Lazy) Ping(ctx context.Context) (err error) {
	defer func(start time.Time) { z.observe("ping", start, err) }(z.now())
	l, err := z.Get(ctx)
	if err != nil {
		return err
	}
	return l.Ping(ctx)
}

// HistoryPage reads one page of a customer's history (Ledger.HistoryPage);
// a ClickHouse that can't be reached is ErrUnavailable.
func (z *Lazy) HistoryPage(ctx context.Context, customerID, before uint64, limit int) ([]ledger.Entry, error) {
	l, err := z.Get(ctx)
	if err != nil {
		return nil, err
	}
	return l.HistoryPage(ctx, customerID, before, limit)
}

// Close closes the connection if there is one.
func (z *Lazy) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.l == nil {
		return nil
	}
	return z.l.Close()
}
