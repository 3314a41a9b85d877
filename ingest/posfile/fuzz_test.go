package posfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzReader(f *testing.F) {
	paths, err := filepath.Glob("testdata/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		if filepath.Ext(p) == ".golden" || filepath.Base(p) == "lines-toomany.csv" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(0))
		f.Add(data, uint8(1))
		f.Add(data, uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		opts := Options{StoreID: "LDN-01", Format: []Format{"", FormatOrders, FormatLines}[format%3]}
		r, err := NewReader(bytes.NewReader(data), "fuzz", opts)
		if err != nil {
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		// Each row gives at most a reject and the end of an invoice.
		limit := 2*lines + 2
		for calls := 0; ; calls++ {
			if calls > limit {
				t.Fatalf("Next did not end after %d calls on %d lines", calls, lines)
			}
			o, line, err := r.Next()
			var re *RecordError
			switch {
			case err == io.EOF:
				if r.Rows() > int64(lines) {
					t.Fatalf("Rows() = %d for %d lines", r.Rows(), lines)
				}
				return
			case errors.As(err, &re):
				if re.Reason == "" || re.Line < 1 || re.Line > lines || re.Line != line {
					t.Fatalf("bad reject %#v (line %d) on %d lines", re, line, lines)
				}
			case err != nil:
				t.Fatalf("Next = %v, want an order, a reject or io.EOF", err)
			default:
				if line < 1 || line > lines {
					t.Fatalf("order %s at line %d of %d", o.ID, line, lines)
				}
				if err := o.Validate(time.Now()); err != nil {
					t.Fatalf("order %s is invalid: %v", o.ID, err)
				}
			}
		}
	})
}
