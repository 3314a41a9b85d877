package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/internal/writecontract"
	"github.com/xyz/loyalty/points"
	"github.com/xyz/loyalty/ranker"
	"github.com/xyz/loyalty/season"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(testenv.Main(m))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testConfig is the API config of every test: an HS256 key, a proxy key.
func testConfig() api.Config {
	cfg := api.DefaultConfig()
	cfg.Auth.HS256Key = []byte("test-hs256-key-of-at-least-32-bytes!")
	cfg.ProxyKey = []byte("test-proxy-key-16+")
	return cfg
}

// env is an API under test and what it runs on.
type env struct {
	cfg   api.Config
	srv   *api.Server
	h     http.Handler
	redis *testenv.Server   // nil unless on Redis
	idx   *redisindex.Index // nil unless on Redis
	rep   *ranker.Replica   // nil unless on Redis
	store *embedded.Store   // nil unless embedded
	rank  api.Ranker        //
	names *api.ProxyNamer   //
	rule  *points.Rule      //
	spec  *openAPI          //
	write *ingest.Writer    // nil with mocks

	ledger  *chledger.Ledger // with newLedgerEnv
	shipper *ingest.Shipper  // with newLedgerEnv: ship() fills the ledger
}

// ship moves the change log into the ledger (newLedgerEnv).
func (e *env) ship(t testing.TB) {
	t.Helper()
	if _, err := e.shipper.ShipOnce(testenv.Context(t)); err != nil {
		t.Fatal(err)
	}
}

func newRule(t testing.TB) *points.Rule {
	t.Helper()
	r, err := points.New(points.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newRedisEnv wires the API over a real Redis: the histogram index, a
// replica following it, and the writer.
func newRedisEnv(t testing.TB, tweak ...func(*api.Config)) *env {
	t.Helper()
	return newRedisEnvLedger(t, false, tweak...)
}

// newLedgerEnv is newRedisEnv with the ClickHouse ledger behind the writer
// and a shipper filling it, as serve wires them: manual points and
// corrections need the ledger (the index may have forgotten their ids).
func newLedgerEnv(t testing.TB, tweak ...func(*api.Config)) *env {
	t.Helper()
	return newRedisEnvLedger(t, true, tweak...)
}

func newRedisEnvLedger(t testing.TB, withLedger bool, tweak ...func(*api.Config)) *env {
	t.Helper()
	return redisEnvOn(t, testenv.SharedRedis(t), false, withLedger, tweak...)
}

// newOwnRedisEnv is newRedisEnv on a Redis of its own, for a test that
// stops it.
func newOwnRedisEnv(t testing.TB, tweak ...func(*api.Config)) *env {
	t.Helper()
	return redisEnvOn(t, testenv.Redis(t), true, false, tweak...)
}

// envs numbers the environments on the shared servers: each has its own
// Redis prefix and ClickHouse database.
var envs atomic.Int64

func redisEnvOn(t testing.TB, srv *testenv.Server, own, withLedger bool, tweak ...func(*api.Config)) *env {
	t.Helper()
	name := fmt.Sprintf("api%d", envs.Add(1))
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	hcfg := redisindex.DefaultConfig()
	hcfg.Prefix = name
	hcfg.DedupeParts = 64
	idx := redisindex.New(rdb, hcfg)
	if _, err := idx.Check(testenv.Context(t)); err != nil {
		t.Fatal(err)
	}
	rcfg := ranker.DefaultReplicaConfig()
	if !own {
		// Waits a loaded machine can't run out of: a dashboard waits for
		// the latest seq rather than answer stale from an older board. (A
		// test on a Redis of its own stops it: it needs the defaults.)
		rcfg.HeadTimeout, rcfg.MaxWait = 10*time.Second, 10*time.Second
		// A blocking read returns after 100 ms when idle: the replica's
		// stop at the test's end waits that long, not the default second.
		rcfg.Poll = 100 * time.Millisecond
	}
	rep := ranker.NewReplica(idx, idx, rcfg, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rep.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if !rep.Ready() {
			return errors.New("replica not ready")
		}
		return nil
	})
	rule := newRule(t)
	w := ingest.NewWriter(idx, nil, rule).WithRecall(idx)
	e := &env{redis: srv, idx: idx, rep: rep, rank: rep, rule: rule, write: w}
	if withLedger {
		lc := chledger.DefaultConfig()
		lc.Addr, lc.Database = testenv.SharedClickHouse(t).Addr, name
		led, err := chledger.Open(testenv.Context(t), lc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { led.Close() })
		e.ledger, e.shipper = led, ingest.NewShipper(idx, nil, led, 10_000, quiet)
		w = ingest.NewWriter(idx, led, rule).WithRecall(idx)
		e.write = w
	}
	e.build(t, api.Deps{
		Ranker: rep, Writer: w,
		Checks:    []api.Check{{Name: "redis", Check: idx.Ping}},
		IndexSize: func() float64 { return float64(rep.Board().Len()) },
	}, tweak...)
	return e
}

// openEmbedded opens an embedded store in a fresh directory, closed in
// t.Cleanup.
func openEmbedded(t testing.TB) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newEmbeddedEnv wires the API over the embedded store.
func newEmbeddedEnv(t testing.TB, tweak ...func(*api.Config)) *env {
	t.Helper()
	st := openEmbedded(t)
	rule := newRule(t)
	w := ingest.NewWriter(st, nil, rule)
	rk := ranker.Local{B: st.Board()}
	e := &env{store: st, rank: rk, rule: rule, write: w}
	e.build(t, api.Deps{Ranker: rk, Writer: w, IndexSize: func() float64 { return float64(st.Board().Len()) }}, tweak...)
	return e
}

// newSeasonEnv wires the API over the embedded store with monthly season
// boards (writecontract.Calendar), two kept; it returns the calendar too.
func newSeasonEnv(t testing.TB) (*env, season.Calendar) {
	t.Helper()
	st := openEmbedded(t)
	cal := writecontract.Calendar()
	e := &env{store: st, rank: ranker.Local{B: st.Board(), Seasons: st.SeasonBoard}, rule: newRule(t)}
	e.write = ingest.NewWriter(st, nil, e.rule).WithRecall(st).WithSeasons(cal)
	e.build(t, api.Deps{Ranker: e.rank, Writer: e.write, Seasons: ranker.Seasons{Calendar: cal, Kept: 2}})
	return e, cal
}

func (e *env) build(t testing.TB, deps api.Deps, tweak ...func(*api.Config)) {
	t.Helper()
	e.cfg = testConfig()
	for _, f := range tweak {
		f(&e.cfg)
	}
	srv, err := api.New(e.cfg, deps, quiet)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.h = srv, srv.Handler()
	e.names = api.NewProxyNamer(e.cfg.ProxyKey)
	e.spec = loadOpenAPI(t)
}

// token mints a valid token.
func (e *env) token(t testing.TB, sub, role string) string {
	t.Helper()
	tok, err := api.MintToken(e.cfg.Auth, sub, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is an answered request.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r *response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return v
}

// Problem decodes a problem body and checks its media type and status.
func (r *response) Problem(t testing.TB) api.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p api.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body: %v\n%s", err, r.Body)
	}
	if p.Status != r.Status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, r.Status)
	}
	return p
}

// req is a request to send.
type req struct {
	method, path, token string
	body                string
	header              map[string]string
}

// do sends a request through the router and checks the response against
// the OpenAPI document.
func (e *env) do(t testing.TB, q req) *response {
	t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r := httptest.NewRequest(q.method, q.path, body)
	if q.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	res := &response{Status: w.Code, Header: w.Header(), Body: bytes.Clone(w.Body.Bytes())}
	if err := e.spec.check(q.method, r.URL.EscapedPath(), res); err != nil {
		t.Errorf("%s %s -> %d: not as documented: %v\n%s", q.method, q.path, res.Status, err, res.Body)
	}
	if res.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s %s: no X-Request-ID", q.method, q.path)
	}
	return res
}

func (e *env) get(t testing.TB, path, token string) *response {
	t.Helper()
	return e.do(t, req{method: http.MethodGet, path: path, token: token})
}

func (e *env) post(t testing.TB, path, token, body string) *response {
	t.Helper()
	return e.do(t, req{method: http.MethodPost, path: path, token: token, body: body})
}

// want fails unless r has status.
func want(t testing.TB, r *response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
}
