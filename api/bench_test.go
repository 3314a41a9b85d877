package api_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

const benchCustomers = 100_000

// benchServer is the API over an embedded store of benchCustomers
// customers with lognormal-ish balances, plus GET /hello on the same engine
// behind the same middleware. Logs are discarded.
func benchServer(b *testing.B) (http.Handler, []string, []uint64) {
	b.Helper()
	st, err := embedded.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	cs := make([]ledger.Change, 0, benchCustomers)
	now := time.Now().UTC().Truncate(time.Second)
	for id := 1; id <= benchCustomers; id++ {
		p := int64(1 + r.ExpFloat64()*40)
		c := ledger.Change{ID: "b-" + strconv.Itoa(id), CustomerID: uint64(id), Points: p, Cause: ledger.CauseOrder, OccurredAt: now}
		c.Seal()
		cs = append(cs, c)
	}
	if _, err := st.Apply(b.Context(), cs); err != nil {
		b.Fatal(err)
	}
	cfg := testConfig()
	srv, err := api.New(cfg, api.Deps{Ranker: ranker.Local{B: st.Board()}, Writer: ingest.NewWriter(st, nil, newRule(b))},
		slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	api.EngineOf(srv).GET("/hello", func(c *gin.Context) { c.String(http.StatusOK, "hello") })
	toks := make([]string, 1024)
	ids := make([]uint64, len(toks))
	for i := range toks {
		ids[i] = uint64(r.IntN(benchCustomers)) + 1
		toks[i], _ = api.MintToken(cfg.Auth, strconv.FormatUint(ids[i], 10), api.RoleCustomer, time.Hour)
	}
	return srv.Handler(), toks, ids
}

// BenchmarkDashboardHTTP serves a customer's dashboard (top 10, 2 around):
// token check, ranker, proxy names, JSON, all middleware.
func BenchmarkDashboardHTTP(b *testing.B) {
	h, toks, ids := benchServer(b)
	reqs := make([]*http.Request, len(toks))
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, fmt.Sprintf("/loyalty/%d", ids[i]), nil)
		reqs[i].Header.Set("Authorization", "Bearer "+toks[i])
	}
	i := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		i++
	}
}

// BenchmarkTrivialHTTP serves GET /hello on the same engine: the ceiling.
func BenchmarkTrivialHTTP(b *testing.B) {
	h, _, _ := benchServer(b)
	r := httptest.NewRequest(http.MethodGet, "/hello", nil)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
