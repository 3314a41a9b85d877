package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"go.uber.org/mock/gomock"
)

// TestNotConfirmed: a change the replicas did not confirm in time (WAIT)
// is a 503 "not confirmed" problem with Retry-After that says a retry is
// safe, also when the writer reports it alongside unavailability.
func TestNotConfirmed(t *testing.T) {
	t.Parallel()
	e, _, w := newMockEnv(t)
	ch, staff := e.token(t, "web-shop", "channel"), e.token(t, "agent-7", "staff")
	errs := []error{
		fmt.Errorf("apply changes: %w: 0 of 1 replicas confirmed within 100ms (%s)", ledger.ErrNotConfirmed, secret),
		fmt.Errorf("%w: %w", ingest.ErrUnavailable, ledger.ErrNotConfirmed),
	}
	for _, err := range errs {
		w.EXPECT().ApplyOrder(gomock.Any(), gomock.Any(), "web-shop").Return(ledger.Outcome{}, err)
		r := e.post(t, "/order/nc-1", ch, orderBody("42", "10", "GBP"))
		generic(t, r, 503)
		if p := r.Problem(t); !strings.HasSuffix(p.Type, "/not-confirmed") || !strings.Contains(p.Detail, "retrying is safe") {
			t.Fatalf("problem %+v", p)
		}
	}
	w.EXPECT().Apply(gomock.Any(), gomock.Any()).Return(nil, errs[0])
	r := e.post(t, "/loyalty/42", staff, `{"loyalty-points":5,"reason":"r","idempotencyKey":"k"}`)
	generic(t, r, 503)
	if p := r.Problem(t); !strings.HasSuffix(p.Type, "/not-confirmed") {
		t.Fatalf("problem %+v", p)
	}
}
