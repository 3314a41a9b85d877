package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/internal/testenv"
)

// TestMetricsLabelsBounded: 1,000 requests with random methods (made up
// and standard) and random paths add no more than the standard methods
// plus "other" times the route templates times the statuses to /metrics,
// which needs no token.
func TestMetricsLabelsBounded(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	std := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}
	paths := []string{"/loyalty/17850", "/order/o-1", "/healthz", "/readyz", "/livez", "/openapi.json", "/nope", "/order/x/y"}
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := 0; i < 1000; i++ {
		m := std[rng.IntN(len(std))]
		if rng.IntN(2) == 0 {
			b := make([]byte, 1+rng.IntN(2000))
			for j := range b {
				b[j] = letters[rng.IntN(len(letters))]
			}
			m = string(b)
		}
		p := paths[rng.IntN(len(paths))]
		if rng.IntN(4) == 0 {
			p = fmt.Sprintf("/random/%d", rng.Int64())
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, httptest.NewRequest(m, p, nil))
		if len(m) > 64 && strings.Contains(w.Body.String(), m) {
			t.Fatalf("%s %s: the made-up method is echoed back (%d bytes)", m[:10], p, w.Body.Len())
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("/metrics: %d", w.Code)
	}
	series := regexp.MustCompile(`(?m)^loyalty_http_request_duration_seconds_count\{method="([^"]*)",route="([^"]*)",status="([^"]*)"\}`).FindAllStringSubmatch(w.Body.String(), -1)
	methods, routes, statuses := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range series {
		methods[s[1]], routes[s[2]], statuses[s[3]] = true, true, true
	}
	allowed := map[string]bool{"other": true, "CONNECT": true}
	for _, m := range std {
		allowed[m] = true
	}
	for m := range methods {
		if !allowed[m] {
			t.Errorf("method label %q (%d bytes) is not a standard method or other", m[:min(len(m), 20)], len(m))
		}
	}
	if !methods["other"] {
		t.Errorf("no method=\"other\" series after made-up methods")
	}
	for r := range routes {
		if strings.HasPrefix(r, "/random") || strings.Contains(r, "17850") {
			t.Errorf("route label %q is a path, not a template", r)
		}
	}
	if max := len(allowed) * len(routes) * len(statuses); len(series) > max || len(series) > 200 {
		t.Errorf("%d series (methods %d, routes %d, statuses %d)", len(series), len(methods), len(routes), len(statuses))
	}
	if w.Body.Len() > 256<<10 {
		t.Errorf("a scrape is %d bytes", w.Body.Len())
	}
	t.Logf("%d series, %d bytes a scrape", len(series), w.Body.Len())
}

// TestLivez: /livez answers 200 from the process alone, whatever the
// dependencies say; /healthz reports them.
func TestLivez(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	down := func() error { return fmt.Errorf("connection refused") }
	e.build(t, api.Deps{Ranker: e.rank, Writer: e.write, Settings: down,
		Checks: []api.Check{{Name: "clickhouse", Check: func(context.Context) error { return down() }}}})
	want(t, e.get(t, "/livez", ""), 200)
	want(t, e.get(t, "/healthz", ""), 503)
	want(t, e.get(t, "/readyz", ""), 503)
}

// TestAdminListener: with AdminOnlyMetrics the public handler has no
// /metrics; the admin handler serves it, the probes and pprof.
func TestAdminListener(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t, func(c *api.Config) { c.AdminOnlyMetrics = true })
	want(t, e.get(t, "/metrics", ""), 404)
	adm := e.srv.AdminHandler()
	for path, status := range map[string]int{"/metrics": 200, "/livez": 200, "/readyz": 200, "/healthz": 200, "/debug/pprof/": 200, "/debug/pprof/cmdline": 200, "/order/x": 404} {
		w := httptest.NewRecorder()
		adm.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != status {
			t.Errorf("admin %s: %d, want %d", path, w.Code, status)
		}
	}
	w := httptest.NewRecorder()
	adm.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(w.Body.String(), "loyalty_http_request_duration_seconds") {
		t.Errorf("admin /metrics lacks the API's metrics")
	}
}

// TestManualPointsEveryInvalidField: POST /loyalty/{userId} names every
// invalid field in one 422, a field of the wrong type too.
func TestManualPointsEveryInvalidField(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	staff := e.token(t, "alice", api.RoleStaff)
	cases := []struct {
		body   string
		fields []string
	}{
		{`{"loyalty-points":"ten","reason":5}`, []string{"loyalty-points", "reason", "idempotencyKey"}},
		{`{"loyalty-points":0,"reason":"","idempotencyKey":"bad key!"}`, []string{"loyalty-points", "reason", "idempotencyKey"}},
		{`{"loyalty-points":1.5,"reason":"goodwill","idempotencyKey":"k-1"}`, []string{"loyalty-points"}},
		{`{"reason":"goodwill","idempotencyKey":7}`, []string{"loyalty-points", "idempotencyKey"}},
	}
	for _, c := range cases {
		r := e.post(t, "/loyalty/17850", staff, c.body)
		want(t, r, 422)
		p := r.Problem(t)
		var got []string
		for _, fi := range p.Errors {
			got = append(got, fi.Field)
		}
		if strings.Join(got, ",") != strings.Join(c.fields, ",") {
			t.Errorf("%s: fields %v, want %v (%s)", c.body, got, c.fields, p.Detail)
		}
		for _, f := range c.fields {
			if !strings.Contains(p.Detail, f) {
				t.Errorf("%s: detail %q does not name %s", c.body, p.Detail, f)
			}
		}
	}
	if e.store.Board().Len() != 0 {
		t.Fatalf("an invalid request applied points")
	}
}

// TestForbiddenNamesRole: a 403 says which role the route needs and the
// token's role.
func TestForbiddenNamesRole(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	cases := []struct{ method, path, sub, role, want string }{
		{"POST", "/loyalty/17850", "17850", api.RoleCustomer, "needs a token with role staff; this token's role is customer"},
		{"POST", "/order/o-1", "alice", api.RoleStaff, "needs a token with role channel; this token's role is staff"},
		{"PUT", "/order/o-1", "17850", api.RoleCustomer, "needs a token with role channel or staff"},
		{"GET", "/loyalty/17850", "pos-1", api.RoleChannel, "needs a token with role customer or staff"},
		{"GET", "/loyalty/13047", "17850", api.RoleCustomer, "may read only its own customer's"},
	}
	for _, c := range cases {
		r := e.do(t, req{method: c.method, path: c.path, token: e.token(t, c.sub, c.role), body: `{}`})
		want(t, r, 403)
		if p := r.Problem(t); !strings.Contains(p.Detail, c.want) {
			t.Errorf("%s %s as %s: %q does not say %q", c.method, c.path, c.role, p.Detail, c.want)
		}
	}
}

// TestOpenAPIExamples: every request body, every response with a body and
// every problem has an example, and each JSON example is valid against its
// schema.
func TestOpenAPIExamples(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	spec := loadOpenAPI(t)
	type media struct {
		Schema   *schema                        `json:"schema"`
		Example  any                            `json:"example"`
		Examples map[string]struct{ Value any } `json:"examples"`
	}
	type body struct {
		Ref     string           `json:"$ref"`
		Content map[string]media `json:"content"`
	}
	checkBody := func(at string, b body) {
		for ct, m := range b.Content {
			var values []any
			if m.Example != nil {
				values = append(values, m.Example)
			}
			for _, e := range m.Examples {
				values = append(values, e.Value)
			}
			if len(values) == 0 {
				t.Errorf("%s %s: no example", at, ct)
			}
			if !strings.Contains(ct, "json") {
				continue
			}
			for _, v := range values {
				if err := spec.validate(m.Schema, v, at); err != nil {
					t.Errorf("%s %s: example not valid: %v", at, ct, err)
				}
			}
		}
	}
	for name, r := range doc.Components.Responses {
		var b body
		if err := json.Unmarshal(r, &b); err != nil {
			t.Fatal(err)
		}
		checkBody("components.responses."+name, b)
	}
	for path, ops := range doc.Paths {
		for method, rawOp := range ops {
			var op struct {
				RequestBody *body           `json:"requestBody"`
				Responses   map[string]body `json:"responses"`
			}
			if err := json.Unmarshal(rawOp, &op); err != nil {
				continue // not an operation (parameters)
			}
			at := strings.ToUpper(method) + " " + path
			if op.RequestBody != nil {
				checkBody(at+" request", *op.RequestBody)
			}
			for status, r := range op.Responses {
				if r.Ref == "" {
					checkBody(at+" "+status, r)
				}
			}
		}
	}
}
