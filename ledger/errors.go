package ledger

import "errors"

// The classes of the stores' errors, one vocabulary for every adapter (the
// Redis index, the ClickHouse ledger, the embedded store) and every caller
// (the Writer, the ingest run, the shipper, the API). An adapter classifies
// a driver's error once, where it translates it; a caller asks errors.Is of
// a class, never the message. ErrConflict is the third class. An error of no
// class is a fault (a bug, a reply that makes no sense, an encoding error):
// sending the same request again fails again, so it is not retried, and the
// API answers 500.
var (
	// ErrUnavailable means a store could not be reached or could not take
	// the request now (refused, reset, timed out, loading, failing over):
	// nothing is known to have been applied, and sending the same request
	// again is safe (every write is idempotent).
	ErrUnavailable = errors.New("store unavailable")

	// ErrInvalid means the data itself is refused (by a check, or by a
	// store that can never keep it as it is): sending it again fails the
	// same way.
	ErrInvalid = errors.New("invalid data")
)

// Retryable reports whether sending the same request again may succeed:
// err is ErrUnavailable, or ErrNotConfirmed (applied but not yet on enough
// replicas: the replay answers once they have it).
func Retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotConfirmed)
}

// NewError returns a new sentinel error with text msg in class (ErrUnavailable,
// ErrInvalid or ErrConflict): an adapter's own name for its errors of that
// class, which errors.Is matches both with itself and with the class.
func NewError(class error, msg string) error { return &classed{msg, class} }

type classed struct {
	msg   string
	class error
}

func (e *classed) Error() string { return e.msg }
func (e *classed) Unwrap() error { return e.class }
