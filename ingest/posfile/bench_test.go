package posfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReaderLines parses the whole online-retail export (541,909 rows)
// from memory and reports rows/s.
func BenchmarkReaderLines(b *testing.B) {
	paths, err := filepath.Glob(filepath.Join(dataDir(b), "*.csv"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("the real data is missing from %s: %v", dataDir(b), err)
	}
	files := make([][]byte, len(paths))
	var size int64
	for i, p := range paths {
		if files[i], err = os.ReadFile(p); err != nil {
			b.Fatal(err)
		}
		size += int64(len(files[i]))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	var rows int64
	for b.Loop() {
		rows = 0
		for i, data := range files {
			r, err := NewReader(bytes.NewReader(data), paths[i], defaultOptions)
			if err != nil {
				b.Fatal(err)
			}
			for {
				_, _, err := r.Next()
				var re *RecordError
				if err == io.EOF {
					break
				}
				if err != nil && !errors.As(err, &re) {
					b.Fatal(err)
				}
			}
			rows += r.Rows()
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
