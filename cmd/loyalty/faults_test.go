package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/ledger"
)

// envMu serialises configFrom's use of the process's environment.
var envMu sync.Mutex

// configFrom loads the config the binary would from env's LOYALTY_*
// variables. They are set in the process's environment for the call only
// (tests run in parallel, and every child's environment is made with
// cleanEnv, so none sees them).
func configFrom(t *testing.T, env []string) *Config {
	t.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	var restore []func()
	defer func() {
		for i := len(restore) - 1; i >= 0; i-- {
			restore[i]()
		}
	}()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "LOYALTY_") {
			continue
		}
		old, had := os.LookupEnv(k)
		restore = append(restore, func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
		os.Setenv(k, v)
	}
	cfg, err := load(pflag.NewFlagSet("test", pflag.ContinueOnError))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// inProcess opens the stores the binary would, from the stack's environment.
func (s *stack) inProcess(t *testing.T) *stores {
	t.Helper()
	cfg := configFrom(t, s.env)
	st, err := openStores(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestStoreOutages streams orders while ClickHouse is stopped and Redis is
// killed and restarted: no acknowledged order is lost, none is counted
// twice, and the ledger ends equal to the index.
func TestStoreOutages(t *testing.T) {
	t.Parallel()
	s := newOwnStack(t)
	st := s.inProcess(t)
	ctx := context.Background()
	o := oracle.New()
	next := 0
	applied := 0
	// send applies n new orders, retrying a batch whose outcome is unknown
	// (the store went away mid-call) exactly as a client would.
	send := func(n int) {
		t.Helper()
		batch := make([]ledger.Change, 0, n)
		for i := 0; i < n; i++ {
			next++
			c := ledger.Change{ID: fmt.Sprintf("o-%d", next), CustomerID: uint64(next%97) + 1, Points: int64(next%9) - 1,
				Cause: ledger.CauseOrder, OccurredAt: time.Now().UTC().Truncate(time.Second)}
			c.Seal()
			batch = append(batch, c)
		}
		for attempt := 0; ; attempt++ {
			out, err := st.writer.Apply(ctx, batch)
			if err != nil {
				if attempt > 50 {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for i, c := range batch {
				if out[i].Err != nil {
					t.Fatalf("%s: %v", c.ID, out[i].Err)
				}
				if !out[i].Replayed {
					applied++
				}
				if d, _ := o.Add(c.CustomerID, c.Points); !out[i].Replayed && d != out[i].Delta {
					t.Fatalf("%s: delta %d, oracle %d", c.ID, out[i].Delta, d)
				}
			}
			return
		}
	}
	shipCtx, stopShip := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { st.shipper.Run(shipCtx); close(done) }()
	for i := 0; i < 10; i++ {
		send(100)
	}
	s.ch.Stop()
	for i := 0; i < 10; i++ {
		send(100)
	}
	// An order older than the dedupe window needs the ledger: refused, not applied.
	old := ledger.Change{ID: "old-1", CustomerID: 5, Points: 100, Cause: ledger.CauseOrder, OccurredAt: time.Now().AddDate(0, -1, 0)}
	old.Seal()
	if _, err := st.writer.Apply(ctx, []ledger.Change{old}); !errors.Is(err, ingest.ErrUnavailable) {
		t.Fatalf("old order with ClickHouse down: %v, want ErrUnavailable", err)
	}
	// Redis dies (SIGKILL) and comes back from its append-only file.
	s.redis.Stop()
	restarted := make(chan error, 1)
	go func() { time.Sleep(300 * time.Millisecond); restarted <- s.redis.Restart() }()
	for i := 0; i < 10; i++ {
		send(100)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if st.shipper.Backlog() == 0 {
		t.Fatal("shipper reports no backlog while ClickHouse is down")
	}
	s.ch.Start(t)
	stopShip()
	<-done
	// The background shipper was retrying; finish what it has left.
	for attempt := 0; ; attempt++ {
		_, err := st.shipper.ShipOnce(ctx)
		if err == nil {
			break
		}
		if attempt == 100 {
			t.Fatalf("shipping after ClickHouse came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	led, err := chledger.Open(ctx, func() chledger.Config {
		c := chledger.DefaultConfig()
		c.Addr, c.Database = s.ch.Addr, s.prefix
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	maxSeq, err := led.MaxSeq(ctx)
	if err != nil || maxSeq != uint64(applied) {
		t.Fatalf("ledger max seq %d (%v), want %d orders", maxSeq, err, applied)
	}
	got := map[uint64]int64{}
	if err := led.BalancesUpTo(ctx, maxSeq, func(id uint64, b int64) error {
		if b != 0 {
			got[id] = b
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	compareBalances(t, got, o.Bal)
	compareBalances(t, s.balances(t), o.Bal)
}
