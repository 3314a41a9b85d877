package posfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/ingest"
)

// drain reads src to its end and returns its orders and rejects.
func drain(t *testing.T, src ingest.Source) (orders []ingest.Order, rejects []*ingest.Reject) {
	t.Helper()
	for {
		o, _, err := src.Next()
		var rej *ingest.Reject
		switch {
		case errors.Is(err, io.EOF):
			return orders, rejects
		case errors.As(err, &rej):
			rejects = append(rejects, rej)
		case err != nil:
			t.Fatal(err)
		default:
			orders = append(orders, o)
		}
	}
}

// TestSourceRejects: a bad row is an *ingest.Reject with the file, line,
// order id and reason of the parser's RecordError, and reading goes on.
func TestSourceRejects(t *testing.T) {
	path := filepath.Join("testdata", "orders-rejects.csv")
	src, err := OpenSource(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	orders, rejects := drain(t, src)
	if len(orders) == 0 || len(rejects) == 0 {
		t.Fatalf("%d orders, %d rejects; want both", len(orders), len(rejects))
	}
	want := ingest.Reject{File: path, Line: 7, OrderID: "AMT-2", Reason: `bad amount "1e3": want a decimal such as 12.50 (negative for a refund)`}
	found := false
	for _, r := range rejects {
		found = found || *r == want
	}
	if !found {
		t.Errorf("rejects %v lack %+v", rejects, want)
	}
	if src.Rows() < int64(len(orders)) {
		t.Errorf("Rows = %d after %d orders and %d rejects", src.Rows(), len(orders), len(rejects))
	}
}

// TestSourceStoreID: a store id not given is the name of the file's
// directory.
func TestSourceStoreID(t *testing.T) {
	src, err := OpenSource(filepath.Join("testdata", "lines-ok.csv"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	orders, _ := drain(t, src)
	if len(orders) == 0 || orders[0].StoreID != "testdata" {
		t.Fatalf("orders %v, want store id testdata", orders)
	}
}

// TestSourceErrors: a file that can't be opened or is no POS file fails
// at open; a lines file too large to group says which flag raises the
// bound and that nothing of it was applied.
func TestSourceErrors(t *testing.T) {
	if _, err := OpenSource(filepath.Join(t.TempDir(), "missing.csv"), Options{}, nil); err == nil || !strings.HasPrefix(err.Error(), "ingest: ") {
		t.Errorf("a missing file: %v, want an ingest: error", err)
	}
	if _, err := OpenSource(filepath.Join("testdata", "notformat-binary.bin"), Options{}, nil); !errors.Is(err, ErrNotFormat) {
		t.Errorf("a binary file: %v, want ErrNotFormat", err)
	}
	big := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(big, synthLines(20_000, 1_000), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := OpenSource(big, Options{MaxGroupBytes: 64 << 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, _, err := src.Next(); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "(--max-group-mib); nothing of this file was applied") {
		t.Fatalf("Next = %v, want ErrTooLarge with the flag", err)
	}
}

// TestProgress: the bytes of the files read count towards their stored
// size (a gzip file's compressed bytes); without a bar a line is written
// once ProgressEvery has passed since the last, none before.
func TestProgress(t *testing.T) {
	files := []string{filepath.Join("testdata", "lines-ok.csv"), filepath.Join("testdata", "notformat-gzip.csv.gz"), "-"}
	total, err := StoredSize(files)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, f := range files[:2] {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		want += st.Size()
	}
	if total != want {
		t.Fatalf("StoredSize = %d, want %d (standard input counts nothing)", total, want)
	}
	if _, err := StoredSize([]string{"testdata/missing.csv"}); err == nil {
		t.Fatal("StoredSize of a missing file: no error")
	}

	var out strings.Builder
	p := NewProgress(&out, total, false)
	clock := p.start
	p.now = func() time.Time { return clock }
	src, err := OpenSource(files[0], Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, src)
	if got := p.bytes(); got <= 0 {
		t.Fatalf("%d bytes read while the file is open, want its bytes so far", got)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(files[0])
	if got := p.bytes(); got != st.Size() {
		t.Fatalf("%d bytes read after Close, want the file's %d", got, st.Size())
	}
	clock = clock.Add(ProgressEvery - time.Millisecond)
	p.Update(ingest.Counts{FileRows: 10, Applied: 3})
	if out.Len() != 0 {
		t.Fatalf("a line before ProgressEvery: %q", out.String())
	}
	clock = clock.Add(time.Millisecond)
	p.Update(ingest.Counts{FileRows: 10, Applied: 3})
	if !strings.HasPrefix(out.String(), "ingest: 10 rows of this file, ") || !strings.HasSuffix(out.String(), ", 3 orders applied\n") {
		t.Fatalf("progress line %q", out.String())
	}
	p.Done()
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("Done without a bar wrote %q", out.String())
	}
}
