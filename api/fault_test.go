package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/api/mocks"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
	"go.uber.org/mock/gomock"
)

// newMockEnv wires the API over mocks, for faults real servers can't
// easily produce.
func newMockEnv(t *testing.T, tweak ...func(*api.Config)) (*env, *mocks.MockRanker, *mocks.MockWriter) {
	t.Helper()
	ctrl := gomock.NewController(t)
	rk, w := mocks.NewMockRanker(ctrl), mocks.NewMockWriter(ctrl)
	e := &env{rank: rk}
	e.build(t, api.Deps{Ranker: rk, Writer: w, Checks: []api.Check{
		{Name: "redis", Check: func(context.Context) error { return nil }},
		{Name: "clickhouse", Check: func(context.Context) error { return errors.New("dial tcp 10.1.2.3:9000: connection refused") }},
	}}, tweak...)
	return e, rk, w
}

// secret is text a dependency's error carries that must never reach a client.
const secret = "10.1.2.3:6379"

// generic fails unless r is a problem with status and a body free of
// internals.
func generic(t *testing.T, r *response, status int) {
	t.Helper()
	want(t, r, status)
	p := r.Problem(t)
	if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), "deadline") || p.RequestID == "" {
		t.Fatalf("%d body leaks internals or lacks the request id: %s", status, r.Body)
	}
	if status == 503 && r.Header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
}

func TestRankerFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"deadline", context.DeadlineExceeded, 503},
		{"redis down", fmt.Errorf("read seq: %w: dial tcp %s: connection refused", redisindex.ErrUnavailable, secret), 503},
		{"not ready", fmt.Errorf("%w: replica at seq 3, index at 9 (%s)", ranker.ErrNotReady, secret), 503},
		{"unexpected", fmt.Errorf("bad reply from %s", secret), 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, rk, _ := newMockEnv(t)
			rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).Return(ranker.Dashboard{}, c.err)
			generic(t, e.get(t, "/loyalty/42", e.token(t, "42", "customer")), c.status)
		})
	}
	// A ranker that never answers: the request timeout gives 503, not a hang.
	e, rk, _ := newMockEnv(t, func(c *api.Config) { c.RequestTimeout = 50 * time.Millisecond })
	rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).DoAndReturn(
		func(ctx context.Context, _ uint64, _, _ int) (ranker.Dashboard, error) {
			<-ctx.Done()
			return ranker.Dashboard{}, ctx.Err()
		})
	done := make(chan *response, 1)
	tok := e.token(t, "42", "customer") // here: it may t.Fatal, the goroutine may not
	go func() { done <- e.get(t, "/loyalty/42", tok) }()
	select {
	case r := <-done:
		generic(t, r, 503)
	case <-time.After(10 * time.Second):
		t.Fatal("a hung ranker hangs the request")
	}
	// A panic is a 500 problem.
	e, rk, _ = newMockEnv(t)
	rk.EXPECT().Dashboard(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
		func(context.Context, uint64, int, int) (ranker.Dashboard, error) { panic("boom at " + secret) })
	generic(t, e.get(t, "/loyalty/42", e.token(t, "42", "customer")), 500)
	// Readiness follows the ranker.
	rk.EXPECT().Ready().Return(false)
	want(t, e.get(t, "/readyz", ""), 503)
	rk.EXPECT().Ready().Return(true)
	want(t, e.get(t, "/readyz", ""), 200)
}

func TestWriterFaults(t *testing.T) {
	t.Parallel()
	e, _, w := newMockEnv(t)
	ch, staff := e.token(t, "web-shop", "channel"), e.token(t, "agent-7", "staff")
	down := fmt.Errorf("%w: apply changes: dial tcp %s: i/o timeout", ingest.ErrUnavailable, secret)
	w.EXPECT().ApplyOrder(gomock.Any(), gomock.Any(), "web-shop").Return(ledger.Outcome{}, down)
	generic(t, e.post(t, "/order/f-1", ch, orderBody("42", "10", "GBP")), 503)
	w.EXPECT().Apply(gomock.Any(), gomock.Any()).Return(nil, down)
	generic(t, e.post(t, "/loyalty/42", staff, `{"loyalty-points":5,"reason":"r","idempotencyKey":"k"}`), 503)
	w.EXPECT().ApplyOrder(gomock.Any(), gomock.Any(), gomock.Any()).Return(ledger.Outcome{}, context.DeadlineExceeded)
	generic(t, e.post(t, "/order/f-2", ch, orderBody("42", "10", "GBP")), 503)
	w.EXPECT().Apply(gomock.Any(), gomock.Any()).Return([]ledger.Outcome{}, nil)
	generic(t, e.post(t, "/loyalty/42", staff, `{"loyalty-points":5,"reason":"r","idempotencyKey":"k"}`), 500)

	// The manual change the API builds: id, cause, actor, a sealed digest.
	w.EXPECT().Apply(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
		c := cs[0]
		sealed := c
		sealed.Seal()
		if len(cs) != 1 || c.ID != "manual:k9" || c.CustomerID != 42 || c.Points != -5 || c.Cause != ledger.CauseManual ||
			c.Reason != "fix" || c.Actor != "agent-7" || c.OccurredAt.IsZero() || c.Digest == "" || c.Digest != sealed.Digest {
			t.Errorf("manual change %+v", c)
		}
		return []ledger.Outcome{{Entry: ledger.Entry{Change: c, Seq: 9, Delta: -5, Balance: 1}}}, nil
	})
	want(t, e.post(t, "/loyalty/42", staff, `{"loyalty-points":-5,"reason":" fix ","idempotencyKey":"k9"}`), 201)

	// An index refusal that is not a conflict (a balance limit) says so.
	w.EXPECT().Apply(gomock.Any(), gomock.Any()).Return([]ledger.Outcome{{Err: errors.New("balance would exceed 16777215 points")}}, nil)
	r := e.post(t, "/loyalty/42", staff, `{"loyalty-points":5,"reason":"r","idempotencyKey":"k"}`)
	want(t, r, 422)
	if p := r.Problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "loyalty-points" {
		t.Fatalf("problem %+v", p)
	}
}

// TestHealthz reports each dependency without its error text.
func TestHealthz(t *testing.T) {
	t.Parallel()
	e, _, _ := newMockEnv(t)
	r := e.get(t, "/healthz", "")
	want(t, r, 503)
	m := r.JSON(t)
	if m["status"] != "unavailable" || strings.Contains(string(r.Body), "10.1.2.3") {
		t.Fatalf("healthz %s", r.Body)
	}
	got := map[string]any{}
	for _, c := range m["checks"].([]any) {
		c := c.(map[string]any)
		got[c["name"].(string)] = c["status"]
	}
	if got["process"] != "up" || got["redis"] != "up" || got["clickhouse"] != "down" {
		t.Fatalf("checks %v", got)
	}
}
