package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xyz/loyalty/ingest/mocks"
	"github.com/xyz/loyalty/ledger"
	"go.uber.org/mock/gomock"
)

// levelLog keeps the level and message of every record.
type levelLog struct {
	mu   sync.Mutex
	recs []string
}

func (h *levelLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelLog) WithGroup(string) slog.Handler            { return h }
func (h *levelLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Level.String()+" "+r.Message)
	return nil
}

// fakeSleep records the waits asked for and ends ctx at the n-th.
func fakeSleep(n int, cancel context.CancelFunc, waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		if len(*waits) == n {
			cancel()
		}
		return ctx.Err()
	}
}

// TestShipperRunBacksOff: Run waits 100 ms after a failed round, twice as
// long after each next, and from 100 ms again once a round succeeds (an
// idle round waits 200 ms); an outage is a warning, a fault an error.
func TestShipperRunBacksOff(t *testing.T) {
	out := mocks.NewMockOutbox(gomock.NewController(t))
	down := fmt.Errorf("read shipped mark: %w: connection refused", ledger.NewError(ledger.ErrUnavailable, "redis unavailable"))
	rounds := []error{down, down, down, nil, down, errors.New("read shipped mark: bad reply")}
	i := 0
	out.EXPECT().Shipped(gomock.Any()).DoAndReturn(func(context.Context) (uint64, error) {
		i++
		return 7, rounds[i-1]
	}).Times(len(rounds))
	out.EXPECT().DeadLetterCount(gomock.Any()).Return(int64(0), nil)
	out.EXPECT().Confirmed(gomock.Any()).Return(uint64(7), nil)
	log := &levelLog{}
	s := NewShipper(out, nil, nil, 100, slog.New(log))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	s.sleep = fakeSleep(len(rounds), cancel, &waits)
	s.Run(ctx)
	ms := time.Millisecond
	if want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 200 * ms, 100 * ms, 200 * ms}; !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	want := []string{"WARN ledger shipping paused", "WARN ledger shipping paused", "WARN ledger shipping paused",
		"WARN ledger shipping paused", "ERROR ledger shipping failed"}
	if s.Retries() != 5 || !slices.Equal(log.recs, want) {
		t.Errorf("%d retries, logged %q; want 5, %q", s.Retries(), log.recs, want)
	}
}

// TestShipperRunLeaseFails: a lease that can't be taken (Redis down) is
// asked again every 5 s, and its error logged once, not every time.
func TestShipperRunLeaseFails(t *testing.T) {
	ctrl := gomock.NewController(t)
	lease := mocks.NewMockLease(ctrl)
	down := fmt.Errorf("lease shipper: %w: connection refused", ledger.NewError(ledger.ErrUnavailable, "redis unavailable"))
	lease.EXPECT().Lease(gomock.Any(), "shipper", gomock.Any(), gomock.Any()).Return(false, down).Times(3)
	log := &levelLog{}
	s := NewShipper(mocks.NewMockOutbox(ctrl), lease, nil, 100, slog.New(log))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	s.sleep = fakeSleep(3, cancel, &waits)
	s.Run(ctx)
	if want := []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	if len(log.recs) != 1 {
		t.Errorf("logged %q, want the lease's error once", log.recs)
	}
}
