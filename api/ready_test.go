package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ranker"
)

// TestReadyzSettings: /readyz is 503 while a dependency is configured
// unsafely (a Redis that may evict), naming the check, and 200 again once
// fixed.
func TestReadyzSettings(t *testing.T) {
	t.Parallel()
	st := openEmbedded(t)
	var unsafe error
	e := &env{store: st, rank: ranker.Local{B: st.Board()}, rule: newRule(t)}
	e.write = ingest.NewWriter(st, nil, e.rule)
	e.build(t, api.Deps{Ranker: e.rank, Writer: e.write, Settings: func() error { return unsafe }})
	want(t, e.get(t, "/readyz", ""), 200)
	unsafe = errors.New("redis maxmemory-policy is \"allkeys-lru\"")
	r := e.get(t, "/readyz", "")
	want(t, r, 503)
	if !strings.Contains(string(r.Body), `"settings"`) || strings.Contains(string(r.Body), "allkeys") {
		t.Fatalf("readyz body %s: want the settings check down, without the error's text", r.Body)
	}
	unsafe = nil
	want(t, e.get(t, "/readyz", ""), 200)
}
