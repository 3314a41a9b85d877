package chledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/xyz/loyalty/ledger"
)

// ErrUnavailable means the ClickHouse server could not be reached, stopped
// answering (refused, reset, timed out), or could not take the query now
// (too many queries, out of memory, too many parts). It is of the class
// ledger.ErrUnavailable: the operation may be retried, every write here is
// idempotent.
var ErrUnavailable = ledger.NewError(ledger.ErrUnavailable, "clickhouse unavailable")

// ErrInvalid means the ledger refused the data itself: an entry it can never
// store as it is (e.g. an amount with more decimal places than the ledger
// keeps), found by the adapter's own checks or by the server. Sending the
// same entries again fails the same way. It is of the class
// ledger.ErrInvalid, which is what the ingest shipper asks. Any other error
// (ErrUnavailable, or a server error about the server or the schema rather
// than a value) may pass once the cause is fixed.
var ErrInvalid = ledger.NewError(ledger.ErrInvalid, "invalid ledger entry")

// wrap turns a driver error into the package's own, the one place that
// classifies them: an exception by its code (see exceptionError), the
// caller's context error if it was cancelled, ErrUnavailable for a server
// that can't be reached, otherwise the message with context. The driver
// error itself is not in the chain.
func (l *Ledger) wrap(ctx context.Context, op string, err error) error {
	var exc *clickhouse.Exception
	switch {
	case errors.As(err, &exc):
		return exceptionError(op, exc, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("chledger: %s: %w", op, context.Canceled)
	case unreachable(err) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return fmt.Errorf("chledger: %s: %w: %v", op, ErrUnavailable, err)
	}
	return fmt.Errorf("chledger: %s: %v", op, err)
}

// unreachable reports whether err comes from the network rather than from the
// server's answer.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, clickhouse.ErrAcquireConnTimeout) || errors.Is(err, clickhouse.ErrConnectionClosed)
}

// valueErrors are the server's error codes that blame a value of the data
// sent, never the server or the table: an insert refused with one of them
// fails again with the same rows.
var valueErrors = map[int32]bool{
	6:   true, // CANNOT_PARSE_TEXT
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	38:  true, // CANNOT_PARSE_DATE
	41:  true, // CANNOT_PARSE_DATETIME
	69:  true, // ARGUMENT_OUT_OF_BOUND
	72:  true, // CANNOT_PARSE_NUMBER
	117: true, // INCORRECT_DATA
	131: true, // TOO_LARGE_STRING_SIZE
	321: true, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
	349: true, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
	407: true, // DECIMAL_OVERFLOW
	469: true, // VIOLATED_CONSTRAINT (current releases)
}

// busyErrors are the server's error codes that say it can't take the query
// now, not that the query or the data is wrong: the same query may pass
// later.
var busyErrors = map[int32]bool{
	159: true, // TIMEOUT_EXCEEDED
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY (a replica lost its keeper)
	252: true, // TOO_MANY_PARTS
	319: true, // UNKNOWN_STATUS_OF_INSERT
}

// exceptionError is the package's error for err, which holds the server
// exception exc: wrapping ErrInvalid when the code blames a value,
// ErrUnavailable when it says the server is busy, as plain text otherwise
// (the driver's types stay out of the chain).
func exceptionError(op string, exc *clickhouse.Exception, err error) error {
	switch {
	case valueErrors[exc.Code]:
		return fmt.Errorf("chledger: %s: %w: %v", op, ErrInvalid, err)
	case busyErrors[exc.Code]:
		return fmt.Errorf("chledger: %s: %w: %v", op, ErrUnavailable, err)
	}
	return fmt.Errorf("chledger: %s: %v", op, err)
}
