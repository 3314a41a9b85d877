package distribution_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/distribution"
	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
	"github.com/xyz/loyalty/ranker"
	"gonum.org/v1/plot/vg"
)

// service runs the API on an embedded store with customers 1..n holding
// i*i % 997 + 1 points, and returns its URL, the API config and the board.
func service(t *testing.T, n int) (string, api.Config, *ranker.Board) {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rule, err := points.New(points.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	w := ingest.NewWriter(st, nil, rule)
	var cs []ledger.Change
	for i := 1; i <= n; i++ {
		c := ledger.Change{ID: fmt.Sprintf("d-%d", i), CustomerID: uint64(i), Points: int64(i*i%997 + 1), Cause: ledger.CauseOrder,
			OccurredAt: time.Now().UTC().Truncate(time.Second)}
		c.Seal()
		cs = append(cs, c)
	}
	if len(cs) > 0 {
		if _, err := w.Apply(t.Context(), cs); err != nil {
			t.Fatal(err)
		}
	}
	cfg := api.DefaultConfig()
	cfg.Auth.HS256Key = []byte("test-hs256-key-of-at-least-32-bytes!")
	cfg.ProxyKey = []byte("test-proxy-key-16+")
	rk := ranker.Local{B: st.Board()}
	srv, err := api.New(cfg, api.Deps{Ranker: rk, Writer: w}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, cfg, st.Board()
}

// TestFetchTablePlot reads the distribution of a running API, checks it
// against the board's own, and renders the table and a well-formed SVG.
func TestFetchTablePlot(t *testing.T) {
	url, cfg, board := service(t, 3000)
	tok, err := api.MintToken(cfg.Auth, "analyst", api.RoleStaff, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	d, err := distribution.Fetch(t.Context(), http.DefaultClient, distribution.Request{BaseURL: url + "/", Token: tok, Buckets: 12})
	if err != nil {
		t.Fatal(err)
	}
	want := board.Distribution(12)
	if d.TotalRanked != want.Total || d.Min != want.Min || d.Max != want.Max || len(d.Buckets) != len(want.Buckets) || d.Board != "all-time" {
		t.Fatalf("fetched %+v; the board says %+v", d, want)
	}
	for i, b := range want.Buckets {
		if d.Buckets[i] != (distribution.Bucket{From: b.Lo, To: b.Hi, Count: b.Count}) {
			t.Fatalf("bucket %d: %+v, want %+v", i, d.Buckets[i], b)
		}
	}
	for i, q := range distribution.QuantileNames {
		if d.Quantiles[q] != want.Quantiles[i].Points {
			t.Fatalf("%s = %d, want %d", q, d.Quantiles[q], want.Quantiles[i].Points)
		}
	}
	var table bytes.Buffer
	if err := distribution.WriteTable(&table, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "3000 customers with points") || !strings.Contains(table.String(), fmt.Sprintf("p99.9  %d", d.Quantiles["p99.9"])) {
		t.Fatalf("table:\n%s", table.String())
	}
	var svg bytes.Buffer
	if err := distribution.Plot(&svg, d, 8*vg.Inch, 5*vg.Inch); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	root := ""
	for {
		tk, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tk.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" || !strings.Contains(svg.String(), fmt.Sprintf("p50 = %d", d.Quantiles["p50"])) {
		t.Fatalf("SVG root %q, legend missing: %.300s", root, svg.String())
	}
}

// TestFetchErrors: the service's problem reaches the user, as do a wrong
// URL and an empty board.
func TestFetchErrors(t *testing.T) {
	url, cfg, _ := service(t, 0)
	cust, _ := api.MintToken(cfg.Auth, "17850", api.RoleCustomer, time.Minute)
	staff, _ := api.MintToken(cfg.Auth, "analyst", api.RoleStaff, time.Minute)
	_, err := distribution.Fetch(t.Context(), http.DefaultClient, distribution.Request{BaseURL: url, Token: cust})
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "staff") {
		t.Fatalf("customer token: %v; want the 403 problem naming the staff role", err)
	}
	_, err = distribution.Fetch(t.Context(), http.DefaultClient, distribution.Request{BaseURL: url, Token: staff, Buckets: 500})
	if err == nil || !strings.Contains(err.Error(), "buckets") {
		t.Fatalf("500 buckets: %v; want the problem naming buckets", err)
	}
	if _, err = distribution.Fetch(t.Context(), http.DefaultClient, distribution.Request{BaseURL: "127.0.0.1:8080", Token: staff}); err == nil || !strings.Contains(err.Error(), "http://host:port") {
		t.Fatalf("URL without scheme: %v", err)
	}
	d, err := distribution.Fetch(t.Context(), http.DefaultClient, distribution.Request{BaseURL: url, Token: staff})
	if err != nil || d.TotalRanked != 0 {
		t.Fatalf("empty board: %+v %v", d, err)
	}
	if err := distribution.Plot(io.Discard, d, vg.Inch, vg.Inch); !errors.Is(err, distribution.ErrEmpty) {
		t.Fatalf("plot of an empty board: %v, want ErrEmpty", err)
	}
}
