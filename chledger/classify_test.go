package chledger

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/xyz/loyalty/ledger"
)

// TestClasses: the adapter's errors are in the shared vocabulary: every
// exception code blaming a value is ledger.ErrInvalid, every code saying
// the server is busy is ledger.ErrUnavailable (retried), any other code
// has no class (a fault); the adapter's own check and an unreachable
// server are classed too.
func TestClasses(t *testing.T) {
	check := func(name string, err error, unavail, invalid bool) {
		t.Helper()
		if errors.Is(err, ledger.ErrUnavailable) != unavail || errors.Is(err, ErrUnavailable) != unavail ||
			errors.Is(err, ledger.ErrInvalid) != invalid || errors.Is(err, ErrInvalid) != invalid {
			t.Errorf("%s (%v): unavailable %v, invalid %v; want %v, %v", name, err,
				errors.Is(err, ledger.ErrUnavailable), errors.Is(err, ledger.ErrInvalid), unavail, invalid)
		}
	}
	codes := map[int32][2]bool{60: {false, false}, 53: {false, false}} // UNKNOWN_TABLE, TYPE_MISMATCH
	for code := range busyErrors {
		codes[code] = [2]bool{true, false}
	}
	for code := range valueErrors {
		codes[code] = [2]bool{false, true}
	}
	for code, want := range codes {
		e := &clickhouse.Exception{Code: code, Name: "DB::Exception", Message: fmt.Sprintf("code %d", code)}
		check(fmt.Sprint("exception ", code), exceptionError("lookup 3 changes", e, fmt.Errorf("read: %w", e)), want[0], want[1])
	}
	check("adapter's own check", fmt.Errorf("chledger: append: %w: amount does not fit", ErrInvalid), false, true)
	check("unreachable", fmt.Errorf("chledger: append: %w: connection refused", ErrUnavailable), true, false)
}
