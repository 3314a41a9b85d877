package chledger

import (
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Refused reports whether err means the ledger refused the data itself: an
// entry it can never store as it is (ErrInvalid), found by the adapter's own
// checks or by the server. Sending the same entries again fails the same
// way. Any other error (ErrUnavailable, or a server error about the server
// or the schema rather than a value) may pass once the cause is fixed.
//
// A caller that does not import this package (the ingest shipper) asks the
// error itself: ErrInvalid has a Refused method answering true.
func Refused(err error) bool { return errors.Is(err, ErrInvalid) }

// refusal is the type of ErrInvalid.
type refusal string

func (r refusal) Error() string { return string(r) }

// Refused answers true: the ledger refuses the data, not an outage.
func (refusal) Refused() bool { return true }

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

// exceptionError is the package's error for err, which holds the server
// exception exc: wrapping ErrInvalid when the code blames a value, as plain
// text otherwise (the driver's types stay out of the chain).
func exceptionError(op string, exc *clickhouse.Exception, err error) error {
	if valueErrors[exc.Code] {
		return fmt.Errorf("chledger: %s: %w: %v", op, ErrInvalid, err)
	}
	return fmt.Errorf("chledger: %s: %v", op, err)
}
