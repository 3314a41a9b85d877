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
		// Each row gives at most a reject and an invoice.
		limit := 2*lines + 2
		orders := map[string]int{}   // id -> line of the order
		rejected := map[string]int{} // order id -> line of a reject naming it
		lastOrder := 0
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
				// An invoice is imported whole or not at all: no order
				// id is both returned and rejected.
				for id, l := range rejected {
					if ol, ok := orders[id]; ok && r.Format() == FormatLines {
						t.Fatalf("order %s returned at line %d and rejected at line %d", id, ol, l)
					}
				}
				return
			case errors.As(err, &re):
				if re.Reason == "" || re.Line < 1 || re.Line > lines || re.Line != line {
					t.Fatalf("bad reject %#v (line %d) on %d lines", re, line, lines)
				}
				if re.OrderID != "" {
					rejected[re.OrderID] = line
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
				if r.Format() == FormatLines {
					// One order per invoice, in the order of their first
					// lines.
					if l, ok := orders[o.ID]; ok {
						t.Fatalf("invoice %s returned twice, at lines %d and %d", o.ID, l, line)
					}
					if line <= lastOrder {
						t.Fatalf("order %s at line %d after an order at line %d", o.ID, line, lastOrder)
					}
					lastOrder = line
				}
				orders[o.ID] = line
			}
		}
	})
}
