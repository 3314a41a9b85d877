package chledger

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/xyz/loyalty/ledger"
)

// TestRefused: only errors that blame a value of the data are refusals; an
// outage or a server error about the server or the schema is not, and the
// driver's exception never leaves the package.
func TestRefused(t *testing.T) {
	t.Parallel()
	exc := func(code int32) error {
		e := &clickhouse.Exception{Code: code, Name: "DB::Exception", Message: fmt.Sprintf("code %d", code)}
		return exceptionError("append 2 entries", e, fmt.Errorf("send: %w", e))
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"adapter's own check", fmt.Errorf("chledger: append entry seq 4 (o-4): %w: amount 1e40 does not fit Decimal(18, 6)", ErrInvalid), true},
		{"DECIMAL_OVERFLOW", exc(407), true},
		{"CANNOT_PARSE_DATETIME", exc(41), true},
		{"UNKNOWN_TABLE", exc(60), false},
		{"TYPE_MISMATCH (a schema not migrated)", exc(53), false},
		{"MEMORY_LIMIT_EXCEEDED", exc(241), false},
		{"unreachable", fmt.Errorf("chledger: append: %w: connection refused", ErrUnavailable), false},
	} {
		if got := errors.Is(c.err, ErrInvalid); got != c.want || errors.Is(c.err, ledger.ErrInvalid) != c.want {
			t.Errorf("%s: refused (ErrInvalid) = %v, want %v", c.name, got, c.want)
		}
		var e *clickhouse.Exception
		if errors.As(c.err, &e) {
			t.Errorf("%s: the driver's exception is in the chain", c.name)
		}
	}
}
