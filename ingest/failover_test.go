package ingest_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestFailoverToLaggingReplica: with min_replicas_ack 1, changes the
// replica never confirmed are neither acknowledged nor shipped; after a
// failover to that replica they are gone from Redis and absent from the
// ledger, so the new primary's seqs (taken again) collide with nothing:
// every ledger row is one change, and each customer's ledger balance equals
// Redis's.
func TestFailoverToLaggingReplica(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	primary := testenv.Redis(t)
	replica := testenv.RedisReplica(t, primary)
	lc := chledger.DefaultConfig()
	lc.Addr, lc.Database = testenv.SharedClickHouse(t).Addr, fmt.Sprintf("failover_%d", time.Now().UnixNano())
	led, err := chledger.Open(ctx, lc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	rule, err := points.New(points.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// wait is how long a write waits for its replica: long while the
	// replica is healthy (WAIT returns as soon as it confirms, however loaded
	// the machine), short once it is cut off.
	open := func(addr string, ack int, wait time.Duration) (*redisindex.Index, *ingest.Writer, *ingest.Shipper) {
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { rdb.Close() })
		cfg := redisindex.DefaultConfig()
		cfg.Prefix, cfg.DedupeParts, cfg.MinReplicasAck, cfg.WaitTimeout = "fo", 64, ack, wait
		x := redisindex.New(rdb, cfg)
		return x, ingest.NewWriter(x, led, rule), ingest.NewShipper(x, nil, led, 1000, quiet)
	}
	order := func(i int) ingest.Order {
		return ingest.Order{ID: fmt.Sprintf("fo-%d", i), CustomerID: uint64(1 + i%4), Channel: ingest.ChannelApp,
			Amount: decimal.NewFromInt(int64(10 * (1 + i%7))), Currency: "GBP", PurchasedAt: time.Now().Add(-time.Minute)}
	}
	x, w, ship := open(primary.Addr, 1, 10*time.Second)
	for i := range 20 {
		if out, err := w.ApplyOrder(ctx, order(i), "test"); err != nil || out.Err != nil {
			t.Fatalf("order %d: %v %v", i, err, out.Err)
		}
	}
	if n, err := ship.ShipOnce(ctx); err != nil || n != 20 {
		t.Fatalf("shipped %d, %v; want 20", n, err)
	}

	// A partition cuts the replica off (it stops replicating, as one the
	// network isolated): writes still apply on the primary but are not
	// acknowledged, and the shipper holds them back.
	promote := redis.NewClient(&redis.Options{Addr: replica.Addr})
	t.Cleanup(func() { promote.Close() })
	if err := promote.ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	x, w, ship = open(primary.Addr, 1, 100*time.Millisecond)
	for i := 20; i < 25; i++ {
		if _, err := w.ApplyOrder(ctx, order(i), "test"); !errors.Is(err, ledger.ErrNotConfirmed) {
			t.Fatalf("order %d with the replica cut off: %v, want ErrNotConfirmed", i, err)
		}
	}
	if seq, _ := x.Seq(ctx); seq != 25 {
		t.Fatalf("primary seq %d, want 25 (the unconfirmed changes applied there)", seq)
	}
	if n, err := ship.ShipOnce(ctx); !errors.Is(err, ledger.ErrNotConfirmed) || n != 0 {
		t.Fatalf("shipping unconfirmed changes: %d, %v; want none, ErrNotConfirmed", n, err)
	}

	// The primary dies; the replica, behind it, takes over.
	primary.Stop()
	x2, w2, ship2 := open(replica.Addr, 0, 100*time.Millisecond)
	if seq, _ := x2.Seq(ctx); seq != 20 {
		t.Fatalf("new primary seq %d, want 20", seq)
	}
	// The clients retry the unacknowledged orders, and new ones come.
	for i := 20; i < 30; i++ {
		out, err := w2.ApplyOrder(ctx, order(i), "test")
		if err != nil || out.Err != nil || out.Replayed {
			t.Fatalf("order %d on the new primary: %+v, %v", i, out, err)
		}
	}
	if n, err := ship2.ShipOnce(ctx); err != nil || n != 10 {
		t.Fatalf("shipped %d, %v; want 10", n, err)
	}
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = order(i).ID
	}
	got, err := led.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[uint64]string{}
	for _, id := range ids {
		e, ok := got[id]
		if !ok || e.ID != id {
			t.Fatalf("change %s: in the ledger as %+v (present %v)", id, e.ID, ok)
		}
		if other, dup := seqs[e.Seq]; dup {
			t.Fatalf("seq %d holds %s and %s", e.Seq, other, id)
		}
		seqs[e.Seq] = id
	}
	if max, err := led.MaxSeq(ctx); err != nil || max != 30 {
		t.Fatalf("ledger max seq %d, %v; want 30", max, err)
	}
	for c := uint64(1); c <= 4; c++ {
		want, err := x2.Balance(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := led.Balance(ctx, c)
		if err != nil || got != want {
			t.Fatalf("customer %d: ledger %d (%v), Redis %d", c, got, err, want)
		}
	}
}
