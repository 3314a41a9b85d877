package ledger

import (
	"errors"
	"fmt"
	"testing"
)

func TestClasses(t *testing.T) {
	redisDown := NewError(ErrUnavailable, "redis unavailable")
	badEntry := NewError(ErrInvalid, "invalid ledger entry")
	cases := []struct {
		err                error
		unavail, invalid   bool
		retryable, itsName bool
	}{
		{fmt.Errorf("read seq: %w: dial tcp: connection refused", redisDown), true, false, true, true},
		{fmt.Errorf("append: %w: amount too wide", badEntry), false, true, false, true},
		{fmt.Errorf("apply: %w", ErrNotConfirmed), false, false, true, false},
		{fmt.Errorf("encode change x: %w", errors.New("json: unsupported value")), false, false, false, false},
	}
	for _, c := range cases {
		if errors.Is(c.err, ErrUnavailable) != c.unavail || errors.Is(c.err, ErrInvalid) != c.invalid || Retryable(c.err) != c.retryable {
			t.Errorf("%v: unavailable %v invalid %v retryable %v", c.err, errors.Is(c.err, ErrUnavailable), errors.Is(c.err, ErrInvalid), Retryable(c.err))
		}
		if own := errors.Is(c.err, redisDown) || errors.Is(c.err, badEntry); own != c.itsName {
			t.Errorf("%v: matches its adapter's name: %v", c.err, own)
		}
	}
	if errors.Is(redisDown, NewError(ErrUnavailable, "redis unavailable")) {
		t.Error("two sentinels of one class and text are one error")
	}
	if redisDown.Error() != "redis unavailable" {
		t.Errorf("text %q", redisDown.Error())
	}
}
