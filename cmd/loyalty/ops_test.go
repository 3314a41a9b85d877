package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/testenv"
)

// server is a `loyalty serve` process of a test.
type server struct {
	cmd  *exec.Cmd
	base string
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, once done
	mu   sync.Mutex
	logs strings.Builder
}

// lockedWriter appends to the server's logs.
func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.Write(p)
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// startServe starts `loyalty serve` with env on a free port and waits until
// /livez answers.
func startServe(t *testing.T, env []string) *server {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	s := &server{base: "http://" + addr, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = append(env, "LOYALTY_HTTP_ADDR="+addr)
	s.cmd.Stderr = s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.done })
	s.waitProbe(t, "/livez", 20*time.Second, 50*time.Millisecond)
	return s
}

// waitReady waits until /readyz answers 200 (the board is loaded), or fails
// the test after within.
func (s *server) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	s.waitProbe(t, "/readyz", within, 20*time.Millisecond)
}

// waitProbe polls path every `every` until it answers 200; it fails the test
// at once if serve exits, and after within with the last answer and the log.
func (s *server) waitProbe(t *testing.T, path string, within, every time.Duration) {
	t.Helper()
	testenv.Eventually(t, within, every, func() error {
		code, body := s.get(t, path, "")
		if code == 200 {
			return nil
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited: %v\n%s", s.err, s.log())
		default:
		}
		if code == 0 {
			return fmt.Errorf("serve's %s: %s\n%s", path, body, s.log())
		}
		return fmt.Errorf("serve's %s answers %d %.200s\n%s", path, code, body, s.log())
	})
}

func (s *server) do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// call is do on s.base+path with the JSON answer decoded; a request that
// gets no answer fails the test.
func (s *server) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	code, b := s.do(t, method, s.base+path, token, body)
	if code == 0 {
		t.Fatalf("%s %s: %s", method, path, b)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(b), &m)
	return code, m
}

func (s *server) get(t *testing.T, path, token string) (int, string) {
	return s.do(t, "GET", s.base+path, token, "")
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	if s.err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", s.err, s.log())
	}
}

func orderBody(customer, amount string) string {
	return fmt.Sprintf(`{"customerId":%q,"channel":"web","paymentDetails":{"amount":%q,"currency":"GBP"},"purchasedAt":%q}`,
		customer, amount, time.Now().UTC().Format(time.RFC3339))
}

// TestProbesWithStoresDown: with Redis and ClickHouse both down, /livez
// stays 200 (the process), /readyz stays 200 (the board is fresh: the
// dashboards are answered, marked stale), /healthz is 503 naming both;
// `loyalty healthcheck` follows the probe it is given. The admin listener
// serves /metrics (the public one does not) with the stores' errors, the
// replica's lag and build_info. Logs are JSON lines only (go-redis's too),
// "serving" is logged once the ports are bound, and on SIGTERM the shipper's
// last round is logged with the backlog left.
func TestProbesWithStoresDown(t *testing.T) {
	t.Parallel()
	st := newOwnStack(t)
	admin := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env := append(st.env, "LOYALTY_HTTP_ADMIN_ADDR="+admin, "LOYALTY_LOG_FORMAT=json", "LOYALTY_LOG_LEVEL=info", "LOYALTY_HTTP_SHUTDOWN_TIMEOUT=5s")
	srv := startServe(t, env)
	srv.waitProbe(t, "/readyz", 20*time.Second, 50*time.Millisecond)
	if !strings.Contains(srv.log(), `"msg":"serving"`) || !strings.Contains(srv.log(), `"admin":"`+admin+`"`) {
		t.Fatalf("no serving line naming both listeners:\n%s", srv.log())
	}
	channel, _, _ := runBin(t, env, "token", "pos-1", "--role", "channel")
	me, _, _ := runBin(t, env, "token", "42", "--role", "customer")
	channel, me = strings.TrimSpace(channel), strings.TrimSpace(me)
	if code, body := srv.do(t, "POST", srv.base+"/order/p-1", channel, orderBody("42", "100.00")); code != 201 {
		t.Fatalf("order: %d %s", code, body)
	}
	if code, _ := srv.get(t, "/metrics", ""); code != 404 {
		t.Errorf("public /metrics with an admin listener: %d, want 404", code)
	}

	st.ch.Stop()
	st.redis.Stop()
	probe := func(path string, want int) {
		t.Helper()
		code, body := srv.get(t, path, "")
		if code != want {
			t.Errorf("%s with Redis and ClickHouse down: %d %s, want %d", path, code, body, want)
		}
	}
	probe("/livez", 200)
	probe("/readyz", 200)
	// One /healthz: each waits out go-redis's dial retries (~1.7 s).
	if code, body := srv.get(t, "/healthz", ""); code != 503 {
		t.Errorf("/healthz with Redis and ClickHouse down: %d %s, want 503", code, body)
	} else if !strings.Contains(body, `{"name":"redis","status":"down"}`) || !strings.Contains(body, `{"name":"clickhouse","status":"down"}`) {
		t.Errorf("/healthz does not name both dependencies down: %s", body)
	}
	if code, body := srv.get(t, "/loyalty/42", me); code != 200 || !strings.Contains(body, `"stale":true`) {
		t.Errorf("dashboard with Redis down: %d %s", code, body)
	}
	hc := func(want int, args ...string) {
		t.Helper()
		out, errOut, code := runBin(t, env, append([]string{"healthcheck"}, args...)...)
		if code != want {
			t.Errorf("healthcheck %v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
	}
	hc(0, "--url", "http://"+admin+"/livez")
	hc(0, "--url", srv.base+"/livez")
	hc(0, "--url", srv.base+"/readyz")
	hc(1, "--url", srv.base+"/healthz")
	hc(1, "--url", "http://127.0.0.1:1/livez")

	code, metrics := srv.do(t, "GET", "http://"+admin+"/metrics", "", "")
	if code != 200 {
		t.Fatalf("admin /metrics: %d", code)
	}
	for _, re := range []string{
		`loyalty_build_info\{goversion="go[^"]+",revision="[^"]+",version="[^"]+"\} 1`,
		`loyalty_redis_command_errors_total\{client="primary",command="[a-z_]+"\} [1-9]`,
		`loyalty_redis_command_duration_seconds_count\{client="primary",command="evalsha"\} [1-9]`,
		`loyalty_clickhouse_operation_errors_total\{operation="ping"\} [1-9]`,
		`loyalty_replica_lag_seqs (NaN|\d+)`,
		`loyalty_replica_lag_seconds `,
		`loyalty_ledger_ship_retries_total \d+`,
		`loyalty_ledger_oldest_unshipped_seconds `,
		`loyalty_ledger_backlog \d+`,
	} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("admin /metrics has no line matching %s", re)
		}
	}
	// README's metrics table and the scrape name the same metrics.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Probes, metrics and logs")
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(loyalty_[a-z_]+)").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	for _, m := range regexp.MustCompile("`(loyalty_[a-z_]+)[`{]").FindAllStringSubmatch(section, -1) {
		if !strings.HasPrefix(m[1], "loyalty_ingest_") {
			documented[m[1]] = true
		}
	}
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (loyalty_[a-z_]+) `).FindAllStringSubmatch(metrics, -1) {
		exported[m[1]] = true
		if !documented[m[1]] {
			t.Errorf("/metrics exports %s, which README's metrics table does not document", m[1])
		}
	}
	for name := range documented {
		if !exported[name] {
			t.Errorf("README documents %s, which /metrics does not export", name)
		}
	}
	if code, _ := srv.do(t, "GET", "http://"+admin+"/debug/pprof/", "", ""); code != 200 {
		t.Errorf("admin pprof: %d", code)
	}

	srv.stop(t)
	logs := srv.log()
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("a log line is not JSON: %s", sc.Text())
		}
		for k, v := range m {
			if s, ok := v.(string); ok && regexp.MustCompile(`^[0-9.]+(ns|µs|ms|s|m)$`).MatchString(s) {
				t.Errorf("%s=%s: a duration not in milliseconds", k, s)
			}
		}
	}
	for _, w := range []string{`"component":"go-redis"`, `"msg":"config"`, `"http.shutdown_timeout_ms":5000`, `"auth.hs256_key":"****"`, `"msg":"shutting down: draining requests"`, `"backlog":`, `"msg":"stopped"`} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %s:\n%s", w, logs)
		}
	}
	if strings.Contains(logs, testKey) {
		t.Errorf("a key is logged")
	}
}

// TestEmbeddedKeys: on the embedded store the first start generates the
// keys in the data directory; `loyalty token` uses them while serve runs;
// they survive a restart; a token signed with another data directory's key
// is refused; `balances` reads the ledger while serve owns the directory.
func TestEmbeddedKeys(t *testing.T) {
	t.Parallel()
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	envA := cleanEnv("LOYALTY_DATA_DIR="+dirA, "LOYALTY_LOG_LEVEL=warn")
	envB := cleanEnv("LOYALTY_DATA_DIR="+dirB, "LOYALTY_LOG_LEVEL=warn")
	srv := startServe(t, envA)
	tok := func(env []string, sub, role string) string {
		out, errOut, code := runBin(t, env, "token", sub, "--role", role)
		if code != 0 {
			t.Fatalf("token: exit %d %s", code, errOut)
		}
		return strings.TrimSpace(out)
	}
	meA, meB := tok(envA, "17850", "customer"), tok(envB, "17850", "customer")
	if code, body := srv.do(t, "POST", srv.base+"/order/k-1", tok(envA, "pos-1", "channel"), orderBody("17850", "54.99")); code != 201 {
		t.Fatalf("order: %d %s", code, body)
	}
	if code, _ := srv.get(t, "/loyalty/17850", meA); code != 200 {
		t.Fatalf("token of the server's own data dir: %d", code)
	}
	if code, _ := srv.get(t, "/loyalty/17850", meB); code != 401 {
		t.Fatalf("token of another data dir: %d, want 401", code)
	}
	out, errOut, code := runBin(t, envA, "balances")
	if code != 0 || out != "customer_id,points\n17850,5\n" {
		t.Fatalf("balances while serve runs: exit %d %q %s", code, out, errOut)
	}
	_, body := srv.get(t, "/loyalty/17850", meA)
	srv.stop(t)
	srv = startServe(t, envA)
	asOf := regexp.MustCompile(`"asOf":\{[^}]*\}`)
	if code, again := srv.get(t, "/loyalty/17850", meA); code != 200 || asOf.ReplaceAllString(again, "") != asOf.ReplaceAllString(body, "") {
		t.Fatalf("after a restart: %d %s, want 200 and the same dashboard (proxy names too) %s", code, again, body)
	}
}

// TestMigrateLists: migrate says which migrations it applied, and that
// none were needed the second time.
func TestMigrateLists(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	out, errOut, code := runBin(t, st.env, "migrate")
	if code != 0 || !strings.Contains(out, "applied 0001_") || !regexp.MustCompile(`is current \((\d+) migrations applied now, (\d+) in all\)`).MatchString(out) {
		t.Fatalf("first migrate: exit %d\n%s%s", code, out, errOut)
	}
	m := regexp.MustCompile(`\((\d+) migrations applied now, (\d+) in all\)`).FindStringSubmatch(out)
	if m[1] != m[2] || strings.Count(out, "applied 0") != mustAtoi(t, m[1]) {
		t.Errorf("first migrate on an empty database: %s", out)
	}
	out, _, code = runBin(t, st.env, "migrate")
	if code != 0 || strings.Contains(out, "applied 0") || !strings.Contains(out, "(0 migrations applied now") {
		t.Fatalf("second migrate: exit %d\n%s", code, out)
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReadmeIngestExample runs the README's ingest example as written, on
// the repository's gzipped retail files (the first days), with
// --metrics-file: the balances and the metrics agree with ExpectRetail's
// independent count.
func TestReadmeIngestExample(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := filepath.Glob(filepath.Join(root, "testdata", "online-retail", "*.csv.gz"))
	if len(gz) != 305 {
		t.Fatalf("%d gzipped retail files in testdata/online-retail, want 305", len(gz))
	}
	gz = gz[:5]
	var plain []string
	dir := testenv.RetailData(t)
	for _, g := range gz {
		plain = append(plain, filepath.Join(dir, strings.TrimSuffix(filepath.Base(g), ".gz")))
	}
	want := testenv.ExpectRetail(t, plain)
	work := t.TempDir()
	env := cleanEnv("LOYALTY_DATA_DIR="+filepath.Join(work, "data"), "LOYALTY_LOG_LEVEL=warn")
	metrics := filepath.Join(work, "ingest.prom")
	args := append([]string{"ingest", "--format", "lines", "--rejects", filepath.Join(work, "rejects.csv"), "--metrics-file", metrics}, gz...)
	out, errOut, code := runBin(t, env, args...)
	if code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ = runBin(t, env, "balances")
	if n := strings.Count(out, "\n") - 1; n != len(want.Balances) {
		t.Errorf("%d balances, want %d", n, len(want.Balances))
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		id, p, _ := strings.Cut(l, ",")
		i, _ := strconv.ParseUint(id, 10, 64)
		if n, _ := strconv.ParseInt(p, 10, 64); want.Balances[i] != n {
			t.Errorf("customer %d: %d points, want %d", i, n, want.Balances[i])
		}
	}
	prom, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		fmt.Sprintf("loyalty_ingest_rows %d\n", want.Rows),
		fmt.Sprintf("loyalty_ingest_orders{result=\"applied\"} %d\n", want.Orders),
		fmt.Sprintf("loyalty_ingest_orders{result=\"skipped\"} %d\n", want.Anonymous),
		"loyalty_ingest_rejected_rows 0\n", "loyalty_ingest_files 5\n", "loyalty_ingest_last_run_success 1\n",
	} {
		if !strings.Contains(string(prom), w) {
			t.Errorf("metrics file lacks %q:\n%s", w, prom)
		}
	}
}

// TestLoopback: the development sign-in is only on addresses the network
// can't reach.
func TestLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "10.0.0.5:8080": false, "[::]:8080": false, "example.com:80": false} {
		if loopback(addr) != want {
			t.Errorf("loopback(%q) = %v", addr, !want)
		}
	}
}
