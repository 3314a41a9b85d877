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

// Limits on order fields.
const (
	MaxIDLen    = 64   // order, store and item ids
	MaxItems    = 2000 // item ids per order (the largest real invoice has 1,114 lines)
	MaxCustomer = 1<<53 - 1
)

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
var ErrInvalid = errors.New("invalid order")

// FieldError is a validation failure of one field.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks the order's fields (not its points): ids, channel, time.
// now bounds the time of purchase (at most a day ahead, for clock skew).
func (o *Order) Validate(now time.Time) error {
	switch {
	case !ValidID(o.ID):
		return &FieldError{"orderId", "must be 1-64 letters, digits or . _ : / - (got " + quoteCut(o.ID) + ")"}
	case strings.HasPrefix(o.ID, ManualPrefix):
		return &FieldError{"orderId", "must not start with " + ManualPrefix + " (reserved for manual inserts)"}
	case o.CustomerID > MaxCustomer:
		return &FieldError{"customerId", fmt.Sprintf("must be a positive integer up to %d", uint64(MaxCustomer))}
	case o.Channel != ChannelWeb && o.Channel != ChannelApp && o.Channel != ChannelStore:
		return &FieldError{"channel", "must be web, app or store (got " + quoteCut(string(o.Channel)) + ")"}
	case o.Channel == ChannelStore && o.StoreID == "":
		return &FieldError{"storeId", "is required for store orders"}
	case o.StoreID != "" && !ValidID(o.StoreID):
		return &FieldError{"storeId", "must be 1-64 letters, digits or . _ : / -"}
	case len(o.ItemIDs) > MaxItems:
		return &FieldError{"itemIds", fmt.Sprintf("at most %d items", MaxItems)}
	case o.PurchasedAt.IsZero():
		return &FieldError{"purchasedAt", "is required (RFC 3339 time)"}
	case o.PurchasedAt.After(now.Add(24 * time.Hour)):
		return &FieldError{"purchasedAt", "is in the future"}
	}
	for _, it := range o.ItemIDs {
		if !ValidID(it) {
			return &FieldError{"itemIds", "each item id must be 1-64 letters, digits or . _ : / - (got " + quoteCut(it) + ")"}
		}
	}
	return nil
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
		return ledger.Change{}, &FieldError{"paymentDetails", err.Error()}
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
