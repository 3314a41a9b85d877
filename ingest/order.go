package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/points"
)

// Channel is where an order was placed.
type Channel string

// The sales channels.
const (
	ChannelWeb   Channel = "web"
	ChannelApp   Channel = "app"
	ChannelStore Channel = "store"
)

// Limits on order fields: what an order is. Validate applies them all, so an
// order it accepts is one the ClickHouse ledger stores exactly (amount
// Decimal(18, 6), amount_gbp Decimal(38, 12): see schema migration 0004).
const (
	MaxIDLen    = 64   // order, store and item ids
	MaxItems    = 2000 // item ids per order (the largest real invoice has 1,114 lines)
	MaxCustomer = 1<<53 - 1

	// MaxAmountScale is the most decimal places an amount may have (by value:
	// 10.5000000 is 10.5). Unit prices carry sub-penny digits (0.001 in the
	// retail files); an order's total is an exact sum of them.
	MaxAmountScale = 6

	// MaxAhead is how far the time of purchase may be ahead of the clock of
	// the process that validates it: clocks of tills, apps and servers
	// disagree, and time zones get lost. The write path's memory of order ids
	// relies on this bound.
	MaxAhead = 24 * time.Hour
)

// MaxAmount is the largest absolute amount of an order, in its currency:
// points.MaxAmount (10,000,000), the points rule's bound.
var MaxAmount = points.MaxAmount

// EarliestPurchase is the earliest accepted time of purchase. Earlier times
// are mistakes (a zero or 1970 date from a broken till), and the ledger's
// DateTime starts in 1970.
var EarliestPurchase = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ValidID reports whether s is an acceptable order, store or item id: 1 to 64
// characters of letters, digits and . _ : / -, starting with a letter or digit.
// (The same as the regexp ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$, which
// order_test.go checks it against, without its cost on every item id.)
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == ':' || c == '/' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Order is a completed purchase (positive amount) or a refund or cancellation
// (negative amount) from a channel.
type Order struct {
	ID          string          // unique for ever
	CustomerID  uint64          // 0: anonymous, earns nothing
	Channel     Channel         //
	StoreID     string          // required for store orders
	Amount      decimal.Decimal // exact, signed, in Currency
	Currency    string          // GBP or EUR
	ItemIDs     []string        //
	PurchasedAt time.Time       //
}

// ManualPrefix starts the change id of a manual insert ("manual:" + the
// idempotency key); order ids may not use it.
const ManualPrefix = "manual:"

// ErrInvalid wraps every validation failure; the message says what to fix.
// It is of the class ledger.ErrInvalid: sending the same order again fails
// the same way.
var ErrInvalid = ledger.NewError(ledger.ErrInvalid, "invalid order")

// FieldError is a validation failure of one field. Field is named as in the
// HTTP API's JSON ("paymentDetails.amount"); the POS file reader renames it
// to the file's column.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// causedFieldError is a FieldError with the error that caused it (the
// points rule's ErrCurrency or ErrAmount): errors.As finds the FieldError,
// errors.Is finds ErrInvalid and the cause; the message is the FieldError's.
type causedFieldError struct {
	*FieldError
	cause error
}

// Unwrap returns the field error and its cause.
func (e causedFieldError) Unwrap() []error { return []error{e.FieldError, e.cause} }

// FieldErrors is every invalid field of one order, in the order of the
// fields. errors.As finds the first *FieldError in it, errors.Is finds
// ErrInvalid.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap returns the field errors.
func (es FieldErrors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// Validate checks every field of the order against the limits above and
// returns nil or FieldErrors naming each invalid field. now bounds the time of
// purchase (at most MaxAhead ahead). A customer id of 0 passes (an anonymous
// purchase in a POS file); the write path refuses it.
func (o *Order) Validate(now time.Time) error {
	var errs FieldErrors
	bad := func(field, reason string) { errs = append(errs, &FieldError{field, reason}) }
	switch {
	case !ValidID(o.ID):
		bad("orderId", "must be 1-64 letters, digits or . _ : / - (got "+quoteCut(o.ID)+")")
	case strings.HasPrefix(o.ID, ManualPrefix):
		bad("orderId", "must not start with "+ManualPrefix+" (reserved for manual inserts)")
	}
	if o.CustomerID > MaxCustomer {
		bad("customerId", fmt.Sprintf("must be a positive integer up to %d", uint64(MaxCustomer)))
	}
	switch o.Channel {
	case ChannelWeb, ChannelApp, ChannelStore:
	default:
		bad("channel", "must be web, app or store (got "+quoteCut(string(o.Channel))+")")
	}
	switch {
	case o.Channel == ChannelStore && o.StoreID == "":
		bad("storeId", "is required for store orders")
	case o.StoreID != "" && !ValidID(o.StoreID):
		bad("storeId", "must be 1-64 letters, digits or . _ : / -")
	}
	if reason := amountProblem(o.Amount); reason != "" {
		bad("paymentDetails.amount", reason)
	}
	switch strings.ToUpper(o.Currency) {
	case "GBP", "EUR":
	case "":
		bad("paymentDetails.currency", "is required: GBP or EUR")
	default:
		bad("paymentDetails.currency", "must be GBP or EUR (got "+quoteCut(o.Currency)+")")
	}
	if len(o.ItemIDs) > MaxItems {
		bad("itemIds", fmt.Sprintf("at most %d items", MaxItems))
	} else {
		for _, it := range o.ItemIDs {
			if !ValidID(it) {
				bad("itemIds", "each item id must be 1-64 letters, digits or . _ : / - (got "+quoteCut(it)+")")
				break
			}
		}
	}
	switch {
	case o.PurchasedAt.IsZero():
		bad("purchasedAt", "is required (RFC 3339 time)")
	case o.PurchasedAt.Before(EarliestPurchase):
		bad("purchasedAt", "is before "+EarliestPurchase.Format("2006-01-02")+"; send the time of purchase")
	case o.PurchasedAt.After(now.Add(MaxAhead)):
		bad("purchasedAt", fmt.Sprintf("is in the future (more than %dh ahead of the server's clock); send the time of purchase with its UTC offset",
			int(MaxAhead.Hours())))
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// amountProblem says what is wrong with an amount, or returns "".
func amountProblem(a decimal.Decimal) string {
	switch {
	case a.Abs().GreaterThan(MaxAmount):
		return fmt.Sprintf("must be at most %s in absolute value (got %s)", MaxAmount, quoteCut(a.String()))
	case !a.Equal(a.Truncate(MaxAmountScale)):
		return fmt.Sprintf("must have at most %d decimal places (got %s)", MaxAmountScale, quoteCut(a.String()))
	}
	return ""
}

func quoteCut(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// Change turns a validated order into the ledger change it asks for, with its
// points from rule. A refund (negative amount) has cause refund.
func (o *Order) Change(rule *points.Rule, actor string) (ledger.Change, error) {
	gbp, err := rule.ToGBP(o.Amount, o.Currency)
	if err != nil {
		field := "paymentDetails"
		switch {
		case errors.Is(err, points.ErrCurrency):
			field = "paymentDetails.currency"
		case errors.Is(err, points.ErrAmount):
			field = "paymentDetails.amount"
		}
		return ledger.Change{}, causedFieldError{&FieldError{field, err.Error()}, err}
	}
	c := ledger.Change{
		ID: o.ID, CustomerID: o.CustomerID, Points: points.ForGBP(gbp), Cause: ledger.CauseOrder,
		Channel: string(o.Channel), StoreID: o.StoreID, Amount: o.Amount, Currency: o.Currency,
		AmountGBP: gbp, ItemIDs: o.ItemIDs, Actor: actor, OccurredAt: o.PurchasedAt.UTC().Truncate(time.Second),
	}
	if o.Amount.IsNegative() {
		c.Cause = ledger.CauseRefund
	}
	c.Seal()
	return c, nil
}
