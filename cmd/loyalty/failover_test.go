package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/xyz/loyalty/internal/testenv"
)

// haStack is Redis behind three sentinels (a primary refusing writes
// without a replica, two replicas), ClickHouse, and `loyalty serve` on them
// through Sentinel, acknowledging a change once a replica has it
// (redis.min_replicas_ack 1).
type haStack struct {
	*stack
	ha    *testenv.HA
	base  string
	serve *exec.Cmd
	logs  string // serve's stderr file
}

func newHAStack(t *testing.T) *haStack {
	t.Helper()
	ha := testenv.StartHA(t, testenv.HAConfig{Replicas: 2,
		// An old primary cut off from its replicas for 2 s refuses writes.
		PrimaryArgs: []string{"--min-replicas-to-write", "1", "--min-replicas-max-lag", "2"}})
	ch := testenv.SharedClickHouse(t)
	prefix := fmt.Sprintf("f%d_%s", stacks.Add(1), strconv.FormatInt(time.Now().UnixNano(), 36))
	s := &haStack{ha: ha}
	s.stack = &stack{ch: ch, prefix: prefix, env: cleanEnv(
		"LOYALTY_REDIS_SENTINEL_ADDRS="+strings.Join(ha.SentinelAddrs(), ","), "LOYALTY_REDIS_MASTER_NAME="+ha.MasterName,
		"LOYALTY_REDIS_MIN_REPLICAS_ACK=1", "LOYALTY_REDIS_WAIT_TIMEOUT=500ms",
		"LOYALTY_CLICKHOUSE_ADDR="+ch.Addr, "LOYALTY_REDIS_PREFIX="+prefix, "LOYALTY_CLICKHOUSE_DATABASE="+prefix,
		"LOYALTY_AUTH_HS256_KEY="+testKey, "LOYALTY_PROXY_KEY="+testKey, "LOYALTY_LOG_LEVEL=warn")}
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	s.base = "http://" + addr
	s.logs = filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(s.logs)
	if err != nil {
		t.Fatal(err)
	}
	s.serve = exec.Command(bin, "serve")
	s.serve.Env = append(s.env, "LOYALTY_HTTP_ADDR="+addr)
	s.serve.Stdout, s.serve.Stderr = logf, logf
	if err := s.serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.serve.Process.Signal(syscall.SIGTERM)
		s.serve.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(s.logs)
			t.Logf("serve's log (last 4 kB):\n%s", b[max(0, len(b)-4096):])
		}
	})
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		res, err := http.Get(s.base + "/readyz")
		if err != nil {
			return fmt.Errorf("serve not ready: %w", err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("serve not ready: /readyz answers %d", res.StatusCode)
		}
		return nil
	})
	return s
}

// attempt is one HTTP request of the load and how it went.
type attempt struct {
	start, end time.Time
	status     int // 0: no response
	stale      bool
}

// haLoad is a steady HTTP load of orders (unique ids, each retried until
// acknowledged, as a client would) and dashboards, recording every attempt
// and every acknowledgement.
type haLoad struct {
	s         *haStack
	customers int
	client    *http.Client
	stop      chan struct{}
	wg        sync.WaitGroup
	errs      chan error

	mu     sync.Mutex
	orders []attempt
	dashes []attempt
	acked  map[string]int64  // order id -> points acknowledged
	want   map[uint64]int64  // customer -> points acknowledged in total
	owner  map[string]uint64 // order id -> customer
}

func startLoad(t *testing.T, s *haStack, seed uint64) *haLoad {
	t.Helper()
	l := &haLoad{s: s, customers: 200, stop: make(chan struct{}), errs: make(chan error, 100),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
		acked:  map[string]int64{}, want: map[uint64]int64{}, owner: map[string]uint64{}}
	channel := testToken(t, "pos-ha", "channel")
	tokens := make([]string, l.customers+1)
	for c := 1; c <= l.customers; c++ {
		tokens[c] = testToken(t, strconv.Itoa(c), "customer")
	}
	for w := range 4 {
		r := rand.New(rand.NewPCG(seed, uint64(w)))
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.orderWorker(w, r, channel) }()
	}
	for w := range 2 {
		r := rand.New(rand.NewPCG(seed, uint64(100+w)))
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.dashboardWorker(r, tokens) }()
	}
	return l
}

func (l *haLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *haLoad) fail(err error) {
	select {
	case l.errs <- err:
	default:
	}
}

// orderWorker sends new orders until stopped, each retried until it is
// acknowledged (the last one too, after the stop), pacing itself to about
// 50 orders a second.
func (l *haLoad) orderWorker(w int, r *rand.Rand, channel string) {
	pace := time.NewTicker(20 * time.Millisecond)
	defer pace.Stop()
	for n := 0; !l.stopped(); n++ {
		id := fmt.Sprintf("ha-%d-%d", w, n)
		cust := uint64(r.IntN(l.customers)) + 1
		pts := int64(r.IntN(9)) + 1
		body := fmt.Sprintf(`{"customerId":"%d","channel":"web","paymentDetails":{"amount":"%d.00","currency":"GBP"},"purchasedAt":%q}`,
			cust, 10*pts, time.Now().UTC().Add(-time.Minute).Format(time.RFC3339))
		giveUp := time.Now().Add(60 * time.Second)
		for {
			<-pace.C
			a, res := l.do("POST", "/order/"+id, channel, body)
			l.mu.Lock()
			l.orders = append(l.orders, a)
			l.mu.Unlock()
			if a.status == 201 || a.status == 200 {
				if got, _ := res["pointsAwarded"].(float64); int64(got) != pts {
					l.fail(fmt.Errorf("order %s: %v points acknowledged, want %d", id, res["pointsAwarded"], pts))
				}
				l.mu.Lock()
				if _, dup := l.acked[id]; !dup {
					l.acked[id], l.owner[id] = pts, cust
					l.want[cust] += pts
				}
				l.mu.Unlock()
				break
			}
			if a.status != 0 && a.status != 503 {
				l.fail(fmt.Errorf("order %s: status %d %v", id, a.status, res))
				return
			}
			if time.Now().After(giveUp) {
				l.fail(fmt.Errorf("order %s: not acknowledged after 60s of retries (last status %d)", id, a.status))
				return
			}
		}
	}
}

// dashboardWorker reads random customers' dashboards until stopped, about
// 100 a second.
func (l *haLoad) dashboardWorker(r *rand.Rand, tokens []string) {
	pace := time.NewTicker(10 * time.Millisecond)
	defer pace.Stop()
	for !l.stopped() {
		<-pace.C
		c := r.IntN(l.customers) + 1
		a, _ := l.do("GET", fmt.Sprintf("/loyalty/%d?top=5&around=2", c), tokens[c], "")
		l.mu.Lock()
		l.dashes = append(l.dashes, a)
		l.mu.Unlock()
	}
}

func (l *haLoad) do(method, path, tok, body string) (attempt, map[string]any) {
	a := attempt{start: time.Now()}
	req, _ := http.NewRequest(method, l.s.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := l.client.Do(req)
	a.end = time.Now()
	if err != nil {
		return a, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	a.status, a.stale = res.StatusCode, res.Header.Get("Loyalty-Stale") == "true"
	return a, m
}

// finish stops the load and waits for every order in flight to be
// acknowledged.
func (l *haLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	close(l.errs)
	for err := range l.errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// acksSince counts orders acknowledged by attempts that started after at.
func (l *haLoad) acksSince(at time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.orders {
		if a.start.After(at) && (a.status == 201 || a.status == 200) {
			n++
		}
	}
	return n
}

// report prints what clients saw from the fault at t0 until recovered
// (the end of the last refused order after t0, or the failover when none
// was refused): the share of dashboards answered 200 and marked stale, and
// the window in which orders were refused. It fails the test if a dashboard
// was not answered or none was marked stale while no primary answered.
func (l *haLoad) report(t *testing.T, what string, t0 time.Time, failover time.Time) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	recovered := failover
	refused, firstRefused := 0, time.Time{}
	for _, a := range l.orders {
		if a.end.Before(t0) || a.status == 201 || a.status == 200 {
			continue
		}
		refused++
		if refused <= 10 {
			t.Logf("%s: order refused: status %d, sent at +%s, answered after %s", what, a.status,
				a.start.Sub(t0).Round(time.Millisecond), a.end.Sub(a.start).Round(time.Millisecond))
		}
		if firstRefused.IsZero() || a.start.Before(firstRefused) {
			firstRefused = a.start
		}
		if a.end.After(recovered) {
			recovered = a.end
		}
	}
	// The longest time without an acknowledgement, from the fault on.
	var gap time.Duration
	last := t0
	for _, a := range l.orders {
		if (a.status == 201 || a.status == 200) && a.end.After(t0) {
			gap = max(gap, a.end.Sub(last))
			last = a.end
		}
	}
	var dashes, ok, stale int
	var bad []string
	for _, a := range l.dashes {
		if a.end.Before(t0) || a.start.After(recovered) {
			continue
		}
		dashes++
		if a.status == 200 {
			ok++
			if a.stale {
				stale++
			}
		} else if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("%d at +%s", a.status, a.start.Sub(t0).Round(time.Millisecond)))
		}
	}
	window := time.Duration(0)
	if refused > 0 {
		window = recovered.Sub(firstRefused)
	}
	t.Logf("%s: sentinels failed over %s after the fault; orders refused for %s (%d refused attempts, every order retried until acknowledged), "+
		"longest time without an acknowledged order %s; dashboards in the %s from the fault to recovery: %d, answered 200: %d (%.2f%%), marked stale: %d",
		what, failover.Sub(t0).Round(time.Millisecond), window.Round(time.Millisecond), refused, gap.Round(time.Millisecond),
		recovered.Sub(t0).Round(time.Millisecond), dashes, ok, 100*float64(ok)/float64(max(dashes, 1)), stale)
	if ok != dashes {
		t.Errorf("%d of %d dashboards during the failover were not answered 200: %v", dashes-ok, dashes, bad)
	}
	if stale == 0 {
		t.Errorf("no dashboard was marked stale while the primary was gone")
	}
}

// checkExactlyOnce waits for the ledger to catch up (reconcile clean), then
// checks every acknowledged order is in the ledger exactly once, nothing
// else is, no seq serves two changes, and every balance in Redis is the sum
// of the customer's acknowledged orders.
func (l *haLoad) checkExactlyOnce(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		if out, code := l.s.run(t, "reconcile"); code != 0 {
			return fmt.Errorf("reconcile not clean after the load stopped:\n%.2000s", out)
		}
		return nil
	})
	compareBalances(t, l.s.balances(t), l.want)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{l.s.ch.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(context.Background(), "SELECT seq, change_id FROM `"+l.s.prefix+"`.ledger FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]int{}
	seqs := map[uint64]string{}
	for rows.Next() {
		var seq uint64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			t.Fatal(err)
		}
		if other, dup := seqs[seq]; dup {
			t.Errorf("seq %d in the ledger twice: %s and %s", seq, other, id)
		}
		seqs[seq] = id
		seen[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for id := range l.acked {
		if seen[id] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("acknowledged order %s is in the ledger %d times", id, seen[id])
			}
		}
	}
	for id, n := range seen {
		if _, ok := l.acked[id]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("order %s is in the ledger %d times but was never acknowledged", id, n)
			}
		}
	}
	t.Logf("%d orders acknowledged, %d ledger rows, %d customers; reconcile clean", len(l.acked), len(seqs), len(l.want))
}

// TestFailoverKill: under a steady load of orders and dashboards, SIGKILL
// the Redis primary. Dashboards keep answering (stale while no primary
// answers), orders are refused until Sentinel has promoted a replica and the
// service has found it by itself, and afterwards every acknowledged order is
// in the ledger exactly once and reconcile is clean.
func TestFailoverKill(t *testing.T) {
	t.Parallel()
	s := newHAStack(t)
	l := startLoad(t, s, testenv.Seed(t))
	waitAcks(t, l, time.Time{}, 100)
	old := s.ha.Primary.Addr
	t0 := time.Now()
	s.ha.Primary.Stop()
	newPrimary := s.ha.WaitFailover(t, old, 30*time.Second)
	failover := time.Now()
	waitAcks(t, l, failover, 100)
	l.finish(t)
	t.Logf("primary %s killed, %s promoted", old, newPrimary)
	l.report(t, "SIGKILL of the primary", t0, failover)
	l.checkExactlyOnce(t)
}

// TestFailoverPause: under the same load, SIGSTOP the primary until
// Sentinel fails over, then SIGCONT it: it comes back as a replica, and no
// write it took in isolation was acknowledged and lost (every acknowledged
// order is in the ledger exactly once, reconcile clean).
func TestFailoverPause(t *testing.T) {
	t.Parallel()
	s := newHAStack(t)
	l := startLoad(t, s, testenv.Seed(t))
	waitAcks(t, l, time.Time{}, 100)
	old := s.ha.Primary.Addr
	t0 := time.Now()
	s.ha.Primary.Pause(t)
	newPrimary := s.ha.WaitFailover(t, old, 30*time.Second)
	failover := time.Now()
	waitAcks(t, l, failover, 50)
	s.ha.Primary.Resume(t)
	resumed := time.Now()
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		if role := testenv.Role(old); role != "slave" {
			return fmt.Errorf("the old primary %s is %q after SIGCONT, want a replica", old, role)
		}
		return nil
	})
	t.Logf("primary %s stopped, %s promoted; the old primary is a replica %s after SIGCONT", old, newPrimary, time.Since(resumed).Round(time.Millisecond))
	waitAcks(t, l, time.Now(), 50)
	l.finish(t)
	l.report(t, "SIGSTOP of the primary", t0, failover)
	l.checkExactlyOnce(t)
}

// waitAcks polls until n orders were acknowledged by attempts started after
// since, or fails the test after 30 s.
func waitAcks(t *testing.T, l *haLoad, since time.Time, n int) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if got := l.acksSince(since); got < n {
			return fmt.Errorf("only %d orders acknowledged (want %d)", got, n)
		}
		return nil
	})
}
