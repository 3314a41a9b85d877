package ingest

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/ingest/mocks"
	"go.uber.org/mock/gomock"
)

// TestShipperDrain: at shutdown the shipper holding the lease ships what
// waits; one that does not hold it leaves it to the holder; while the
// ledger is down the age of the oldest unshipped change is known.
func TestShipperDrain(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, true)
	e.apply(t, "d1:1:5:50", "d2:2:3:30", "d3:3:1:10")

	sink := mocks.NewMockSink(gomock.NewController(t))
	sink.EXPECT().Append(gomock.Any(), gomock.Len(3)).Return(fmt.Errorf("append: %w", chledger.ErrUnavailable))
	down := NewShipper(e.x, nil, sink, 100, slog.New(&errorLog{}))
	if _, err := down.Drain(e.ctx); err == nil {
		t.Fatal("Drain with the ledger down: no error")
	}
	if at := down.OldestUnshipped(); at.IsZero() || time.Since(at) < 0 || time.Since(at) > time.Minute || down.Backlog() != 3 {
		t.Fatalf("ledger down: oldest unshipped %v, backlog %d; want the first change's time and 3", at, down.Backlog())
	}

	if held, err := e.x.Lease(e.ctx, "shipper", "another-process", time.Minute); err != nil || !held {
		t.Fatalf("lease: %v %v", held, err)
	}
	other := NewShipper(e.x, e.x, e.led, 100, slog.New(&errorLog{}))
	if n, err := other.Drain(e.ctx); n != 0 || err != nil {
		t.Fatalf("Drain without the lease = %d, %v; want 0, nil", n, err)
	}
	if got := e.inLedger(t, "d1", "d2", "d3"); len(got) != 0 {
		t.Fatalf("shipped without the lease: %v", got)
	}

	holder := NewShipper(e.x, nil, e.led, 100, slog.New(&errorLog{}))
	if n, err := holder.Drain(e.ctx); n != 3 || err != nil {
		t.Fatalf("Drain = %d, %v; want 3, nil", n, err)
	}
	if got := e.inLedger(t, "d1", "d2", "d3"); len(got) != 3 || holder.Backlog() != 0 || !holder.OldestUnshipped().IsZero() {
		t.Fatalf("after Drain: ledger %v, backlog %d, oldest %v", got, holder.Backlog(), holder.OldestUnshipped())
	}
}
