package chledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/ledger"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// open opens a ledger on the package's shared server, in a database of its
// own named for the test.
func open(t testing.TB) (context.Context, *Ledger, *testenv.Server) {
	t.Helper()
	return openOn(t, testenv.SharedClickHouse(t))
}

// openOwn is open on a server of its own, for a test that stops it.
func openOwn(t testing.TB) (context.Context, *Ledger, *testenv.Server) {
	t.Helper()
	return openOn(t, testenv.ClickHouse(t))
}

// databases numbers the tests' databases: each test its own, also under
// -count.
var databases atomic.Int64

func openOn(t testing.TB, srv *testenv.Server) (context.Context, *Ledger, *testenv.Server) {
	t.Helper()
	ctx := testenv.Context(t)
	cfg := DefaultConfig()
	cfg.Addr = srv.Addr
	cfg.Database = fmt.Sprintf("%s_%d", strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")), databases.Add(1))
	cfg.DialTimeout = 2 * time.Second
	l, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return ctx, l, srv
}

var day = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)

// entry builds a sealed entry for an order of amount GBP (negative: a refund).
func entry(seq, customer uint64, amount string, delta, balance int64, channel string) ledger.Entry {
	amt := decimal.RequireFromString(amount)
	cause := ledger.CauseOrder
	if amt.IsNegative() {
		cause = ledger.CauseRefund
	}
	e := ledger.Entry{
		Change: ledger.Change{
			ID: fmt.Sprintf("o-%d", seq), CustomerID: customer, Points: delta, Cause: cause,
			Channel: channel, Amount: amt, Currency: "GBP", AmountGBP: amt,
			ItemIDs: []string{"sku-1", "sku-2"}, Actor: "test",
			OccurredAt: day.Add(time.Duration(seq) * time.Minute),
		},
		Seq: seq, Delta: delta, Balance: balance,
		RecordedAt: day.Add(time.Duration(seq)*time.Minute + time.Second),
	}
	if channel == "store" {
		e.StoreID = fmt.Sprintf("S%d", customer%3)
	}
	e.Seal()
	return e
}

func balances(ctx context.Context, t *testing.T, l *Ledger) map[uint64]int64 {
	t.Helper()
	got := map[uint64]int64{}
	if err := l.Balances(ctx, func(c uint64, b int64) error { got[c] = b; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendDeduplicates(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	batch := []ledger.Entry{
		entry(1, 10, "25.50", 3, 3, "web"),
		entry(2, 11, "100", 10, 10, "store"),
		entry(3, 10, "-25.50", -3, 0, "web"),
		entry(4, 10, "14.999", 1, 1, "app"),
	}
	eur := entry(5, 12, "20", 2, 2, "app")
	eur.Currency, eur.AmountGBP = "EUR", decimal.RequireFromString("17.023456789")
	eur.Seal()
	batch = append(batch, eur)
	if err := l.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// The shipper crashed and sends an overlapping batch again.
	if err := l.Append(ctx, append(batch[2:], entry(6, 11, "5", 1, 11, "web"))); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}

	var stored uint64
	if err := l.conn.QueryRow(ctx, "SELECT count() FROM "+l.db+".ledger").Scan(&stored); err != nil || stored <= 6 {
		t.Fatalf("stored rows = %d, %v; want the copies kept (more than 6) until a merge", stored, err)
	}
	if got, want := balances(ctx, t, l), map[uint64]int64{10: 1, 11: 11, 12: 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("Balances = %v, want %v", got, want)
	}
	if seq, err := l.MaxSeq(ctx); err != nil || seq != 6 {
		t.Errorf("MaxSeq = %d, %v; want 6", seq, err)
	}
	got, err := l.Lookup(ctx, []string{"o-1", "o-3", "o-5", "o-3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Lookup returned %d entries, want 3: %v", len(got), got)
	}
	for _, want := range []ledger.Entry{batch[0], batch[2], eur} {
		g := got[want.ID]
		if !g.Amount.Equal(want.Amount) || !g.AmountGBP.Equal(want.AmountGBP) {
			t.Errorf("%s amounts = %s, %s; want %s, %s", want.ID, g.Amount, g.AmountGBP, want.Amount, want.AmountGBP)
		}
		g.Amount, g.AmountGBP = want.Amount, want.AmountGBP
		if !reflect.DeepEqual(g, want) {
			t.Errorf("Lookup[%s] =\n%+v\nwant\n%+v", want.ID, g, want)
		}
		c := g.Change
		c.Seal()
		if c.Digest != want.Digest {
			t.Errorf("%s: digest of the stored change differs: %s, want %s", want.ID, c.Digest, want.Digest)
		}
	}
	hist, err := l.History(ctx, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Seq != 4 || hist[1].Seq != 3 {
		t.Errorf("History(10, 2) seqs = %v, want [4 3]", seqs(hist))
	}
	if hist, err := l.History(ctx, 10, 100); err != nil || len(hist) != 3 {
		t.Errorf("History(10, 100) = %v, %v; want 3 entries", seqs(hist), err)
	}
	for c, want := range map[uint64]int64{10: 1, 11: 11, 12: 2, 99: 0} {
		if b, err := l.Balance(ctx, c); err != nil || b != want {
			t.Errorf("Balance(%d) = %d, %v; want %d", c, b, err, want)
		}
	}
}

func seqs(es []ledger.Entry) []uint64 {
	var s []uint64
	for _, e := range es {
		s = append(s, e.Seq)
	}
	return s
}

func TestLookupUnknown(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	if got, err := l.Lookup(ctx, []string{"nope"}); err != nil || len(got) != 0 {
		t.Fatalf("Lookup on an empty ledger = %v, %v", got, err)
	}
	if err := l.Append(ctx, []ledger.Entry{entry(1, 1, "10", 1, 1, "web")}); err != nil {
		t.Fatal(err)
	}
	// Many ids, with quotes and backslashes, spanning several queries.
	ids := []string{"o-1", `it's`, `back\slash`, ""}
	for i := range 5000 {
		ids = append(ids, fmt.Sprintf("unknown-%d-%s", i, strings.Repeat("x", 40)))
	}
	got, err := l.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["o-1"].Seq != 1 {
		t.Fatalf("Lookup = %v, want only o-1", got)
	}
	if got, err := l.Lookup(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("Lookup(nil) = %v, %v", got, err)
	}
}

// TestBalancesStreams checks the order over more rows than one block, and
// that an error from the callback stops the scan early.
func TestBalancesStreams(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	const customers = 150_000 // more than one 65,536-row block
	var (
		batch []ledger.Entry
		seq   uint64
	)
	for round := range 2 {
		for i := range customers {
			c := uint64((i*7919)%customers + 1) // not in id order
			seq++
			batch = append(batch, entry(seq, c, "10", 1, int64(c)+int64(round), "web"))
			if len(batch) == 20_000 {
				if err := l.Append(ctx, batch); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	if err := l.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var prev uint64
	n := 0
	err := l.Balances(ctx, func(c uint64, b int64) error {
		if c <= prev {
			return fmt.Errorf("customer %d after %d", c, prev)
		}
		if b != int64(c)+1 {
			return fmt.Errorf("customer %d balance %d, want %d", c, b, c+1)
		}
		prev = c
		n++
		return nil
	})
	if err != nil || n != customers {
		t.Fatalf("Balances: %d customers, %v; want %d", n, err, customers)
	}

	stop := errors.New("enough")
	n = 0
	err = l.Balances(ctx, func(uint64, int64) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("Balances stopped after %d calls with %v; want 10 and the callback's error", n, err)
	}
	if _, err := l.MaxSeq(ctx); err != nil {
		t.Fatalf("ledger unusable after an early stop: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx, l, srv := openOwn(t)
	if err := l.Append(ctx, []ledger.Entry{entry(1, 1, "10", 1, 1, "web")}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	err := l.Append(ctx, []ledger.Entry{entry(2, 1, "10", 1, 2, "web")})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append with the server stopped = %v, want ErrUnavailable", err)
	}
	t.Logf("Append with the server stopped: %v", err)
	if _, err := l.MaxSeq(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("MaxSeq with the server stopped = %v, want ErrUnavailable", err)
	}
	if err := l.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping with the server stopped = %v, want ErrUnavailable", err)
	}
	srv.Start(t)
	if err := l.Append(ctx, []ledger.Entry{entry(2, 1, "10", 1, 2, "web")}); err != nil {
		t.Fatalf("Append after restart: %v", err)
	}
	if b, err := l.Balance(ctx, 1); err != nil || b != 2 {
		t.Fatalf("Balance after restart = %d, %v; want 2", b, err)
	}
}

func TestOpenUnavailable(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Addr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg.DialTimeout = time.Second
	if _, err := Open(testenv.Context(t), cfg); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open with no server = %v, want ErrUnavailable", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, f := range []func(*Config){
		func(c *Config) { c.Addr = "" },
		func(c *Config) { c.Database = "a-b" },
		func(c *Config) { c.QueryTimeout = 0 },
		func(c *Config) { c.MaxIdleConns = c.MaxOpenConns + 1 },
	} {
		cfg := DefaultConfig()
		f(&cfg)
		if cfg.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", cfg)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}

// BenchmarkAppend measures Append in batches of 10k and 100k entries (the
// shipper's sizes) on a fresh database; see rows/s.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx, l, _ := open(b)
			batch := make([]ledger.Entry, size)
			for i := range batch {
				batch[i] = entry(uint64(i+1), uint64(i%5000+1), "42.5", 4, int64(i), "store")
			}
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				for i := range batch {
					batch[i].Seq += uint64(size)
				}
				if err := l.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestServerError checks that an error the server answers with is neither
// ErrUnavailable nor a driver type callers could depend on.
func TestServerError(t *testing.T) {
	t.Parallel()
	srv := testenv.SharedClickHouse(t)
	cfg := DefaultConfig()
	cfg.Addr, cfg.Database, cfg.SkipMigrate = srv.Addr, "never_migrated", true
	l, err := Open(testenv.Context(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.MaxSeq(testenv.Context(t))
	var exc *clickhouse.Exception
	if err == nil || errors.Is(err, ErrUnavailable) || errors.As(err, &exc) {
		t.Fatalf("MaxSeq on a missing table = %v; want a plain error", err)
	}
}

func TestBalancesUpToAndSince(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	es := []ledger.Entry{
		entry(1, 7, "50", 5, 5, "web"),
		entry(2, 8, "30", 3, 3, "web"),
		entry(3, 7, "-20", -2, 3, "web"),
		entry(4, 8, "100", 10, 13, "store"),
	}
	if err := l.Append(ctx, es); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, es[:2]); err != nil { // a re-sent batch
		t.Fatal(err)
	}
	got := map[uint64]int64{}
	if err := l.BalancesUpTo(ctx, 3, func(id uint64, b int64) error { got[id] = b; return nil }); err != nil {
		t.Fatal(err)
	}
	if got[7] != 3 || got[8] != 3 || len(got) != 2 {
		t.Fatalf("balances up to seq 3: %v, want 7:3 8:3", got)
	}
	since, err := l.Since(ctx, es[0].RecordedAt.Add(-time.Minute))
	if err != nil || len(since) != 4 || since[3].Seq != 4 {
		t.Fatalf("since: %d entries (%v)", len(since), err)
	}
}
