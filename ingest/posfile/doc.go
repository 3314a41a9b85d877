// Package posfile reads the order files that stores send from their
// point-of-sale (POS) systems and turns them into ingest.Order values. It only
// parses: applying the orders (points, ledger, ranking) is the caller's job.
// Source adapts a file to an ingest.Run, its bad rows as rejects, and
// Progress shows how much of the files a run has read.
//
// The orders format is read as a stream, row by row; the lines format reads
// the whole file before it returns its first order, to group the lines of
// each invoice wherever they are (see "Memory" below). Open accepts "-" for
// standard input and decompresses gzip data (recognised by its magic bytes,
// whatever the file is called). Text must be UTF-8; a leading byte order
// mark is ignored. A field holding a NUL or another control character (any
// but tab, CR and LF, which a quoted field may hold) rejects its row, not
// the file.
//
// Two formats are read. With Options.Format left empty, the format is
// detected: a first non-space character '{' means JSON lines (the orders
// format), otherwise the header line says which format it is.
//
// # Orders format, CSV
//
// One row per order, with this header (names compared without regard to case
// or surrounding spaces; the order of the columns is fixed):
//
//	order_id,customer_id,channel,store_id,amount,currency,item_ids,purchased_at
//	S1-1001,17850,store,LDN-01,12.50,GBP,85123A|71053,2010-12-01T08:26:00Z
//	S1-1002,,,,4.99,GBP,22633,2010-12-01 08:28:00
//	S1-1003,13047,,DUB-02,-30.00,EUR,22745,2010-12-01T09:01:00+01:00
//
// The columns:
//   - order_id: required; 1-64 letters, digits or . _ : / - starting with a
//     letter or digit. It identifies the order for ever: the same id is
//     awarded at most once.
//   - customer_id: a positive whole number (17850; the spreadsheet form
//     17850.0 is accepted). Empty means an anonymous purchase: the order is
//     returned with CustomerID 0 and earns nothing.
//   - channel: store, web or app; empty means Options.Channel (store by
//     default).
//   - store_id: the store, for store orders; empty means Options.StoreID.
//   - amount: a plain decimal, read exactly (12.50, 0.001, -30), within
//     ingest's limits (ingest.MaxAmountScale places, ingest.MaxAmount). No
//     exponent, sign "+", spaces or thousands separators. Negative for a
//     refund or cancellation.
//   - currency: required, GBP or EUR.
//   - item_ids: item ids separated by '|'; may be empty. At most 2000
//     (ingest.MaxItems).
//   - purchased_at: RFC 3339 (2010-12-01T08:26:00Z, any offset) or
//     "2010-12-01 08:26:00", which is UTC.
//
// Fields are quoted as usual in CSV: a field containing a comma, a quote or
// a line break is put in double quotes, and a quote inside it is doubled
// ("12"" PIZZA"). The number of the line in errors is the line the row starts
// on.
//
// # Orders format, JSON lines
//
// One JSON object per line; blank lines are ignored. The fields mean the same
// as in the CSV form:
//
//	{"orderId":"S1-1001","customerId":17850,"channel":"store","storeId":"LDN-01","paymentDetails":{"amount":"12.50","currency":"GBP"},"itemIds":["85123A","71053"],"purchasedAt":"2010-12-01T08:26:00Z"}
//
// The fields:
//   - orderId (string), channel (string), storeId (string), itemIds (list of
//     strings), purchasedAt (string): as in the CSV form; missing means empty.
//   - customerId: a number or a string holding one (17850, "17850",
//     "17850.0"); missing, null or "" means anonymous.
//   - paymentDetails: required, {"amount": ..., "currency": "GBP"}. The amount
//     may be a string ("12.50", preferred) or a JSON number without an
//     exponent (12.50); either way it is read exactly from its text, never
//     through a binary float.
//   - Any other field, at the top or in paymentDetails, is a reject: a
//     misspelt field must not be silently ignored.
//
// A line may be at most 128 KiB long.
//
// # Lines format
//
// One row per item sold, the layout of the online-retail exports:
//
//	InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
//	536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
//	536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
//	C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom
//	536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom
//
// The columns:
//   - InvoiceNo: the order id, used as it is. All the rows of the file with
//     the same InvoiceNo are one order, wherever they are: real exports
//     interleave invoices (in the 2011-02-01 export, the 39 lines of invoice
//     542806 are interleaved with a cancellation's). A file is one day's
//     export: an invoice whose lines are split over two files would be two
//     orders with the same id, the second a conflict. The orders are
//     returned when the whole file has been read, in the order of their
//     first rows, so "orders apply in file order" means the order in which
//     invoices first appear. A number starting with C is a cancellation;
//     with A, a bad-debt adjustment (see below).
//   - StockCode: an item id; required. A space in it is written as '_'
//     ("BANK CHARGES" becomes "BANK_CHARGES") since item ids have no spaces.
//   - Description, Country: read but not used (Country does not set the
//     currency).
//   - Quantity: a whole number, negative in cancellations.
//   - InvoiceDate: "2010-12-01 08:26:00", UTC. The order's time is its first
//     row's (rows of one invoice may differ by a minute).
//   - UnitPrice: a plain decimal, read exactly (2.55, 0.001), in
//     Options.Currency (GBP by default); the invoice's total must be within
//     ingest's limits on an amount. Zero is allowed (free items);
//     negative only in bad-debt adjustments.
//   - CustomerID: a positive whole number, written 17850 or 17850.0; blank
//     means an anonymous purchase (CustomerID 0, earns nothing). All the rows
//     of an invoice must have the same CustomerID.
//
// The order's amount is the exact sum of Quantity × UnitPrice over its rows;
// its item ids are the StockCodes in row order. The file has no store column:
// every order gets Options.Channel and, for store orders, Options.StoreID,
// which NewReader requires for the store channel.
//
// Oddities of the real data, and how they are read:
//   - Cancellations (InvoiceNo C...) have negative quantities and so a
//     negative amount, which removes points. A cancellation with a positive
//     total is rejected, and so is an ordinary invoice with a negative total.
//   - Stock corrections: ordinary invoices with negative quantities at price
//     0.0 and no customer. They total zero and are returned as anonymous
//     orders, like any other invoice.
//   - Zero prices and zero quantities are accepted; such rows add nothing to
//     the amount but their StockCode is listed.
//   - Bad-debt adjustments (InvoiceNo A..., StockCode B, "Adjust bad debt")
//     are bookkeeping, not purchases: they may have negative prices and any
//     total, and are always returned as anonymous orders (CustomerID 0), so
//     they earn or remove nothing.
//   - An invoice of more than 2000 rows is rejected: an order holds at most
//     2000 items (ingest.MaxItems). The 2010-2011 export has none: its largest
//     invoice (573585) has 1,114 rows and is imported whole.
//
// # Rejects
//
// A bad row or a bad order is a *RecordError (file, line, order id, reason)
// and reading goes on; it belongs in the rejects file. Its OrderID is the
// row's order id (order_id, orderId or InvoiceNo) whenever it can be read.
//
// In the lines format an invoice is imported whole or not at all, so that
// once its rows are fixed the file can be loaded again (an invoice applied
// without one of its lines could not be corrected by loading the fixed file:
// the same id with other content is a conflict). So:
//
//   - A rejected row whose InvoiceNo can be read rejects its invoice too
//     (reported at the invoice's first line, naming the row), and only that
//     invoice: the file's other invoices apply, also those interleaved with
//     it.
//   - A row whose InvoiceNo cannot be read (empty, not text, broken quoting
//     in the InvoiceNo itself, or a wrong column count when its first
//     column is no InvoiceNo of the file) is rejected by itself, saying to
//     fix it. It may belong to any invoice open around it, so it holds
//     back the invoices with rows both before and after it, and the
//     invoices of the readable rows just before and just after it. A file
//     whose invoices are kept together (the usual export) loses its two
//     neighbours; one that interleaves many invoices loses every invoice
//     that spans the row, which is what interleaving makes uncertain.
//     Rejecting the whole file instead would hold back a day of points for
//     one broken row; ignoring the row would risk applying an invoice
//     without one of its lines, which no later file can put right.
//
// The reasons:
//
//   - wrong column count: a row without exactly 8 columns. In the lines
//     format a missing or extra column may have moved the InvoiceNo: the
//     first column names the row's invoice only if it is the InvoiceNo of
//     another row of the file; otherwise the row is unreadable (above).
//   - broken quoting: a quote inside an unquoted field, or a quoted field
//     whose closing quote is missing or followed by something else. If the
//     quote is never closed, the rest of the file is one broken row. The
//     fields before the broken one are read, so the row's InvoiceNo is
//     known unless the InvoiceNo itself is broken; the lines a run-on
//     quoted field swallowed are unreadable (above).
//   - invalid UTF-8: a field that is not UTF-8 text (save the file as UTF-8).
//   - control character: a NUL or another control character in a field
//     (the reason names the field).
//   - empty id: order_id, orderId or InvoiceNo is empty (the InvoiceNo's
//     row is unreadable); StockCode is empty.
//   - bad number: an amount, Quantity or UnitPrice that is not a plain
//     decimal (whole number for Quantity); a customer id that is not a
//     positive whole number, or is over 2^53-1 (17850.5 and -1 are
//     rejected); a negative UnitPrice outside bad-debt adjustments.
//   - bad date: a time that is not in the formats above.
//   - empty currency (orders format).
//   - JSON: not valid JSON, not an object, more than one value on a line, a
//     field of the wrong type, an unknown field, missing paymentDetails, a
//     line over 128 KiB.
//   - lines format only: rows of an invoice that disagree on CustomerID; more
//     than 2000 rows in an invoice; a positive total on a cancellation or a
//     negative one on an ordinary invoice; an unreadable row that may belong
//     to the invoice (above).
//   - the checks of ingest.Order.Validate, the one definition of an order
//     (ids, channel and store, amount scale and range, currency, time of
//     purchase), every failing field named as in the file (in the lines
//     format the amount is "total (Quantity × UnitPrice)"). This package
//     parses; it does not repeat those rules.
//
// A file is refused whole only when it is not an order file at all: empty,
// not text at its start (a NUL or control byte, or invalid UTF-8, in its
// first line; UTF-16; compressed data), or a header that is no known
// format. NewReader then returns an error wrapping ErrNotFormat. Errors
// reading the input are returned by Next and end the file; in the lines
// format nothing of the file has been returned then.
//
// # Memory
//
// The orders format holds one row at a time. The lines format holds every
// invoice of the file until its end: per item row, its StockCode and 8 bytes
// (the rows of an invoice past ingest.MaxItems are only counted); per
// invoice, its InvoiceNo and about 230 bytes (the running total, customer,
// lines, and a map entry); per rejected row, its reason. BenchmarkGroupMemory
// measures the heap after grouping: about 23 bytes a row for 1 million rows
// in 50,000 invoices (23 MB), 242 bytes a row when every row is its own
// invoice (1 million invoices, 242 MB), and 0.27 MB for the largest real
// file (2011-12-05: 5,331 rows, mostly fixed buffers). A day's export of a
// store is far below that. As a fail-safe, Options.MaxGroupBytes (512 MiB by
// default, about 20 million rows of the real export's shape) bounds the
// estimate the Reader keeps of what it holds; a file over it gives an error
// wrapping ErrTooLarge before any of its orders is returned: split it into
// files that each keep all the lines of their invoices, or raise the limit.
package posfile
