package api_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/api"
)

// TestEmbeddedSmoke runs the routes on the embedded store.
func TestEmbeddedSmoke(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	ch, staff, me := e.token(t, "app", "channel"), e.token(t, "agent-7", "staff"), e.token(t, "7", "customer")
	want(t, e.post(t, "/order/e-1", ch, orderBody("7", "123.45", "GBP")), 201)
	want(t, e.post(t, "/order/e-1", ch, orderBody("7", "123.45", "GBP")), 200)
	want(t, e.post(t, "/order/e-1", ch, orderBody("7", "1.00", "GBP")), 409)
	want(t, e.post(t, "/order/e-2", ch, orderBody("8", "500", "EUR")), 201)
	want(t, e.post(t, "/loyalty/9", staff, `{"loyalty-points":12,"reason":"welcome","idempotencyKey":"w-9"}`), 201)
	r := e.get(t, "/loyalty/7?top=3&around=1", me)
	want(t, r, 200)
	var d dashJSON
	_ = json.Unmarshal(r.Body, &d)
	// 8: 43 points (425 GBP), 9: 12 (manual), 7: 12 (123.45 GBP): ties break by id.
	if d.Me.Points != 12 || d.Me.Rank != 2 || d.TiedWith != 1 || d.TotalRanked != 3 || len(d.Top) != 3 ||
		!d.Top[1].You || d.Top[0].Points != 43 || len(d.Above) != 1 || len(d.Below) != 1 || d.Below[0].Points != 12 || d.AsOf.Seq != 3 {
		t.Fatalf("dashboard %+v", d)
	}
	want(t, e.get(t, "/loyalty/8", me), 403)
	want(t, e.get(t, "/readyz", ""), 200)
	want(t, e.get(t, "/healthz", ""), 200)
}

// TestRouting: unknown routes and methods get problems too.
func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/nope", 404},
		{"GET", "/loyalty", 404},
		{"GET", "/loyalty/1/", 404},
		{"PATCH", "/order/x", 405},
		{"PUT", "/order/x", 401},
		{"DELETE", "/loyalty/1", 405},
		{"POST", "/readyz", 405},
	} {
		r := e.do(t, req{method: c.method, path: c.path})
		want(t, r, c.status)
		r.Problem(t)
	}
}

// TestRequestID echoes a sane X-Request-ID and replaces others.
func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	r := e.do(t, req{method: "GET", path: "/nope", header: map[string]string{"X-Request-ID": "abc-123"}})
	if r.Header.Get("X-Request-ID") != "abc-123" || r.Problem(t).RequestID != "abc-123" {
		t.Fatalf("request id not echoed: %v", r.Header)
	}
	r = e.do(t, req{method: "GET", path: "/readyz", header: map[string]string{"X-Request-ID": "bad id <script>"}})
	if id := r.Header.Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Fatalf("generated request id %q", id)
	}
}

// TestMetrics exposes latency by route template, the counters and gauges.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	want(t, e.post(t, "/order/m-1", e.token(t, "app", "channel"), orderBody("7", "100", "GBP")), 201)
	want(t, e.post(t, "/order/m-2", e.token(t, "app", "channel"), orderBody("7", "-30", "GBP")), 201)
	want(t, e.get(t, "/loyalty/7", e.token(t, "7", "customer")), 200)
	want(t, e.get(t, "/nope", ""), 404)
	r := e.get(t, "/metrics", "")
	want(t, r, 200)
	body := string(r.Body)
	for _, s := range []string{
		`loyalty_http_request_duration_seconds_count{method="GET",route="/loyalty/:userId",status="200"} 1`,
		`loyalty_http_request_duration_seconds_count{method="POST",route="/order/:orderId",status="201"} 2`,
		`loyalty_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1`,
		`loyalty_orders_total{result="applied"} 2`,
		`loyalty_points_total{cause="order",direction="awarded"} 10`,
		`loyalty_points_total{cause="refund",direction="removed"} 3`,
		`loyalty_index_customers 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("metrics lack %s", s)
		}
	}
}

// TestRedisDown: with Redis gone, dashboards are answered from the loaded
// replica marked stale, writes answer 503, health says so, and readiness
// (the loaded replica) does not depend on it.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	e := newOwnRedisEnv(t, func(c *api.Config) { c.RequestTimeout = 500 * time.Millisecond })
	me := e.token(t, "5", "customer")
	want(t, e.get(t, "/loyalty/5", me), 200)
	want(t, e.get(t, "/healthz", ""), 200)
	e.redis.Stop()
	if r := e.get(t, "/loyalty/5", me); r.Status != 200 || r.Header.Get("Loyalty-Stale") != "true" {
		t.Fatalf("dashboard with Redis gone: %d %v %s; want 200 marked stale", r.Status, r.Header, r.Body)
	}
	for _, r := range []*response{
		e.post(t, "/order/d-1", e.token(t, "app", "channel"), orderBody("5", "10", "GBP")),
		e.post(t, "/loyalty/5", e.token(t, "agent", "staff"), `{"loyalty-points":5,"reason":"r","idempotencyKey":"k"}`),
	} {
		want(t, r, 503)
		if r.Header.Get("Retry-After") == "" || strings.Contains(string(r.Body), e.redis.Addr) {
			t.Fatalf("503 %v %s", r.Header, r.Body)
		}
	}
	want(t, e.get(t, "/healthz", ""), 503)
	want(t, e.get(t, "/readyz", ""), 200)
}

func TestProxyNames(t *testing.T) {
	t.Parallel()
	a, b := api.NewProxyNamer([]byte("key-one-0123456789")), api.NewProxyNamer([]byte("key-two-0123456789"))
	pattern := regexp.MustCompile(`^[A-Z][a-z]+ [A-Z][a-z]+ [0-9]{4}$`)
	seen := map[string]bool{}
	same := 0
	for id := uint64(1); id <= 5000; id++ {
		n := a.Name(id)
		if !pattern.MatchString(n) || n != a.Name(id) {
			t.Fatalf("name %q of %d", n, id)
		}
		if n == b.Name(id) {
			same++
		}
		seen[n] = true
	}
	if same > 5 || len(seen) < 4990 {
		t.Fatalf("names barely depend on the key (%d same) or collide (%d distinct of 5000)", same, len(seen))
	}
	if got := a.Name(17850); got != api.NewProxyNamer([]byte("key-one-0123456789")).Name(17850) {
		t.Fatalf("name not stable: %q", got)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	deps := api.Deps{Ranker: e.rank, Writer: e.write}
	if _, err := api.New(api.DefaultConfig(), deps, quiet); err == nil {
		t.Fatal("a config without keys was accepted")
	}
	for name, f := range map[string]func(*api.Config){
		"top above max":   func(c *api.Config) { c.DefaultTop = 101 },
		"max around":      func(c *api.Config) { c.MaxAround = -1 },
		"short proxy key": func(c *api.Config) { c.ProxyKey = []byte("short") },
		"short hs key":    func(c *api.Config) { c.Auth.HS256Key = []byte("short") },
		"bad pem":         func(c *api.Config) { c.Auth.RS256PublicKeyPEM = []byte("not pem") },
		"no audience":     func(c *api.Config) { c.Auth.Audience = "" },
		"no timeout":      func(c *api.Config) { c.RequestTimeout = 0 },
		"tiny body":       func(c *api.Config) { c.MaxBodyBytes = 10 },
	} {
		cfg := testConfig()
		f(&cfg)
		if _, err := api.New(cfg, deps, quiet); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := api.New(testConfig(), api.Deps{}, quiet); err == nil {
		t.Fatal("missing deps accepted")
	}
}
