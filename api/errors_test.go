package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/api/mocks"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
	"go.uber.org/mock/gomock"
)

// logs keeps the records a server logs.
type logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// mentioning returns the records whose attributes mention text.
func (l *logs) mentioning(text string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		r.Attrs(func(a slog.Attr) bool {
			if strings.Contains(a.Value.String(), text) {
				out = append(out, r)
				return false
			}
			return true
		})
	}
	return out
}

// newLoggedEnv is an API over deps whose log is kept.
func newLoggedEnv(t *testing.T, deps api.Deps) (*env, *logs) {
	t.Helper()
	l := &logs{}
	e := &env{cfg: testConfig(), rank: deps.Ranker, spec: loadOpenAPI(t)}
	srv, err := api.New(e.cfg, deps, slog.New(l))
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.h = srv, srv.Handler()
	return e, l
}

// failingIndex is an index that answers every Apply with err.
type failingIndex struct{ err error }

func (f failingIndex) Apply(context.Context, []ledger.Change) ([]ledger.Outcome, error) {
	return nil, f.err
}

// TestIndexErrorClasses: through the real Writer, an index error that is
// not an outage (an encoding error, a reply that makes no sense) is a 500
// with a generic body, logged once at level error; an outage is a 503.
func TestIndexErrorClasses(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		level  slog.Level
	}{
		{"encoding error", fmt.Errorf("encode change f-1 (%s): %w", secret, &json.UnsupportedValueError{Str: "NaN"}), 500, slog.LevelError},
		{"bad reply", fmt.Errorf(`apply changes: unexpected reply header "?" from %s`, secret), 500, slog.LevelError},
		{"script error", fmt.Errorf("apply changes: ERR user_script:1: attempt to index a nil value (%s)", secret), 500, slog.LevelError},
		{"redis down", fmt.Errorf("apply changes: %w: dial tcp %s: connection refused", ledger.NewError(ledger.ErrUnavailable, "redis unavailable"), secret), 503, slog.LevelWarn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rk := mocks.NewMockRanker(gomock.NewController(t))
			e, l := newLoggedEnv(t, api.Deps{Ranker: rk, Writer: ingest.NewWriter(failingIndex{c.err}, nil, newRule(t))})
			generic(t, e.post(t, "/order/f-1", e.token(t, "web-shop", "channel"), orderBody("42", "10", "GBP")), c.status)
			recs := l.mentioning(secret)
			if len(recs) != 1 || recs[0].Level != c.level {
				t.Fatalf("the error was logged %d times (%v); want once at %v", len(recs), recs, c.level)
			}
		})
	}
}

// TestRankerErrorClasses: a dashboard's error is answered by its class:
// the ranker's ErrUnavailable and ErrNotReady are 503, a fault is 500.
func TestRankerErrorClasses(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"redis down", fmt.Errorf("partial dashboard: %w: dial tcp %s: i/o timeout", ranker.ErrUnavailable, secret), 503},
		{"bad reply", fmt.Errorf("partial dashboard: top list entry %q: invalid syntax (%s)", "x", secret), 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, rk, _ := newMockEnv(t)
			rk.EXPECT().Dashboard(gomock.Any(), uint64(42), 10, 2).Return(ranker.Dashboard{}, c.err)
			generic(t, e.get(t, "/loyalty/42", e.token(t, "42", "customer")), c.status)
		})
	}
}

// TestHistoryUnavailableByClass: a history reader's outage in the shared
// class (as the ClickHouse adapter reports it) is the history's 503, with
// no translation by the caller; a fault is a 500.
func TestHistoryUnavailableByClass(t *testing.T) {
	ctrl := gomock.NewController(t)
	h := mocks.NewMockHistoryReader(ctrl)
	e, _, _ := newMockEnv(t)
	e.build(t, api.Deps{Ranker: mocks.NewMockRanker(ctrl), Writer: mocks.NewMockWriter(ctrl), History: h})
	down := fmt.Errorf("chledger: history: %w: dial tcp %s: connection refused", ledger.NewError(ledger.ErrUnavailable, "clickhouse unavailable"), secret)
	h.EXPECT().HistoryPage(gomock.Any(), uint64(42), uint64(0), gomock.Any()).Return(nil, down)
	r := e.get(t, "/loyalty/42/history", e.token(t, "42", "customer"))
	generic(t, r, 503)
	if p := r.Problem(t); !strings.Contains(p.Detail, "history") {
		t.Fatalf("problem %+v, want the history's", p)
	}
	h.EXPECT().HistoryPage(gomock.Any(), uint64(42), uint64(0), gomock.Any()).Return(nil, fmt.Errorf("chledger: history: bad column (%s)", secret))
	generic(t, e.get(t, "/loyalty/42/history", e.token(t, "42", "customer")), 500)
}

// TestPaymentRefusedByTheRule: an order the points rule refuses (its
// currency or amount) is a 422 naming the field, with the rule's reason.
func TestPaymentRefusedByTheRule(t *testing.T) {
	e, _, w := newMockEnv(t)
	ch := e.token(t, "web-shop", "channel")
	o := ingest.Order{ID: "p-1", CustomerID: 42, Channel: ingest.ChannelWeb, Currency: "USD"}
	_, refused := o.Change(newRule(t), "web-shop")
	if !errors.Is(refused, ingest.ErrInvalid) {
		t.Fatalf("Change of a USD order = %v", refused)
	}
	w.EXPECT().ApplyOrder(gomock.Any(), gomock.Any(), "web-shop").Return(ledger.Outcome{}, refused)
	r := e.post(t, "/order/p-1", ch, orderBody("42", "10", "GBP"))
	want(t, r, 422)
	p := r.Problem(t)
	if len(p.Errors) != 1 || p.Errors[0].Field != "paymentDetails.currency" || !strings.Contains(p.Errors[0].Reason, "only GBP and EUR") {
		t.Fatalf("problem %+v, want paymentDetails.currency with the rule's reason", p)
	}
}
