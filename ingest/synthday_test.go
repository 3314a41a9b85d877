package ingest_test

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/xyz/loyalty/ingest/posfile"
)

// The synthetic day file of the ingest measurements (docs/performance.md):
//
//	go test ./ingest -run TestSynthDay -synthday /tmp/day-8m.csv -synthday-lines 8000000
var (
	synthDayOut   = flag.String("synthday", "", "also write a synthetic lines-format day file of -synthday-lines lines there")
	synthDayLines = flag.Int("synthday-lines", 8_000_000, "lines of the -synthday file")
	synthDayDate  = flag.String("synthday-date", "2011-12-05", "the day of the -synthday file's invoices (YYYY-MM-DD)")
	synthDayFirst = flag.Int("synthday-first", 700000, "the first InvoiceNo of the -synthday file (files of one run need their own)")
)

// synthLinesPerInvoice is the mean invoice size of the synthetic day file:
// the real export's shape (541,909 lines in 25,900 invoices: 21; the
// issue's 8M-line files held about 24 a line).
const synthLinesPerInvoice = 24

// writeSynthDay writes a lines-format day file of n item lines: invoices of
// 1-47 lines (24 on average), every tenth one interleaved line by line with
// the others (one line in five, as real exports interleave some), every
// 37th a cancellation, customers spread over 1,000,000 ids, all on day, the
// InvoiceNos from first. It returns the number of invoices. It is a pure
// function of its arguments.
func writeSynthDay(w io.Writer, n int, day string, first int) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	// Invoice k has size(k) lines; the contiguous invoices take their lines
	// in turn, and every tenth invoice's lines go one at a time between them.
	size := func(k int) int { return 1 + (k*7919)%47 }
	invoices := 0
	var spread []int // spread invoices with lines still to write
	left := map[int]int{}
	next, inRun, run := 0, 0, -1
	line := func(k int) {
		cancel := k%37 == 0
		inv := fmt.Sprint(first + k)
		q := 1 + (k+left[k])%12
		if cancel {
			inv, q = "C"+inv, -q
		}
		fmt.Fprintf(bw, "%s,%d,ITEM %d,%d,%s %02d:%02d:00,%d.%02d,%d.0,United Kingdom\n",
			inv, 20000+(k*31+left[k])%5000, k%5000, q, day, 8+k%12, k%60, 1+k%9, (k*13)%100, 1+(k*2654435761)%1_000_000)
	}
	for written := 0; written < n; written++ {
		if written%5 == 4 && len(spread) > 0 {
			k := spread[0]
			left[k]--
			line(k)
			if left[k] == 0 {
				delete(left, k)
				spread = spread[1:]
			}
			continue
		}
		if run < 0 || inRun == 0 {
			for {
				k := next
				next++
				invoices++
				if k%10 == 0 {
					spread = append(spread, k)
					left[k] = size(k)
					continue
				}
				run, inRun = k, size(k)
				left[k] = inRun
				break
			}
		}
		inRun--
		left[run]--
		line(run)
		if inRun == 0 {
			delete(left, run)
		}
	}
	// Invoices cut short by the end of the file are smaller, not broken.
	return invoices, bw.Flush()
}

// TestSynthDay checks the generator against the parser: every line is read,
// no row is rejected, and every invoice is one order. With -synthday it also
// writes the measurement's file.
func TestSynthDay(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	const n = 20_000
	invoices, err := writeSynthDay(&b, n, "2011-12-05", 700000)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := posfile.NewReader(strings.NewReader(b.String()), "synth.csv", posfile.Options{StoreID: "S1"})
	if err != nil {
		t.Fatal(err)
	}
	orders, refunds := 0, 0
	for {
		o, line, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		if o.CustomerID == 0 {
			t.Fatalf("line %d: order %s has no customer", line, o.ID)
		}
		orders++
		if o.Amount.IsNegative() {
			refunds++
		}
	}
	if rd.Rows() != n {
		t.Errorf("read %d rows, want %d", rd.Rows(), n)
	}
	// Spread invoices not yet begun when the file ends are counted but
	// have no line.
	if orders > invoices || orders < invoices*9/10 {
		t.Errorf("%d orders of %d invoices", orders, invoices)
	}
	if per := n / orders; per < synthLinesPerInvoice-4 || per > synthLinesPerInvoice+4 {
		t.Errorf("%d lines per order, want about %d", per, synthLinesPerInvoice)
	}
	if refunds == 0 {
		t.Error("no cancellation")
	}
	if *synthDayOut == "" {
		return
	}
	f, err := os.Create(*synthDayOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := writeSynthDay(f, *synthDayLines, *synthDayDate, *synthDayFirst)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d lines, %d invoices", *synthDayOut, *synthDayLines, inv)
}
