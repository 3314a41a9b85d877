package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
)

// failingIndex answers every Apply with err and counts the calls.
type failingIndex struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (f *failingIndex) Apply(context.Context, []ledger.Change) ([]ledger.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return nil, f.err
}

// failingHistory answers every Lookup with err.
type failingHistory struct{ err error }

func (f failingHistory) Lookup(context.Context, []string) (map[string]ledger.Entry, error) {
	return nil, f.err
}

var (
	// errEncoding is a change the index could not encode: a fault.
	errEncoding = fmt.Errorf("encode change o1: %w", &json.UnsupportedValueError{Str: "NaN"})
	// errBadReply is a reply of the index that makes no sense: a fault.
	errBadReply = errors.New(`apply changes: unexpected reply header "?"`)
	// errRedisDown is an outage as the Redis adapter reports it.
	errRedisDown = fmt.Errorf("apply changes: %w: dial tcp: connection refused", ledger.NewError(ledger.ErrUnavailable, "redis unavailable"))
)

// TestWriterKeepsTheClass: the Writer passes an index's or a ledger's error
// on with its class: an outage stays retryable, a change not confirmed by
// the replicas stays so, and a fault (an encoding error, a bad reply) is not
// made an outage.
func TestWriterKeepsTheClass(t *testing.T) {
	for _, c := range []struct {
		name      string
		err       error
		retryable bool
	}{
		{"encoding error", errEncoding, false},
		{"bad reply", errBadReply, false},
		{"redis down", errRedisDown, true},
		{"not confirmed", fmt.Errorf("apply changes: %w: 0 of 1 replicas", ledger.ErrNotConfirmed), true},
	} {
		_, err := NewWriter(&failingIndex{err: c.err}, nil, nil).Apply(context.Background(), []ledger.Change{mk("o1", 1)})
		if !errors.Is(err, c.err) || ledger.Retryable(err) != c.retryable || errors.Is(err, ErrUnavailable) != errors.Is(c.err, ledger.ErrUnavailable) {
			t.Errorf("%s: Apply = %v: retryable %v, want %v, with the index's error in the chain", c.name, err, ledger.Retryable(err), c.retryable)
		}
	}
	// The ledger's errors keep theirs too.
	idx := &fakeIndex{forgot: map[string]bool{"old": true}, checked: map[string]uint64{}}
	decode := errors.New("chledger: lookup 1 changes: column digest: unexpected type")
	_, err := NewWriter(idx, failingHistory{decode}, nil).Apply(context.Background(), []ledger.Change{mk("old", 1)})
	if !errors.Is(err, decode) || ledger.Retryable(err) {
		t.Errorf("ledger fault: Apply = %v, want it, not retryable", err)
	}
	down := fmt.Errorf("chledger: lookup: %w: i/o timeout", ledger.NewError(ledger.ErrUnavailable, "clickhouse unavailable"))
	_, err = NewWriter(idx, failingHistory{down}, nil).Apply(context.Background(), []ledger.Change{mk("old", 1)})
	if !errors.Is(err, down) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("ledger down: Apply = %v, want it, unavailable", err)
	}
}

// TestRunDoesNotRetryAFault: an ingest run over a Writer whose index fails
// with an encoding error stops with that error after one call: only an
// outage, or a change the replicas did not confirm, is retried.
func TestRunDoesNotRetryAFault(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rows := []row{{o: order("o1", 1, "100", at)}, {o: order("o2", 2, "100", at)}}
	for _, c := range []struct {
		name      string
		err       error
		wantCalls int
	}{
		{"encoding error", errEncoding, 1},
		{"bad reply", errBadReply, 1},
		{"redis down", errRedisDown, 3},
		{"not confirmed", fmt.Errorf("apply changes: %w", ledger.ErrNotConfirmed), 3},
	} {
		idx := &failingIndex{err: c.err}
		run := NewRun(RunConfig{Batch: 2, CallSize: 2, Retries: 3, RetryWait: time.Nanosecond}, NewWriter(idx, nil, testRule(t)), nil, nil,
			sources(map[string][]row{"f.csv": rows}), func(Reject) error { return nil })
		err := run.Files(context.Background(), []string{"f.csv"})
		if !errors.Is(err, c.err) || idx.calls != c.wantCalls {
			t.Errorf("%s: Files = %v after %d index calls; want the index's error after %d", c.name, err, idx.calls, c.wantCalls)
		}
	}
}

// TestChangeKeepsTheRuleError: an order the points rule refuses (one that
// skipped Validate) fails with a FieldError naming the field that also
// carries the rule's error, so callers can tell a currency from an amount.
func TestChangeKeepsTheRuleError(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	usd, huge := order("usd", 1, "10", at), order("huge", 1, "1e12", at)
	usd.Currency = "USD"
	for _, c := range []struct {
		o     Order
		field string
		cause error
	}{
		{usd, "paymentDetails.currency", points.ErrCurrency},
		{huge, "paymentDetails.amount", points.ErrAmount},
	} {
		_, err := c.o.Change(testRule(t), "test")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.cause) || !errors.Is(err, ErrInvalid) || err.Error() != fe.Error() {
			t.Errorf("%s: Change = %v; want a FieldError on %s carrying %v", c.o.ID, err, c.field, c.cause)
		}
	}
}
