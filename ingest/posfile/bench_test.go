package posfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// synthLines is a lines file of rows item rows in invoices invoices; every
// tenth invoice has its rows spread over the whole file (interleaved), the
// others are contiguous.
func synthLines(rows, invoices int) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(linesHeader, ",") + "\n")
	per := rows / invoices
	for i := 0; i < rows; i++ {
		inv := i / per
		if inv%10 == 0 {
			inv = (i * 7919) % invoices / 10 * 10
		}
		fmt.Fprintf(&b, "%d,%d,DESCRIPTION OF ITEM %d,%d,2011-12-05 10:%02d:00,%d.%02d,%d.0,United Kingdom\n",
			600000+inv, 20000+i%5000, i%5000, 1+i%12, inv%60, 1+i%9, i%100, 12000+inv%4000)
	}
	return b.Bytes()
}

// BenchmarkGroupMemory measures the heap a lines file holds once it is read
// and grouped (before its first order is returned), per item row and per
// invoice, beside the Reader's own estimate that Options.MaxGroupBytes
// bounds: the largest real file, and synthetic files of 1M rows in 50k
// invoices (20 rows each) and in 1M invoices (1 row each).
func BenchmarkGroupMemory(b *testing.B) {
	largest := filepath.Join(dataDir(b), "2011-12-05.csv")
	real, err := os.ReadFile(largest)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"real-2011-12-05", real},
		{"synthetic-1M-rows-50k-invoices", synthLines(1_000_000, 50_000)},
		{"synthetic-1M-rows-1M-invoices", synthLines(1_000_000, 1_000_000)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var heap, held, rows, invoices float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				r, err := NewReader(bytes.NewReader(tc.data), tc.name, defaultOptions)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := r.Next(); err != nil && !errors.As(err, new(*RecordError)) {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
				held, rows, invoices = float64(r.lines.held), float64(r.Rows()), float64(len(r.lines.invs))
				runtime.KeepAlive(r)
			}
			b.ReportMetric(heap/rows, "heap-B/row")
			b.ReportMetric(held/rows, "estimate-B/row")
			b.ReportMetric(heap/1e6, "heap-MB")
			b.ReportMetric(rows/invoices, "rows/invoice")
		})
	}
}
