package posfile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

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
	"paymentDetails": "total (Quantity × UnitPrice)", "paymentDetails.amount": "total (Quantity × UnitPrice)",
	"amount": "total (Quantity × UnitPrice)", "currency": "currency (Options.Currency)",
}

// invoice is one InvoiceNo of the file: its rows so far, summed.
type invoice struct {
	id           string
	first, last  int    // lines of its first and last row
	badLine      int    // its first rejected row; 0 if none
	blocked      int    // an unreadable line that may belong to it; 0 if none
	customerLine int    // its first good row; 0 before it
	conflictLine int    // its first good row with another CustomerID; 0 if none
	customer     uint64 // CustomerID of the first good row; 0 blank
	conflictWith uint64 // CustomerID at conflictLine
	date         int64  // InvoiceDate of the first good row, Unix seconds
	total        sum
	head, tail   int32 // its item rows in linesState.rows; 0 none
	lines, bad   int32 // rows, rejected rows
	cancel       bool  // C...: a cancellation
	adjust       bool  // A...: a bad-debt adjustment
}

// itemRow is one kept StockCode: it ends at end in linesState.stock (and
// starts where the row before it ends); next is the invoice's next row.
type itemRow struct {
	end  uint32
	next int32
}

// rowReject is a rejected row, held until the end of the file.
type rowReject struct {
	line   int
	inv    int32  // index in linesState.invs; -1 while unknown
	unread int32  // wrong column count: its entry in linesState.unread until group
	field0 string // wrong column count: the first column, which may or may not be an InvoiceNo
	reason string
}

// unreadable is a row (lines first..last) whose invoice cannot be known; it
// holds back the invoices it may belong to.
type unreadable struct {
	first, last int
	prev, next  int32 // invoices of the readable rows just before and after; -1 none
}

// linesState is the grouping of a lines file: every invoice of the file,
// held until its end.
type linesState struct {
	invs     []invoice        // in the order of their first row
	index    map[string]int32 // InvoiceNo -> position in invs
	stock    []byte           // the StockCodes of the item rows, back to back
	rows     []itemRow        // item rows; rows[0] is a sentinel
	rejects  []rowReject      // in line order
	unread   []unreadable     // in line order
	waitNext int              // unread[waitNext:] wait for the next readable row
	lastInv  int32            // invoice of the last readable row; -1 none
	held     int64            // bytes held, estimated
	maxHeld  int64
	grouped  bool
	emitInv  int    // next invoice to return
	emitRej  int    // next reject to return
	items    []byte // the StockCodes of the order being returned
	lastDate string
	lastTime time.Time
}

// Estimated bytes held per invoice (besides its InvoiceNo), per item row
// (besides its StockCode) and per rejected row (besides its reason): the
// structs, a map entry, and room for the growth of slices and the map. The
// benchmark BenchmarkGroupMemory checks them against the heap.
const (
	heldPerInvoice = int64(unsafe.Sizeof(invoice{}))*5/4 + 64
	heldPerRow     = int64(unsafe.Sizeof(itemRow{})) * 5 / 4
	heldPerReject  = int64(unsafe.Sizeof(rowReject{})) * 5 / 4
)

// DefaultMaxGroupBytes is the default of Options.MaxGroupBytes: 512 MiB,
// enough for a file of about 20 million item rows.
const DefaultMaxGroupBytes = 512 << 20

// ErrTooLarge means a lines file holds more invoices than Options.MaxGroupBytes
// allows to group; nothing of the file has been returned. Errors wrap it with
// the file, the line and what to do.
var ErrTooLarge = errors.New("too large to group by invoice")

func (s *linesState) init(maxHeld int64) {
	s.index = make(map[string]int32)
	s.rows = []itemRow{{}}
	s.lastInv = -1
	s.maxHeld = maxHeld
}

// nextLines reads the whole file at the first call, then returns its
// invoices (as orders or rejects) in the order of their first row, with the
// rejected rows in line order among them.
func (r *Reader) nextLines() (ingest.Order, int, error) {
	s := &r.lines
	if !s.grouped {
		if err := r.readLines(); err != nil {
			return ingest.Order{}, 0, err
		}
		r.group()
		s.grouped = true
	}
	var rej *rowReject
	if s.emitRej < len(s.rejects) {
		rej = &s.rejects[s.emitRej]
	}
	switch {
	case rej != nil && (s.emitInv == len(s.invs) || rej.line <= s.invs[s.emitInv].first):
		s.emitRej++
		id := ""
		if rej.inv >= 0 {
			id = s.invs[rej.inv].id
		}
		return ingest.Order{}, rej.line, r.rejectOrder(rej.line, id, "%s", rej.reason)
	case s.emitInv < len(s.invs):
		inv := &s.invs[s.emitInv]
		s.emitInv++
		o, err := r.closeInvoice(inv)
		*inv = invoice{id: inv.id, first: inv.first}
		if s.emitInv == len(s.invs) {
			s.stock, s.rows, s.index = nil, nil, nil
		}
		return o, inv.first, err
	}
	return ingest.Order{}, 0, io.EOF
}

// readLines reads every row of the file.
func (r *Reader) readLines() error {
	s := &r.lines
	for {
		rec, err := r.csv.Read()
		var line int
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return err
			}
			r.rows++
			line = pe.StartLine
			r.brokenRow(rec, pe)
		default:
			r.rows++
			line, _ = r.csv.FieldPos(0)
			r.lineRow(rec, line)
		}
		if s.held > s.maxHeld {
			return fmt.Errorf("%s: %w: by line %d its %d invoices (and %d rejected rows) take about %.1f MiB, over the limit of %.1f MiB (Options.MaxGroupBytes): "+
				"split the file into smaller ones that each keep all the lines of their invoices (a day's export per store), or raise the limit",
				r.file, ErrTooLarge, line, len(s.invs), len(s.rejects), float64(s.held)/(1<<20), float64(s.maxHeld)/(1<<20))
		}
	}
}

// invoiceOf returns the invoice of a readable InvoiceNo, adding it at its
// first row.
func (r *Reader) invoiceOf(id string, line int) int32 {
	s := &r.lines
	if i, ok := s.index[id]; ok {
		return i
	}
	if len(s.invs) == math.MaxInt32 {
		s.held = max(s.held, s.maxHeld) + 1 // stops the read: too large
		return -1
	}
	id = strings.Clone(id)
	i := int32(len(s.invs))
	s.invs = append(s.invs, invoice{id: id, first: line, cancel: id[0] == 'C', adjust: id[0] == 'A'})
	s.index[id] = i
	s.held += heldPerInvoice + int64(len(id))
	return i
}

// readable notes that a row of invoice i was read: it is the neighbour of
// the unreadable rows around it.
func (s *linesState) readable(i int32) {
	for ; s.waitNext < len(s.unread); s.waitNext++ {
		s.unread[s.waitNext].next = i
	}
	s.lastInv = i
}

// addReject holds a rejected row; inv is its invoice, or -1.
func (s *linesState) addReject(line int, inv int32, field0, reason string) {
	s.rejects = append(s.rejects, rowReject{line: line, inv: inv, unread: -1, field0: field0, reason: reason})
	s.held += heldPerReject + int64(len(field0)+len(reason))
	if inv >= 0 {
		s.markBad(inv, line)
	}
}

func (s *linesState) markBad(i int32, line int) {
	inv := &s.invs[i]
	if inv.badLine == 0 || line < inv.badLine {
		inv.badLine = line
	}
	inv.bad++
}

// addUnreadable holds back the invoices that rows first..last may belong to.
func (s *linesState) addUnreadable(first, last int) {
	s.unread = append(s.unread, unreadable{first: first, last: last, prev: s.lastInv, next: -1})
	s.held += int64(unsafe.Sizeof(unreadable{}))
}

// invoiceNo returns the InvoiceNo of a row and whether it can be read: not
// empty, UTF-8 text without control characters.
func invoiceNo(rec []string) (string, string) {
	if len(rec) == 0 || rec[0] == "" {
		return "", "empty InvoiceNo"
	}
	if reason := textProblem(rec[0], "InvoiceNo"); reason != "" {
		return "", reason
	}
	return rec[0], ""
}

// unreadableReason is the reject reason of a row whose invoice is unknown.
func unreadableReason(why string) string {
	return why + "; the row's invoice cannot be known, so the invoices it may belong to are not imported either: fix the row and load the file again"
}

// brokenRow handles a row with broken quoting. Its fields before the broken
// one are read (rec), so its InvoiceNo is known unless the InvoiceNo itself
// is broken. A quoted field that runs on swallows the lines after it: they
// are unreadable, whatever invoice they had.
func (r *Reader) brokenRow(rec []string, pe *csv.ParseError) {
	s := &r.lines
	reason := parseErrorReason(pe)
	id, why := "", "broken InvoiceNo"
	if len(rec) > 0 {
		id, why = invoiceNo(rec)
	}
	if id == "" {
		s.addReject(pe.StartLine, -1, "", unreadableReason(reason+" ("+why+")"))
		s.addUnreadable(pe.StartLine, pe.Line)
		return
	}
	i := r.invoiceOf(id, pe.StartLine)
	if i < 0 {
		return
	}
	s.readable(i)
	inv := &s.invs[i]
	inv.last = max(inv.last, pe.StartLine)
	inv.lines++
	s.addReject(pe.StartLine, i, "", reason)
	if pe.Line > pe.StartLine {
		s.addUnreadable(pe.StartLine+1, pe.Line)
	}
}

func (r *Reader) lineRow(rec []string, line int) {
	s := &r.lines
	id, why := invoiceNo(rec)
	switch {
	case id == "":
		s.addReject(line, -1, "", unreadableReason(why))
		s.addUnreadable(line, line)
		return
	case len(rec) != numLineCols:
		// A missing or extra column may have moved the InvoiceNo: the first
		// column names the row's invoice only if it is an invoice of the
		// file (decided in group). Until then the row is unreadable.
		s.addReject(line, -1, strings.Clone(id), wrongColumns(len(rec)))
		s.rejects[len(s.rejects)-1].unread = int32(len(s.unread))
		s.addUnreadable(line, line)
		return
	}
	i := r.invoiceOf(id, line)
	if i < 0 {
		return
	}
	s.readable(i)
	inv := &s.invs[i]
	inv.last = line
	if reason := r.addLine(inv, rec, line); reason != "" {
		s.addReject(line, i, "", reason)
	}
	inv.lines++
}

// addLine checks one row of 8 columns and adds it to inv; it returns a
// reject reason.
func (r *Reader) addLine(inv *invoice, rec []string, line int) string {
	s := &r.lines
	if reason := textProblems(rec, linesHeader); reason != "" {
		return reason
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
		inv.customer, inv.customerLine, inv.date = c, line, t.Unix()
	case c != inv.customer && inv.conflictLine == 0:
		inv.conflictLine, inv.conflictWith = line, c
	}
	if len(s.stock)+len(rec[colStock]) > math.MaxUint32 {
		s.held = max(s.held, s.maxHeld) + 1 // stops the read: too large
	} else if inv.bad == 0 && inv.lines < ingest.MaxItems {
		for _, b := range []byte(rec[colStock]) {
			if b == ' ' {
				b = '_'
			}
			s.stock = append(s.stock, b)
		}
		s.rows = append(s.rows, itemRow{end: uint32(len(s.stock))})
		n := int32(len(s.rows) - 1)
		if inv.tail != 0 {
			s.rows[inv.tail].next = n
		} else {
			inv.head = n
		}
		inv.tail = n
		s.held += heldPerRow + int64(len(rec[colStock]))
	}
	inv.total.add(q, p)
	return ""
}

func wrongColumns(n int) string {
	return fmt.Sprintf("wrong column count: %d, want %d (%s)", n, numLineCols, strings.Join(linesHeader, ","))
}

// lineDate parses an InvoiceDate; rows of an invoice mostly repeat it.
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

// group runs at the end of the file: it gives the rows of wrong column count
// their invoice when their first column is one, and holds back the
// invoices that unreadable rows may belong to.
func (r *Reader) group() {
	s := &r.lines
	for k := range s.rejects {
		rej := &s.rejects[k]
		if rej.field0 == "" {
			continue
		}
		if i, ok := s.index[rej.field0]; ok {
			rej.inv = i
			s.markBad(i, rej.line)
			s.unread[rej.unread].first = -1
		} else {
			rej.reason = unreadableReason(rej.reason + " and " + quoteCut(rej.field0) + " is no InvoiceNo of the file")
		}
		rej.field0 = ""
	}
	kept := s.unread[:0]
	for _, u := range s.unread {
		if u.first >= 0 {
			kept = append(kept, u)
		}
	}
	s.unread = kept
	block := func(i int32, line int) {
		if i >= 0 && s.invs[i].blocked == 0 {
			s.invs[i].blocked = line
		}
	}
	for _, u := range s.unread {
		block(u.prev, u.first)
		block(u.next, u.first)
	}
	// An invoice with rows both before and after an unreadable row. The
	// unreadable rows are in line order and do not overlap.
	for i := range s.invs {
		inv := &s.invs[i]
		k := sort.Search(len(s.unread), func(k int) bool { return s.unread[k].last >= inv.first })
		if k < len(s.unread) && s.unread[k].first <= inv.last {
			block(int32(i), s.unread[k].first)
		}
	}
}

// closeInvoice turns an invoice into an order or a reject.
func (r *Reader) closeInvoice(inv *invoice) (ingest.Order, error) {
	s := &r.lines
	reject := func(format string, a ...any) (ingest.Order, error) {
		return ingest.Order{}, r.rejectOrder(inv.first, inv.id, "invoice %s not imported: %s", inv.id, fmt.Sprintf(format, a...))
	}
	switch {
	case inv.bad == 1:
		return reject("its line %d was rejected; fix it and load the file again", inv.badLine)
	case inv.bad > 1:
		return reject("%d of its lines were rejected (the first at line %d); fix them and load the file again", inv.bad, inv.badLine)
	case inv.blocked != 0 && inv.first < inv.blocked && inv.blocked < inv.last:
		return reject("the unreadable line %d, among its lines, may belong to it; fix that line and load the file again", inv.blocked)
	case inv.blocked != 0:
		return reject("the unreadable line %d next to it may belong to it; fix that line and load the file again", inv.blocked)
	case inv.conflictLine != 0:
		return reject("its lines disagree on CustomerID (%s at line %d, %s at line %d); an invoice belongs to one customer",
			customerText(inv.customer), inv.customerLine, customerText(inv.conflictWith), inv.conflictLine)
	case inv.lines > ingest.MaxItems:
		return reject("it has %d lines; an order holds at most %d items", inv.lines, ingest.MaxItems)
	case !inv.adjust && inv.cancel && inv.total.sign() > 0:
		return reject("a cancellation (C...) must have a negative total, not %s", inv.total.decimal())
	case !inv.adjust && !inv.cancel && inv.total.sign() < 0:
		return reject("negative total %s; a cancellation's InvoiceNo starts with C", inv.total.decimal())
	}
	o := ingest.Order{
		ID: inv.id, CustomerID: inv.customer, Channel: r.opts.Channel, Amount: inv.total.decimal(),
		Currency: r.opts.Currency, PurchasedAt: time.Unix(inv.date, 0).UTC(),
	}
	if o.Channel == ingest.ChannelStore {
		o.StoreID = r.opts.StoreID
	}
	if inv.adjust {
		o.CustomerID = 0
	}
	if inv.head != 0 {
		s.items = s.items[:0]
		var ends []int
		for n := inv.head; n != 0; n = s.rows[n].next {
			s.items = append(s.items, s.stock[s.rows[n-1].end:s.rows[n].end]...)
			ends = append(ends, len(s.items))
		}
		all := string(s.items)
		o.ItemIDs = make([]string, len(ends))
		start := 0
		for k, end := range ends {
			o.ItemIDs[k] = all[start:end]
			start = end
		}
	}
	if reason := r.validate(&o, linesNames); reason != "" {
		return reject("%s", reason)
	}
	return o, nil
}

func customerText(c uint64) string {
	if c == 0 {
		return "blank"
	}
	return strconv.FormatUint(c, 10)
}
