package posfile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xyz/loyalty/ingest"
)

// Columns of the lines format.
const (
	colInvoice = iota
	colStock
	colDescription
	colQuantity
	colDate
	colPrice
	colCustomer
	colCountry
	numLineCols
)

// linesNames names ingest's fields in the lines format.
var linesNames = map[string]string{
	"orderId": "InvoiceNo", "customerId": "CustomerID", "storeId": "store id (Options.StoreID)",
	"itemIds": "StockCode", "purchasedAt": "InvoiceDate", "channel": "channel (Options.Channel)",
}

// result is an order or a reject waiting to be returned by Next.
type result struct {
	o    ingest.Order
	line int
	err  *RecordError
}

// span is where a finished invoice was in the file.
type span struct{ first, last int }

// invoice is the group of lines being read.
type invoice struct {
	active        bool
	id            string
	first, last   int
	lines         int
	cancel        bool // C...: a cancellation
	adjust        bool // A...: a bad-debt adjustment
	customer      uint64
	customerLine  int // first good line; 0 before it
	conflict      string
	badLine, bad  int // first rejected line and how many
	brokenLine    int // an unreadable line next to the invoice
	date          time.Time
	items         []byte // the stock codes, back to back
	itemEnds      []int
	total         sum
	customerShown string
}

type linesState struct {
	cur      invoice
	seen     map[string]span
	broken   int // an unreadable line not yet followed by a good one
	queue    []result
	head     int
	eof      bool
	lastDate string
	lastTime time.Time
}

func (s *linesState) init() { s.seen = make(map[string]span) }

func (s *linesState) push(res result) { s.queue = append(s.queue, res) }

func (r *Reader) nextLines() (ingest.Order, int, error) {
	s := &r.lines
	for {
		if s.head < len(s.queue) {
			res := s.queue[s.head]
			s.queue[s.head] = result{}
			s.head++
			if s.head == len(s.queue) {
				s.queue, s.head = s.queue[:0], 0
			}
			if res.err != nil {
				return ingest.Order{}, res.line, res.err
			}
			return res.o, res.line, nil
		}
		if s.eof {
			return ingest.Order{}, 0, io.EOF
		}
		rec, err := r.csv.Read()
		switch {
		case err == io.EOF:
			s.eof = true
			r.closeInvoice()
			continue
		case err != nil:
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return ingest.Order{}, 0, err
			}
			r.rows++
			r.brokenLine(pe.StartLine, parseErrorReason(pe))
			continue
		}
		r.rows++
		line, _ := r.csv.FieldPos(0)
		r.lineRow(rec, line)
	}
}

// brokenLine rejects a line whose invoice is unknown. The invoices on both
// sides of it are rejected too, since it may belong to either.
func (r *Reader) brokenLine(line int, reason string) {
	s := &r.lines
	s.push(result{line: line, err: r.reject(line, "%s", reason)})
	if s.cur.active && s.cur.brokenLine == 0 {
		s.cur.brokenLine = line
	}
	s.broken = line
}

func (r *Reader) lineRow(rec []string, line int) {
	s := &r.lines
	key := rec[0]
	switch {
	case key == "":
		r.brokenLine(line, "empty InvoiceNo")
		return
	case validUTF8(rec[:1]) == 0:
		r.brokenLine(line, "invalid UTF-8 in InvoiceNo; save the file as UTF-8")
		return
	case len(rec) != numLineCols && (!s.cur.active || key != s.cur.id):
		// The first column may not be an InvoiceNo at all.
		r.brokenLine(line, wrongColumns(len(rec)))
		return
	}
	broken := s.broken
	s.broken = 0
	if !s.cur.active || key != s.cur.id {
		r.closeInvoice()
		if sp, ok := s.seen[key]; ok {
			s.push(result{line: line, err: r.reject(line,
				"invoice %s already ended at line %d (it started at line %d); keep all lines of an invoice together",
				key, sp.last, sp.first)})
			return
		}
		r.openInvoice(key, line, broken)
	}
	inv := &s.cur
	inv.lines++
	inv.last = line
	if reason := r.addLine(inv, rec, line); reason != "" {
		s.push(result{line: line, err: r.reject(line, "%s", reason)})
		if inv.bad == 0 {
			inv.badLine = line
		}
		inv.bad++
	}
}

func (r *Reader) openInvoice(id string, line, broken int) {
	inv := &r.lines.cur
	*inv = invoice{
		active: true, id: strings.Clone(id), first: line, brokenLine: broken,
		cancel: id[0] == 'C', adjust: id[0] == 'A',
		items: inv.items[:0], itemEnds: inv.itemEnds[:0],
	}
}

// addLine checks one line and adds it to inv; it returns a reject reason.
func (r *Reader) addLine(inv *invoice, rec []string, line int) string {
	if len(rec) != numLineCols {
		return wrongColumns(len(rec))
	}
	if i := validUTF8(rec); i >= 0 {
		return "invalid UTF-8 in " + linesHeader[i] + "; save the file as UTF-8"
	}
	if rec[colStock] == "" {
		return "empty StockCode"
	}
	q, ok := parseInt(rec[colQuantity])
	if !ok {
		return fmt.Sprintf("bad Quantity %s: want a whole number such as 6 (negative in a cancellation)", quoteCut(rec[colQuantity]))
	}
	t, ok := r.lineDate(rec[colDate])
	if !ok {
		return fmt.Sprintf("bad InvoiceDate %s: want YYYY-MM-DD HH:MM:SS (UTC) such as 2010-12-01 08:26:00", quoteCut(rec[colDate]))
	}
	p, ok := parseDecimal(rec[colPrice])
	if !ok {
		return fmt.Sprintf("bad UnitPrice %s: want a decimal such as 2.55", quoteCut(rec[colPrice]))
	}
	if p.negative() && !inv.adjust {
		return fmt.Sprintf("negative UnitPrice %s: only bad-debt adjustments (InvoiceNo A...) may have one", rec[colPrice])
	}
	var c uint64
	if rec[colCustomer] != "" {
		if c, ok = parseCustomer(rec[colCustomer]); !ok {
			return fmt.Sprintf("bad CustomerID %s: want a positive whole number such as 17850 or 17850.0, or blank for an anonymous purchase", quoteCut(rec[colCustomer]))
		}
	}
	switch {
	case inv.customerLine == 0:
		inv.customer, inv.customerLine, inv.customerShown = c, line, rec[colCustomer]
		inv.date = t
	case c != inv.customer && inv.conflict == "":
		inv.conflict = fmt.Sprintf("lines disagree on CustomerID (%s at line %d, %s at line %d)",
			quoteCut(inv.customerShown), inv.customerLine, quoteCut(rec[colCustomer]), line)
	}
	if len(inv.itemEnds) < ingest.MaxItems {
		for _, b := range []byte(rec[colStock]) {
			if b == ' ' {
				b = '_'
			}
			inv.items = append(inv.items, b)
		}
		inv.itemEnds = append(inv.itemEnds, len(inv.items))
	}
	inv.total.add(q, p)
	return ""
}

func wrongColumns(n int) string {
	return fmt.Sprintf("wrong column count: %d, want %d (%s)", n, numLineCols, strings.Join(linesHeader, ","))
}

// lineDate parses an InvoiceDate; lines of an invoice mostly repeat it.
func (r *Reader) lineDate(s string) (time.Time, bool) {
	if s == r.lines.lastDate && s != "" {
		return r.lines.lastTime, true
	}
	if len(s) != len(layoutPlain) {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(layoutPlain, s, time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	r.lines.lastDate, r.lines.lastTime = strings.Clone(s), t
	return t, true
}

// closeInvoice turns the current invoice into an order or a reject.
func (r *Reader) closeInvoice() {
	s := &r.lines
	inv := &s.cur
	if !inv.active {
		return
	}
	inv.active = false
	s.seen[inv.id] = span{inv.first, inv.last}
	reject := func(format string, a ...any) {
		s.push(result{line: inv.first, err: r.reject(inv.first, "invoice %s not imported: %s", inv.id, fmt.Sprintf(format, a...))})
	}
	switch {
	case inv.bad == 1:
		reject("its line %d was rejected; fix it and load the file again", inv.badLine)
		return
	case inv.bad > 1:
		reject("%d of its lines were rejected (the first at line %d); fix them and load the file again", inv.bad, inv.badLine)
		return
	case inv.brokenLine != 0:
		reject("the unreadable line %d next to it may belong to it; fix that line and load the file again", inv.brokenLine)
		return
	case inv.conflict != "":
		reject("its %s; an invoice belongs to one customer", inv.conflict)
		return
	case inv.lines > ingest.MaxItems:
		reject("it has %d lines; an order holds at most %d items", inv.lines, ingest.MaxItems)
		return
	case !inv.adjust && inv.cancel && inv.total.sign() > 0:
		reject("a cancellation (C...) must have a negative total, not %s", inv.total.decimal())
		return
	case !inv.adjust && !inv.cancel && inv.total.sign() < 0:
		reject("negative total %s; a cancellation's InvoiceNo starts with C", inv.total.decimal())
		return
	}
	o := ingest.Order{
		ID: inv.id, CustomerID: inv.customer, Channel: r.opts.Channel, Amount: inv.total.decimal(),
		Currency: r.opts.Currency, PurchasedAt: inv.date,
	}
	if o.Channel == ingest.ChannelStore {
		o.StoreID = r.opts.StoreID
	}
	if inv.adjust {
		o.CustomerID = 0
	}
	if len(inv.itemEnds) > 0 {
		all := string(inv.items)
		o.ItemIDs = make([]string, len(inv.itemEnds))
		start := 0
		for i, end := range inv.itemEnds {
			o.ItemIDs[i] = all[start:end]
			start = end
		}
	}
	if reason := r.validate(&o, linesNames); reason != "" {
		reject("%s", reason)
		return
	}
	s.push(result{o: o, line: inv.first})
}
