package chledger

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestLazyRedial: a failed connect is answered from memory for RedialWait,
// then tried again; a connected ledger is kept; every operation reports its
// name and error to observe; nothing is dialled before first use.
func TestLazyRedial(t *testing.T) {
	ctx := context.Background()
	clock := time.Unix(1_700_000_000, 0)
	type observed struct {
		op  string
		err error
	}
	var seen []observed
	z := NewLazy(Config{Addr: "ch:9000"}, func(op string, start time.Time, err error) {
		if !start.Equal(clock) {
			t.Errorf("%s: start %v, want the clock's %v", op, start, clock)
		}
		seen = append(seen, observed{op, err})
	})
	z.now = func() time.Time { return clock }
	down := fmt.Errorf("ping ch:9000: %w", ErrUnavailable)
	opens, conn := 0, &Ledger{}
	var openErr error = down
	z.open = func(_ context.Context, cfg Config) (*Ledger, error) {
		if cfg.Addr != "ch:9000" {
			t.Errorf("open with %q, want the configured address", cfg.Addr)
		}
		opens++
		if openErr != nil {
			return nil, openErr
		}
		return conn, nil
	}
	if err := z.Close(); err != nil || opens != 0 {
		t.Fatalf("Close before first use: %v, %d connects; want nil and none", err, opens)
	}

	if _, err := z.Lookup(ctx, []string{"o-1"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Lookup while down: %v, want ErrUnavailable", err)
	}
	if err := z.Append(ctx, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append while down: %v, want ErrUnavailable", err)
	}
	if err := z.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping while down: %v, want ErrUnavailable", err)
	}
	if _, err := z.HistoryPage(ctx, 1, 0, 10); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("HistoryPage while down: %v, want ErrUnavailable", err)
	}
	if opens != 1 {
		t.Fatalf("%d connects within RedialWait of the first failure, want 1", opens)
	}
	want := []observed{{"lookup", down}, {"append", down}, {"ping", down}}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v (HistoryPage is not observed)", seen, want)
	}

	clock = clock.Add(RedialWait - time.Millisecond)
	if _, err := z.Get(ctx); !errors.Is(err, ErrUnavailable) || opens != 1 {
		t.Fatalf("just before RedialWait: %v after %d connects, want the remembered error and no new connect", err, opens)
	}
	openErr = nil
	clock = clock.Add(time.Millisecond)
	if l, err := z.Get(ctx); err != nil || l != conn || opens != 2 {
		t.Fatalf("at RedialWait: %p, %v after %d connects; want the new connection after a second connect", l, err, opens)
	}
	openErr = down
	clock = clock.Add(time.Hour)
	if l, err := z.Get(ctx); err != nil || l != conn || opens != 2 {
		t.Fatalf("once connected: %p, %v after %d connects; want the same connection, no new connect", l, err, opens)
	}
}

// TestLazyRedialAfterFailureOnly: a connect that fails after a success was
// never asked for (the connection is kept), and the first failure's time
// counts from that failure, not from the ledger's creation.
func TestLazyRedialAfterFailureOnly(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	z := NewLazy(Config{}, nil)
	z.now = func() time.Time { return clock }
	opens := 0
	z.open = func(context.Context, Config) (*Ledger, error) {
		opens++
		return nil, ErrUnavailable
	}
	clock = clock.Add(time.Hour)
	for range 3 {
		if err := z.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ping: %v, want ErrUnavailable", err)
		}
	}
	clock = clock.Add(RedialWait)
	if err := z.Ping(context.Background()); !errors.Is(err, ErrUnavailable) || opens != 2 {
		t.Fatalf("after RedialWait: %v, %d connects; want a second connect", err, opens)
	}
}
