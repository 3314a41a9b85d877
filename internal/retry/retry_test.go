package retry

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

var errDown = errors.New("down")

func isDown(err error) bool { return errors.Is(err, errDown) }

// clock records the waits Do asks for instead of sleeping; it ends ctx at
// the wait numbered stopAt (from 1; 0: never).
type clock struct {
	waits  []time.Duration
	stopAt int
	cancel context.CancelFunc
}

func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	c.waits = append(c.waits, d)
	if len(c.waits) == c.stopAt {
		c.cancel()
	}
	return ctx.Err()
}

// calls returns an fn that fails with errs in turn, then succeeds, and the
// count of its calls.
func calls(errs ...error) (func() error, *int) {
	n := 0
	return func() error {
		n++
		if n <= len(errs) {
			return errs[n-1]
		}
		return nil
	}, &n
}

func TestDo(t *testing.T) {
	other := errors.New("encoding error")
	cases := []struct {
		name      string
		attempts  int
		errs      []error
		stopAt    int
		want      error
		wantCalls int
		wantWaits []time.Duration
	}{
		{"success at once", 6, nil, 0, nil, 1, nil},
		{"success after two outages", 6, []error{errDown, errDown}, 0, nil, 3, []time.Duration{100, 200}},
		{"not retryable: one call", 6, []error{other}, 0, other, 1, nil},
		{"not retryable after an outage", 6, []error{errDown, other}, 0, other, 2, []time.Duration{100}},
		{"attempts spent", 4, []error{errDown, errDown, errDown, errDown, errDown}, 0, errDown, 4, []time.Duration{100, 200, 400}},
		{"capped", 6, []error{errDown, errDown, errDown, errDown, errDown}, 0, nil, 6, []time.Duration{100, 200, 400, 500, 500}},
		{"one attempt", 0, []error{errDown}, 0, errDown, 1, nil},
		{"context ends while waiting", 6, []error{errDown, errDown, errDown}, 2, context.Canceled, 2, []time.Duration{100, 200}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			clk := &clock{stopAt: c.stopAt, cancel: cancel}
			fn, n := calls(c.errs...)
			err := Do(ctx, Policy{Attempts: c.attempts, Backoff: Backoff{Initial: 100, Max: 500}, Retryable: isDown, Sleep: clk.sleep}, fn)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Errorf("Do = %v, want %v", err, c.want)
			}
			if *n != c.wantCalls || !slices.Equal(clk.waits, c.wantWaits) {
				t.Errorf("%d calls, waits %v; want %d calls, waits %v", *n, clk.waits, c.wantCalls, c.wantWaits)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 5 * time.Second}
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	b.Reset()
	got = append(got, b.Next())
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	// Uncapped, it doubles up to the largest duration without overflowing.
	b = Backoff{Initial: 1 << 61}
	if d1, d2, d3 := b.Next(), b.Next(), b.Next(); d1 != 1<<61 || d2 != 1<<62 || d3 != 1<<62 {
		t.Fatalf("uncapped waits %v %v %v", d1, d2, d3)
	}
	var zero Backoff
	if d := zero.Next(); d != 0 {
		t.Fatalf("zero Backoff waits %v", d)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on an ended context = %v", err)
	}
}
