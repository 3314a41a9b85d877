package posfile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xyz/loyalty/ingest"
)

// Format is the layout of a POS file.
type Format string

// The formats; see the package documentation.
const (
	FormatOrders Format = "orders" // one row per order: CSV with a header, or JSON lines
	FormatLines  Format = "lines"  // one row per item, grouped into orders by invoice number
)

// Options says how to read a file. The zero value detects the format and
// reads store orders in GBP; the lines format also needs a StoreID.
type Options struct {
	// Format of the file; "" detects it from the header (or a first
	// non-space byte '{' for JSON lines).
	Format Format
	// Channel for rows that do not name one (all rows of the lines format);
	// "" means ingest.ChannelStore.
	Channel ingest.Channel
	// StoreID for store orders that do not name one (all orders of the lines
	// format, so it is required there when the channel is store).
	StoreID string
	// Currency of the lines format's prices; "" means GBP. The orders format
	// carries its own currency on every row.
	Currency string
	// MaxGroupBytes bounds the memory the lines format holds to group a file
	// by invoice (see "Memory" in the package documentation); 0 means
	// DefaultMaxGroupBytes. A file that needs more gives an error wrapping
	// ErrTooLarge before any of its orders is returned.
	MaxGroupBytes int64
}

// RecordError is a bad row or a bad order: it belongs in the rejects file,
// and reading goes on with the next call to Next.
type RecordError struct {
	File    string // as given to NewReader
	Line    int    // 1-based line of the row (of an order's first row)
	OrderID string // the order id (InvoiceNo) of the row, when it can be read; else ""
	Reason  string // short, says what to fix
}

func (e *RecordError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// ErrNotFormat means the input is not a file of the expected format at all
// (wrong or missing header, binary or compressed data): stop, do not reject
// row by row. Errors from NewReader wrap it with the file name and the cause.
var ErrNotFormat = errors.New("not a POS order file")

var gzipMagic = []byte{0x1f, 0x8b}

// Open opens path for reading: "-" is standard input (which Close leaves
// open). Input that starts with the gzip magic bytes is decompressed
// transparently, whatever its name.
func Open(path string) (*File, error) {
	var f io.ReadCloser
	if path == "-" {
		f = io.NopCloser(os.Stdin)
	} else {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
	}
	in := &File{raw: f}
	br := bufio.NewReaderSize(countReader{f, &in.consumed}, bufSize)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !bytes.Equal(magic, gzipMagic) {
		in.Reader = br
		return in, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gunzip %s: %w", path, err)
	}
	in.Reader, in.zr = zr, zr
	return in, nil
}

// File is an input opened by Open: Read returns its data, decompressed.
// Read and Close from one goroutine; Consumed is safe for concurrent use.
type File struct {
	io.Reader
	raw      io.Closer
	zr       *gzip.Reader // nil: not compressed
	consumed atomic.Int64
}

// Consumed returns how many bytes of the file as stored (compressed, for
// gzip) have been read so far, for progress against the file's size. It
// runs up to one read buffer (128 KiB) ahead of the data Read returned.
func (f *File) Consumed() int64 { return f.consumed.Load() }

// Close closes the file (and the decompressor).
func (f *File) Close() error {
	var errs []error
	if f.zr != nil {
		errs = append(errs, f.zr.Close())
	}
	errs = append(errs, f.raw.Close())
	return errors.Join(errs...)
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// bufSize is the read buffer; a JSON line may be at most this long.
const bufSize = 128 << 10

// Reader reads orders from one POS file. It is not safe for concurrent use.
type Reader struct {
	file string
	opts Options
	fmt  Format
	br   *bufio.Reader
	csv  *csv.Reader // nil for JSON lines
	rows int64
	err  error // sticky fatal error or io.EOF

	json  jsonState
	lines linesState
}

var (
	ordersHeader = []string{"order_id", "customer_id", "channel", "store_id", "amount", "currency", "item_ids", "purchased_at"}
	linesHeader  = []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"}
)

// NewReader reads the header of r and returns a Reader for its rows; file
// names the input in errors. An input that is not a POS order file gives an
// error wrapping ErrNotFormat; options that cannot work (the lines format
// on the store channel without a StoreID) give another error.
func NewReader(r io.Reader, file string, opts Options) (*Reader, error) {
	if opts.Channel == "" {
		opts.Channel = ingest.ChannelStore
	}
	if opts.Currency == "" {
		opts.Currency = "GBP"
	}
	switch opts.Channel {
	case ingest.ChannelStore, ingest.ChannelWeb, ingest.ChannelApp:
	default:
		return nil, fmt.Errorf("posfile: unknown channel %q: want store, web or app", opts.Channel)
	}
	switch opts.Format {
	case "", FormatOrders, FormatLines:
	default:
		return nil, fmt.Errorf("posfile: unknown format %q: want %q or %q", opts.Format, FormatOrders, FormatLines)
	}
	rd := &Reader{file: file, opts: opts, br: bufio.NewReaderSize(r, bufSize)}
	notFormat := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w: %s", file, ErrNotFormat, fmt.Sprintf(format, a...))
	}
	head, err := rd.br.Peek(4096)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if bytes.HasPrefix(head, []byte("\uFEFF")) {
		rd.br.Discard(3)
		head = head[3:]
	}
	start := bytes.TrimLeft(head, " \t\r\n")
	switch {
	case len(start) == 0:
		return nil, notFormat("the file is empty; want a header line")
	case bytes.HasPrefix(head, gzipMagic):
		return nil, notFormat("gzip-compressed data; open it with posfile.Open")
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		return nil, notFormat("UTF-16 text; save the file as UTF-8")
	case !textStart(head):
		return nil, notFormat("binary data, not text")
	}
	if start[0] == '{' {
		if opts.Format == FormatLines {
			return nil, notFormat("JSON lines, not the lines format (want the header %s)", strings.Join(linesHeader, ","))
		}
		rd.fmt = FormatOrders
		return rd, nil
	}

	rd.csv = csv.NewReader(rd.br)
	rd.csv.FieldsPerRecord = -1
	rd.csv.ReuseRecord = true
	hdr, err := rd.csv.Read()
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return nil, notFormat("header: %v", pe.Err)
	case err == io.EOF:
		return nil, notFormat("the file is empty; want a header line")
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	for _, h := range hdr {
		if !utf8.ValidString(h) {
			return nil, notFormat("header is not UTF-8 text")
		}
	}
	switch {
	case opts.Format != FormatLines && sameHeader(hdr, ordersHeader):
		rd.fmt = FormatOrders
	case opts.Format != FormatOrders && sameHeader(hdr, linesHeader):
		rd.fmt = FormatLines
	default:
		want := strings.Join(ordersHeader, ",") + " (orders) or " + strings.Join(linesHeader, ",") + " (lines)"
		switch opts.Format {
		case FormatOrders:
			want = strings.Join(ordersHeader, ",") + ", or JSON lines"
		case FormatLines:
			want = strings.Join(linesHeader, ",")
		}
		got := strings.Join(hdr, ",")
		if len(got) > 120 {
			got = got[:120] + "..."
		}
		return nil, notFormat("header %q: want %s", got, want)
	}
	if rd.fmt == FormatLines && opts.Channel == ingest.ChannelStore && opts.StoreID == "" {
		return nil, fmt.Errorf("%s: the lines format has no store column: give a store id (Options.StoreID)", file)
	}
	if rd.fmt == FormatLines {
		if opts.MaxGroupBytes <= 0 {
			opts.MaxGroupBytes = DefaultMaxGroupBytes
		}
		rd.lines.init(opts.MaxGroupBytes)
	}
	return rd, nil
}

func sameHeader(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.EqualFold(strings.TrimSpace(got[i]), want[i]) {
			return false
		}
	}
	return true
}

// Format returns the format of the file, as given or detected.
func (r *Reader) Format() Format { return r.fmt }

// Next returns the next order and the line of its first row. A bad row or a
// bad order gives a *RecordError: put it in the rejects file and call Next
// again. At the end Next returns io.EOF; any other error is fatal (reading
// the input failed, or a lines file is too large to group: ErrTooLarge) and
// is returned again by every later call.
//
// In the lines format the first call reads the whole file; then the
// invoices come back in the order of their first rows, with the rejected
// rows among them in line order.
//
// An anonymous order (no customer, or a bad-debt adjustment) comes back with
// CustomerID 0: it earns nothing. Every order returned has passed
// ingest.Order.Validate.
func (r *Reader) Next() (o ingest.Order, line int, err error) {
	if r.err != nil {
		return ingest.Order{}, 0, r.err
	}
	switch {
	case r.fmt == FormatLines:
		o, line, err = r.nextLines()
	case r.csv != nil:
		o, line, err = r.nextOrderCSV()
	default:
		o, line, err = r.nextOrderJSON()
	}
	if err != nil {
		if _, ok := err.(*RecordError); !ok {
			r.err = err
		}
	}
	return o, line, err
}

// Rows returns how many data rows (lines after the header, or JSON lines)
// have been read so far, for progress.
func (r *Reader) Rows() int64 { return r.rows }

func (r *Reader) reject(line int, format string, a ...any) *RecordError {
	return &RecordError{File: r.file, Line: line, Reason: fmt.Sprintf(format, a...)}
}

// rejectOrder is reject for a row or an order whose id is known.
func (r *Reader) rejectOrder(line int, id string, format string, a ...any) *RecordError {
	return &RecordError{File: r.file, Line: line, OrderID: id, Reason: fmt.Sprintf(format, a...)}
}

// parseErrorReason describes broken CSV quoting.
func parseErrorReason(pe *csv.ParseError) string {
	var what string
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		what = `a " inside an unquoted field; quote the field and double the quote ("")`
	case errors.Is(pe.Err, csv.ErrQuote):
		what = `a quoted field has a stray or missing "; write a " inside quotes as ""`
	default:
		what = pe.Err.Error()
	}
	if pe.Line != pe.StartLine {
		return fmt.Sprintf("broken quoting: a quoted field opened on this line runs on to line %d, column %d, where it is not closed properly (the lines in between were read as part of this row); write a \" inside quotes as \"\"", pe.Line, pe.Column)
	}
	return fmt.Sprintf("broken quoting (column %d): %s", pe.Column, what)
}

// textStart reports whether the start of a file (its first line, as far as
// head holds it) is text: UTF-8 without a NUL or other control byte but tab
// and line ends. Control bytes further on are rejects of the rows that hold
// them.
func textStart(head []byte) bool {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	} else if len(head) > utf8.UTFMax {
		// The first line goes on beyond head, which may end inside a rune.
		head = head[:len(head)-utf8.UTFMax]
	}
	for _, b := range head {
		if b < 0x20 && b != '\t' && b != '\r' || b == 0x7f {
			return false
		}
	}
	return utf8.Valid(head)
}

// textProblem says what is wrong with a field that is not text: invalid
// UTF-8 or a control character (a NUL, or any other but tab and line ends,
// which a quoted field may hold). It returns "" for good text.
func textProblem(f, name string) string {
	for i := 0; i < len(f); i++ {
		b := f[i]
		switch {
		case b >= 0x20 && b < 0x7f, b == '\t', b == '\n', b == '\r':
			continue
		case b < 0x80:
			return fmt.Sprintf("control character %#02x in %s; remove it (a NUL or control byte is not text)", b, name)
		}
		r, size := utf8.DecodeRuneInString(f[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return "invalid UTF-8 in " + name + "; save the file as UTF-8"
		case unicode.IsControl(r):
			return fmt.Sprintf("control character %U in %s; remove it (a control character is not text)", r, name)
		}
		i += size - 1
	}
	return ""
}

// textProblems is textProblem for a row; names are its columns.
func textProblems(rec, names []string) string {
	for i, f := range rec {
		if reason := textProblem(f, names[i]); reason != "" {
			return reason
		}
	}
	return ""
}

// validate runs ingest's checks and names the failing fields in the file's
// own terms.
func (r *Reader) validate(o *ingest.Order, names map[string]string) string {
	err := o.Validate(time.Now())
	if err == nil {
		return ""
	}
	var fes ingest.FieldErrors
	var fe *ingest.FieldError
	switch {
	case errors.As(err, &fes):
	case errors.As(err, &fe):
		fes = ingest.FieldErrors{fe}
	default:
		return err.Error()
	}
	reasons := make([]string, len(fes))
	for i, fe := range fes {
		name := fe.Field
		if n, ok := names[fe.Field]; ok {
			name = n
		}
		reasons[i] = name + ": " + fe.Reason
	}
	return strings.Join(reasons, "; ")
}
