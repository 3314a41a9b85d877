package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/internal/testenv"
)

// bin is the loyalty binary the tests run: a link named loyalty to the
// test binary itself, which runs the command line (main's run) instead of
// the tests when it is started under that name. That spares building and
// linking the binary again for every test run.
var bin string

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "loyalty" {
		os.Exit(run(os.Args[1:]))
	}
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "loyalty-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "loyalty")
	if err := os.Symlink(exe, bin); err != nil {
		panic(err)
	}
	code := testenv.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is a Redis and a ClickHouse for one test, and the environment the
// binary needs to use them.
type stack struct {
	redis, ch *testenv.Server
	env       []string
	rdb       *redis.Client
	prefix    string
}

// newStack is a stack on the package's shared Redis and ClickHouse, with a
// Redis prefix and a ClickHouse database of its own.
func newStack(t *testing.T) *stack {
	t.Helper()
	return stackOn(t, testenv.SharedRedis(t), testenv.SharedClickHouse(t))
}

// newOwnStack is a stack on a Redis and a ClickHouse of its own, for a test
// that stops them.
func newOwnStack(t *testing.T) *stack {
	t.Helper()
	return stackOn(t, testenv.Redis(t), testenv.ClickHouse(t))
}

// stacks numbers the stacks, so each has its own prefix and database.
var stacks atomic.Int64

func stackOn(t *testing.T, rs, ch *testenv.Server) *stack {
	t.Helper()
	s := &stack{redis: rs, ch: ch, prefix: fmt.Sprintf("t%d_%s", stacks.Add(1), strconv.FormatInt(time.Now().UnixNano(), 36))}
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redis.Addr})
	t.Cleanup(func() { s.rdb.Close() })
	s.env = cleanEnv("LOYALTY_REDIS_ADDR="+s.redis.Addr, "LOYALTY_CLICKHOUSE_ADDR="+s.ch.Addr,
		"LOYALTY_REDIS_PREFIX="+s.prefix, "LOYALTY_CLICKHOUSE_DATABASE="+s.prefix,
		"LOYALTY_AUTH_HS256_KEY="+testKey, "LOYALTY_PROXY_KEY="+testKey,
		"LOYALTY_LOG_LEVEL=warn")
	return s
}

// testKey is the token and proxy-name key of the test stacks' processes.
const testKey = "0123456789abcdef0123456789abcdef"

// testToken mints a token, valid for an hour, that the test stacks'
// processes accept.
func testToken(t *testing.T, sub, role string) string {
	t.Helper()
	tok, err := api.MintToken(api.AuthConfig{HS256Key: []byte(testKey), Issuer: "loyalty", Audience: "loyalty-api"}, sub, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// run runs the binary and returns its stdout and exit code.
func (s *stack) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = s.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	if code == 1 {
		t.Logf("loyalty %v exited 1: %s", args, errb.String())
	}
	return out.String(), code
}

func (s *stack) balances(t *testing.T) map[uint64]int64 {
	t.Helper()
	out, code := s.run(t, "balances")
	if code != 0 {
		t.Fatalf("balances exited %d", code)
	}
	got := map[uint64]int64{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		id, p, _ := strings.Cut(l, ",")
		i, _ := strconv.ParseUint(id, 10, 64)
		n, _ := strconv.ParseInt(p, 10, 64)
		got[i] = n
	}
	return got
}

func retailFiles(t *testing.T) []string {
	t.Helper()
	dir := testenv.RetailData(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(files) == 0 {
		t.Fatalf("no retail files in %s", dir)
	}
	sort.Strings(files)
	return files
}

// expectRetail computes the balances the rules give for the retail files,
// independently of the ingest code (testenv.ExpectRetail: each invoice one
// order wherever its lines are in its file).
func expectRetail(t *testing.T, files []string) map[uint64]int64 {
	bal, _ := expectRetailOrders(t, files)
	return bal
}

// expectRetailOrders is expectRetail that also counts the orders that apply.
func expectRetailOrders(t *testing.T, files []string) (map[uint64]int64, int) {
	t.Helper()
	r := testenv.ExpectRetail(t, files)
	return r.Balances, r.Orders
}

func compareBalances(t *testing.T, got, want map[uint64]int64) {
	t.Helper()
	bad := 0
	for id, w := range want {
		if got[id] != w {
			if bad++; bad <= 5 {
				t.Errorf("customer %d: %d points, want %d", id, got[id], w)
			}
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("customer %d: %d points, want none", id, g)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d customers differ (of %d expected)", bad, len(want))
	}
}

// TestIngestRetail ingests the whole real export against real Redis and
// ClickHouse, checks every balance against the independent computation, runs
// it again (nothing changes), then loses Redis and rebuilds from the ledger.
func TestIngestRetail(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	files := retailFiles(t)
	want := expectRetail(t, files)
	out, code := s.run(t, append([]string{"ingest", "--format", "lines", "--rejects", filepath.Join(t.TempDir(), "rejects.csv")}, files...)...)
	t.Logf("first run (exit %d):\n%s", code, out)
	if code != 0 && code != exitRejected {
		t.Fatalf("ingest exited %d", code)
	}
	compareBalances(t, s.balances(t), want)
	out2, code := s.run(t, append([]string{"ingest", "--format", "lines", "--rejects", filepath.Join(t.TempDir(), "rejects.csv")}, files...)...)
	t.Logf("second run (exit %d):\n%s", code, out2)
	if !strings.Contains(out2, "orders applied 0,") {
		t.Fatalf("second run applied orders again:\n%s", out2)
	}
	compareBalances(t, s.balances(t), want)
	if out, code := s.run(t, "reconcile"); code != 0 {
		t.Fatalf("reconcile after ingest: exit %d\n%s", code, out)
	}
	// Redis loses everything; the ledger rebuilds it.
	ctx := context.Background()
	var cursor uint64
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, "{"+s.prefix+"}*", 1000).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			s.rdb.Del(ctx, keys...)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if out, code := s.run(t, "reconcile"); code != 3 {
		t.Fatalf("reconcile with Redis empty: exit %d, want 3\n%.300s", code, out)
	}
	if out, code := s.run(t, "rebuild"); code != 0 {
		t.Fatalf("rebuild: exit %d\n%s", code, out)
	}
	compareBalances(t, s.balances(t), want)
	if out, code := s.run(t, "reconcile"); code != 0 {
		t.Fatalf("reconcile after rebuild: exit %d\n%s", code, out)
	}
	// And a third ingest after the rebuild still counts nothing twice.
	out3, _ := s.run(t, append([]string{"ingest", "--format", "lines", "--rejects", filepath.Join(t.TempDir(), "rejects.csv")}, files[:20]...)...)
	if !strings.Contains(out3, "orders applied 0,") {
		t.Fatalf("ingest after rebuild applied orders again:\n%s", out3)
	}
}

// TestIngestKillResume kills the ingest with SIGKILL at several points and
// starts it again; the end state equals one clean run. The child writes a
// progress line after every batch (--progress-every 0; a run of the whole
// export with --batch 100 writes 222: batches run on across its 305 small
// files); each run is killed as soon as it has
// written the line picked for it at random in the first half (the seed
// replays the points), so every kill is mid-way however fast the machine.
func TestIngestKillResume(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	files := retailFiles(t)
	want := expectRetail(t, files)
	args := append([]string{"ingest", "--format", "lines", "--batch", "100", "--progress-every", "0",
		"--rejects", filepath.Join(t.TempDir(), "rejects.csv")}, files...)
	r := rand.New(rand.NewPCG(testenv.Seed(t), 5))
	for i := range 5 {
		at := 1 + r.IntN(110)
		cmd := exec.Command(bin, args...)
		cmd.Env = s.env
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := 0
		sc := bufio.NewScanner(out)
		for lines < at && sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ingest: ") {
				lines++
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		io.Copy(io.Discard, out)
		err = cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if lines < at || !ok || !ws.Signaled() {
			t.Fatalf("run %d ended (%v) after %d progress lines, before the kill at line %d", i+1, err, lines, at)
		}
		t.Logf("run %d killed after progress line %d", i+1, at)
	}
	out, code := s.run(t, args...)
	t.Logf("final run (exit %d):\n%.2000s", code, lastLines(out, 3))
	if code != 0 && code != exitRejected {
		t.Fatalf("final ingest exited %d", code)
	}
	compareBalances(t, s.balances(t), want)
	if out, code := s.run(t, "reconcile"); code != 0 {
		t.Fatalf("reconcile: exit %d\n%s", code, out)
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestIngestConcurrentOverlap runs two ingests of overlapping file sets at
// the same time: every order is applied exactly once. (Final balances may
// differ from one sequential run: a refund that lands before its purchase
// stops at zero. So the check is on the ledger: each order once, and the
// balances equal the ledger replayed in its own order.)
func TestIngestConcurrentOverlap(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	files := retailFiles(t)[:80]
	_, orders := expectRetailOrders(t, files)
	var cmds []*exec.Cmd
	for _, set := range [][]string{files[:60], files[20:]} {
		cmd := exec.Command(bin, append([]string{"ingest", "--format", "lines", "--batch", "100", "--rejects", filepath.Join(t.TempDir(), "rejects.csv")}, set...)...)
		cmd.Env = s.env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil && cmd.ProcessState.ExitCode() != exitRejected {
			t.Fatalf("ingest: %v", err)
		}
	}
	st := s.inProcess(t)
	if _, err := st.shipper.ShipOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	led, err := st.ledger.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := led.Since(context.Background(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != orders {
		t.Fatalf("ledger holds %d entries, want %d orders", len(entries), orders)
	}
	o := oracle.New()
	ids := map[string]bool{}
	for _, e := range entries {
		if ids[e.ID] {
			t.Fatalf("order %s applied twice", e.ID)
		}
		ids[e.ID] = true
		if d, b := o.Add(e.CustomerID, e.Points); d != e.Delta || b != e.Balance {
			t.Fatalf("seq %d: delta %d balance %d, replay gives %d %d", e.Seq, e.Delta, e.Balance, d, b)
		}
	}
	compareBalances(t, s.balances(t), o.Bal)
	if out, code := s.run(t, "reconcile"); code != 0 {
		t.Fatalf("reconcile: exit %d\n%s", code, out)
	}
}
