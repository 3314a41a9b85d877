package posfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xyz/loyalty/ingest"
)

// ordersCSVNames names ingest's fields in the CSV syntax; the JSON syntax
// uses ingest's names.
var ordersCSVNames = map[string]string{
	"orderId": "order_id", "customerId": "customer_id", "storeId": "store_id",
	"itemIds": "item_ids", "purchasedAt": "purchased_at",
	"paymentDetails.amount": "amount", "paymentDetails.currency": "currency",
}

// orderFields are one order's fields as text, from either syntax.
type orderFields struct {
	id, customer, channel, store, amount, currency, purchasedAt string
	items                                                       []string
}

// names of the fields in one syntax, for reject reasons.
type fieldNames struct {
	id, customer, amount, currency, purchasedAt string
	validate                                    map[string]string
}

var (
	csvNames  = fieldNames{"order_id", "customer_id", "amount", "currency", "purchased_at", ordersCSVNames}
	jsonNames = fieldNames{"orderId", "customerId", "paymentDetails.amount", "paymentDetails.currency", "purchasedAt", nil}
)

// buildOrder checks f and returns the order, or a reject reason.
func (r *Reader) buildOrder(f *orderFields, n *fieldNames) (ingest.Order, string) {
	o := ingest.Order{ID: f.id, Channel: ingest.Channel(f.channel), StoreID: f.store, Currency: f.currency, ItemIDs: f.items}
	if f.id == "" {
		return o, "empty " + n.id
	}
	if f.customer != "" {
		c, ok := parseCustomer(f.customer)
		if !ok {
			return o, fmt.Sprintf("bad %s %s: want a positive whole number such as 17850, or empty for an anonymous purchase", n.customer, quoteCut(f.customer))
		}
		o.CustomerID = c
	}
	if o.Channel == "" {
		o.Channel = r.opts.Channel
	}
	if o.StoreID == "" && o.Channel == ingest.ChannelStore {
		o.StoreID = r.opts.StoreID
	}
	if f.amount == "" {
		return o, "empty " + n.amount + ": want a decimal such as 12.50 (negative for a refund)"
	}
	amt, ok := parseDecimal(f.amount)
	if !ok {
		return o, fmt.Sprintf("bad %s %s: want a decimal such as 12.50 (negative for a refund)", n.amount, quoteCut(f.amount))
	}
	o.Amount = amt.decimal()
	if f.currency == "" {
		return o, "empty " + n.currency + ": want GBP or EUR"
	}
	if f.purchasedAt == "" {
		return o, "empty " + n.purchasedAt + ": want a time such as 2010-12-01T08:26:00Z"
	}
	t, ok := parseTime(f.purchasedAt)
	if !ok {
		return o, fmt.Sprintf("bad %s %s: want RFC 3339 (2010-12-01T08:26:00Z) or 2010-12-01 08:26:00 (UTC)", n.purchasedAt, quoteCut(f.purchasedAt))
	}
	o.PurchasedAt = t
	if reason := r.validate(&o, n.validate); reason != "" {
		return o, reason
	}
	return o, ""
}

func (r *Reader) nextOrderCSV() (ingest.Order, int, error) {
	rec, err := r.csv.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			r.rows++
			id := ""
			if len(rec) > 0 && textProblem(rec[0], "") == "" {
				id = rec[0]
			}
			return ingest.Order{}, pe.StartLine, r.rejectOrder(pe.StartLine, id, "%s", parseErrorReason(pe))
		}
		return ingest.Order{}, 0, err
	}
	r.rows++
	line, _ := r.csv.FieldPos(0)
	if len(rec) != len(ordersHeader) {
		return ingest.Order{}, line, r.reject(line, "wrong column count: %d, want %d (%s)", len(rec), len(ordersHeader), strings.Join(ordersHeader, ","))
	}
	id := rec[0]
	if textProblem(id, "") != "" {
		id = ""
	}
	if reason := textProblems(rec, ordersHeader); reason != "" {
		return ingest.Order{}, line, r.rejectOrder(line, id, "%s", reason)
	}
	f := orderFields{
		id: rec[0], customer: rec[1], channel: rec[2], store: rec[3],
		amount: rec[4], currency: rec[5], purchasedAt: rec[7],
	}
	if rec[6] != "" {
		f.items = strings.Split(rec[6], "|")
	}
	o, reason := r.buildOrder(&f, &csvNames)
	if reason != "" {
		return ingest.Order{}, line, r.rejectOrder(line, id, "%s", reason)
	}
	return o, line, nil
}

// jsonState is the position in a JSON lines file.
type jsonState struct {
	line int
	src  bytes.Reader
}

type jsonOrder struct {
	OrderID        string          `json:"orderId"`
	CustomerID     json.RawMessage `json:"customerId"`
	Channel        string          `json:"channel"`
	StoreID        string          `json:"storeId"`
	PaymentDetails *jsonPayment    `json:"paymentDetails"`
	ItemIDs        []string        `json:"itemIds"`
	PurchasedAt    string          `json:"purchasedAt"`
}

type jsonPayment struct {
	Amount   json.RawMessage `json:"amount"`
	Currency string          `json:"currency"`
}

// jsonTextNames name the JSON fields textProblems checks.
var jsonTextNames = []string{"orderId", "channel", "storeId", "purchasedAt", "paymentDetails.currency"}

const jsonFields = "orderId, customerId, channel, storeId, paymentDetails {amount, currency}, itemIds, purchasedAt"

func (r *Reader) nextOrderJSON() (ingest.Order, int, error) {
	for {
		b, err := r.br.ReadSlice('\n')
		if len(b) == 0 && err == io.EOF {
			return ingest.Order{}, 0, io.EOF
		}
		r.json.line++
		line := r.json.line
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = r.br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return ingest.Order{}, 0, err
			}
			r.rows++
			return ingest.Order{}, line, r.reject(line, "line longer than %d bytes; one order per line", bufSize)
		}
		if err != nil && err != io.EOF {
			return ingest.Order{}, 0, err
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		r.rows++
		o, id, reason := r.jsonOrder(b)
		if reason != "" {
			return ingest.Order{}, line, r.rejectOrder(line, id, "%s", reason)
		}
		return o, line, nil
	}
}

// jsonOrder decodes one line; it returns the order, or its id (when it can
// be read) and a reject reason.
func (r *Reader) jsonOrder(b []byte) (ingest.Order, string, string) {
	if !utf8.Valid(b) {
		return ingest.Order{}, "", "invalid UTF-8; save the file as UTF-8"
	}
	if b[0] != '{' {
		return ingest.Order{}, "", "want one JSON object per line"
	}
	r.json.src.Reset(b)
	dec := json.NewDecoder(&r.json.src)
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var j jsonOrder
	if err := dec.Decode(&j); err != nil {
		return ingest.Order{}, "", jsonReason(err)
	}
	id := j.OrderID
	if textProblem(id, "") != "" {
		id = ""
	}
	if dec.More() {
		return ingest.Order{}, id, "more than one JSON value on the line; one order per line"
	}
	f := orderFields{id: j.OrderID, channel: j.Channel, store: j.StoreID, purchasedAt: j.PurchasedAt, items: j.ItemIDs}
	var ok bool
	if f.customer, ok = jsonScalar(j.CustomerID); !ok {
		return ingest.Order{}, id, "customerId must be a number or a string"
	}
	if j.PaymentDetails == nil {
		return ingest.Order{}, id, "missing paymentDetails: want {\"amount\": \"12.50\", \"currency\": \"GBP\"}"
	}
	if f.amount, ok = jsonScalar(j.PaymentDetails.Amount); !ok {
		return ingest.Order{}, id, "paymentDetails.amount must be a number or a string such as \"12.50\""
	}
	f.currency = j.PaymentDetails.Currency
	if reason := textProblems([]string{f.id, f.channel, f.store, f.purchasedAt, f.currency}, jsonTextNames); reason != "" {
		return ingest.Order{}, id, reason
	}
	o, reason := r.buildOrder(&f, &jsonNames)
	return o, id, reason
}

// jsonScalar returns the text of a JSON number or string; null or absent is
// "".
func jsonScalar(raw json.RawMessage) (string, bool) {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", true
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err == nil
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		return string(raw), true
	}
	return "", false
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON (byte %d): %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field == "" {
			return "want one JSON object per line"
		}
		return fmt.Sprintf("%s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	case err == io.ErrUnexpectedEOF:
		return "not valid JSON: the object is cut short"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("unknown field %s; the fields are %s", strings.TrimPrefix(err.Error(), "json: unknown field "), jsonFields)
	}
	return "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "a list of strings"
	case "struct", "ptr":
		return "an object"
	}
	return "a " + k
}

// quoteCut quotes s for a reason, cut to 40 bytes.
func quoteCut(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", s)
}
