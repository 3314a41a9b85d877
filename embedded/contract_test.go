package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/internal/writecontract"
	"github.com/xyz/loyalty/points"
)

// TestWriteContract holds the embedded store to the write path's
// exactly-once contract.
func TestWriteContract(t *testing.T) {
	writecontract.Run(t, func(t *testing.T) writecontract.Harness {
		st, err := embedded.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rule, err := points.New(points.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		return writecontract.Harness{
			Writer: func(now func() time.Time) *ingest.Writer {
				return ingest.NewWriter(st, nil, rule).WithClock(now).WithRecall(st).WithSeasons(writecontract.Calendar())
			},
			Balance: func(_ context.Context, id uint64) (int64, error) {
				return st.Board().Balance(id), nil
			},
			AdvanceClock: func(_ context.Context, d time.Duration) error {
				st.SetClock(func() time.Time { return time.Now().Add(d) })
				return nil
			},
			MaxPoints: histogram.MaxPoints,
			SeasonBalance: func(_ context.Context, name string, id uint64) (int64, error) {
				if b := st.SeasonBoard(name); b != nil {
					return b.Balance(id), nil
				}
				return 0, nil
			},
		}
	})
}
