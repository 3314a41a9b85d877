package ranker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/ledger"
)

// failingHistogram answers every read with err.
type failingHistogram struct{ err error }

func (f failingHistogram) Partial(context.Context, uint64, int) (histogram.Place, error) {
	return histogram.Place{}, f.err
}

func (f failingHistogram) Rank(context.Context, int64) (int64, int64, error) { return 0, 0, f.err }

// TestPartialErrorClasses: while no board is loaded, a dashboard whose
// read of the Redis histogram fails because Redis is unavailable is
// ErrNotReady (and ErrUnavailable); a fault (a bad reply) is neither.
func TestPartialErrorClasses(t *testing.T) {
	down := fmt.Errorf("partial dashboard: %w: dial tcp: connection refused", ledger.NewError(ledger.ErrUnavailable, "redis unavailable"))
	bad := errors.New(`partial dashboard: top list entry "x": invalid syntax`)
	for _, c := range []struct {
		err      error
		notReady bool
	}{{down, true}, {bad, false}} {
		r := NewReplica(nil, nil, ReplicaConfig{Partial: failingHistogram{c.err}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		_, err := r.Dashboard(context.Background(), 42, 10, 2)
		if !errors.Is(err, c.err) || errors.Is(err, ErrNotReady) != c.notReady || errors.Is(err, ErrUnavailable) != c.notReady {
			t.Errorf("Dashboard with %v = %v; want it, ErrNotReady %v", c.err, err, c.notReady)
		}
	}
}
