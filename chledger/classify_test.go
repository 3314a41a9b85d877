package chledger

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/xyz/loyalty/ledger"
)

// TestClasses: the adapter's errors are in the shared vocabulary: an
// exception blaming a value is ledger.ErrInvalid, one saying the server is
// busy is ledger.ErrUnavailable (retried), any other has no class (a fault).
func TestClasses(t *testing.T) {
	exc := func(code int32) error {
		e := &clickhouse.Exception{Code: code, Name: "DB::Exception", Message: fmt.Sprintf("code %d", code)}
		return exceptionError("lookup 3 changes", e, fmt.Errorf("read: %w", e))
	}
	for _, c := range []struct {
		name             string
		err              error
		unavail, invalid bool
	}{
		{"DECIMAL_OVERFLOW", exc(407), false, true},
		{"MEMORY_LIMIT_EXCEEDED", exc(241), true, false},
		{"TOO_MANY_SIMULTANEOUS_QUERIES", exc(202), true, false},
		{"TIMEOUT_EXCEEDED", exc(159), true, false},
		{"UNKNOWN_TABLE", exc(60), false, false},
		{"adapter's own check", fmt.Errorf("chledger: append: %w: amount does not fit", ErrInvalid), false, true},
		{"unreachable", fmt.Errorf("chledger: append: %w: connection refused", ErrUnavailable), true, false},
	} {
		if errors.Is(c.err, ledger.ErrUnavailable) != c.unavail || errors.Is(c.err, ErrUnavailable) != c.unavail ||
			errors.Is(c.err, ledger.ErrInvalid) != c.invalid || Refused(c.err) != c.invalid {
			t.Errorf("%s (%v): unavailable %v, invalid %v; want %v, %v", c.name, c.err,
				errors.Is(c.err, ledger.ErrUnavailable), errors.Is(c.err, ledger.ErrInvalid), c.unavail, c.invalid)
		}
	}
}
