package ranker

import (
	"errors"
	"fmt"

	"github.com/xyz/loyalty/ledger"
)

// ErrUnavailable is what the Source's and the Histogram's errors wrap when
// Redis can't be reached: ledger.ErrUnavailable, the class the Redis
// adapter's own outage error is in. The ranker passes such errors on, so a
// caller (the API) tells an outage from a fault with errors.Is, without
// importing the adapter.
var ErrUnavailable = ledger.ErrUnavailable

// ErrNotReady means the ranker has not loaded the index yet, or could not
// catch up with a change in time.
var ErrNotReady = errors.New("ranking index not ready")

// partialErr is the error of a partial dashboard whose read of the Redis
// histogram failed with err: ErrNotReady when Redis is unavailable (no
// board is loaded and none can be read), err itself otherwise (a fault).
func partialErr(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: partial dashboard: %w", ErrNotReady, err)
	}
	return fmt.Errorf("partial dashboard: %w", err)
}
