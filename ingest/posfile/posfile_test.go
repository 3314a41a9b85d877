package posfile

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xyz/loyalty/ingest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parser's output")

// fixtureOptions are the options for fixtures that need other than
// defaultOptions.
var (
	defaultOptions = Options{StoreID: "LDN-01"}
	fixtureOptions = map[string]Options{
		"lines-web.csv":             {Channel: ingest.ChannelWeb},
		"lines-nostore.csv":         {},
		"orders-nostore.csv":        {},
		"notformat-jsonlines.jsonl": {Format: FormatLines, StoreID: "LDN-01"},
		"notformat-header.csv":      {Format: FormatOrders},
	}
)

// readAll reads a whole input and describes every order, reject and error,
// one per line.
func readAll(t testing.TB, in io.Reader, file string, opts Options) string {
	t.Helper()
	var b strings.Builder
	r, err := NewReader(in, file, opts)
	if err != nil {
		fmt.Fprintf(&b, "error (not format: %t): %v\n", errors.Is(err, ErrNotFormat), err)
		return b.String()
	}
	fmt.Fprintf(&b, "format: %s\n", r.Format())
	for {
		o, line, err := r.Next()
		var re *RecordError
		switch {
		case err == io.EOF:
			fmt.Fprintf(&b, "rows: %d\n", r.Rows())
			return b.String()
		case errors.As(err, &re):
			if re.Line != line {
				t.Errorf("%s: Next returned line %d with reject %v", file, line, re)
			}
			fmt.Fprintf(&b, "reject order=%s %v\n", re.OrderID, re)
		case err != nil:
			fmt.Fprintf(&b, "fatal: %v\n", err)
			return b.String()
		default:
			fmt.Fprintf(&b, "order line %d: %s\n", line, describe(o))
		}
	}
}

func describe(o ingest.Order) string {
	return fmt.Sprintf("id=%s customer=%d channel=%s store=%s amount=%s %s items=%s at=%s",
		o.ID, o.CustomerID, o.Channel, o.StoreID, o.Amount, o.Currency,
		strings.Join(o.ItemIDs, ","), o.PurchasedAt.UTC().Format("2006-01-02T15:04:05.999Z"))
}

func TestGolden(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		name := filepath.Base(path)
		if strings.HasSuffix(name, ".golden") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts, ok := fixtureOptions[name]
			if !ok {
				opts = defaultOptions
			}
			got := readAll(t, f, name, opts)
			golden := path + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, diff(string(want), got))
			}
		})
	}
}

// TestTooManyFixture checks that testdata/lines-toomany.csv still has an
// invoice over ingest.MaxItems, so that its golden shows the rejection (raise
// the fixture with the limit).
func TestTooManyFixture(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/lines-toomany.csv")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n200001,"); n <= ingest.MaxItems {
		t.Errorf("invoice 200001 has %d lines, want more than ingest.MaxItems (%d)", n, ingest.MaxItems)
	}
}

// diff shows the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)) && b.Len() < 2000; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

func TestNotFormatEdges(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"\uFEFF", "\uFEFF \r\n", " \t\n\n"} {
		_, err := NewReader(strings.NewReader(in), "edge", defaultOptions)
		if !errors.Is(err, ErrNotFormat) {
			t.Errorf("NewReader(%q) = %v, want ErrNotFormat", in, err)
		}
	}
}

// TestGroupLimit checks the fail-safe bound of the lines format: a file
// whose grouping needs more than Options.MaxGroupBytes gives ErrTooLarge,
// saying what to do, before any order; within the bound it reads whole.
func TestGroupLimit(t *testing.T) {
	t.Parallel()
	data := synthLines(20_000, 1_000)
	opts := defaultOptions
	opts.MaxGroupBytes = 64 << 10
	r, err := NewReader(bytes.NewReader(data), "big.csv", opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Next()
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "big.csv") || !strings.Contains(err.Error(), "split the file") {
		t.Fatalf("Next = %v, want ErrTooLarge naming the file and what to do", err)
	}
	if _, _, again := r.Next(); again != err {
		t.Errorf("Next after ErrTooLarge = %v, want the same error", again)
	}

	opts.MaxGroupBytes = 0 // the default
	r, err = NewReader(bytes.NewReader(data), "big.csv", opts)
	if err != nil {
		t.Fatal(err)
	}
	orders := 0
	for {
		_, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		orders++
	}
	invoices := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		id, _, _ := strings.Cut(l, ",")
		invoices[id] = true
	}
	if orders != len(invoices) {
		t.Errorf("%d orders, want %d", orders, len(invoices))
	}
}
