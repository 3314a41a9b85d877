package ingest

import (
	"errors"
	"math/rand"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/points"
)

// idPattern is the definition ValidID implements by hand.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"", false},
		{"a", true},
		{"Z", true},
		{"0", true},
		{"9", true},
		{"536365", true},
		{"C536379", true},
		{"LDN-01", true},
		{"web:order/2010.12_01-x", true},
		{"85123A", true},
		{".a", false},
		{"_a", false},
		{":a", false},
		{"/a", false},
		{"-a", false},
		{"a.", true},
		{"a_", true},
		{"a:", true},
		{"a/", true},
		{"a-", true},
		{"a b", false},
		{" a", false},
		{"a ", false},
		{"a\n", false},
		{"\na", false},
		{"a\x00", false},
		{"a+b", false},
		{"a,b", false},
		{"a|b", false},
		{"a@b", false},
		{"a\\b", false},
		{"a`b", false},
		{"a[b", false},
		{"a{b", false},
		{"é", false},
		{"aé", false},
		{"a\xff", false},
		{"\xffa", false},
		{"Ａ", false}, // fullwidth A
		{"a\u0660", false},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"a" + strings.Repeat("-", 63), true},
		{"a" + strings.Repeat("-", 64), false},
		{strings.Repeat("a", 64) + "\n", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
		if re := idPattern.MatchString(tt.id); re != tt.want {
			t.Errorf("the regexp gives %v for %q, want %v (the table is wrong)", re, tt.id, tt.want)
		}
	}

	// Every single byte, and every byte after a valid first character.
	for b := 0; b < 256; b++ {
		for _, s := range []string{string([]byte{byte(b)}), "a" + string([]byte{byte(b)}), string([]byte{byte(b)}) + "a"} {
			if got, want := ValidID(s), idPattern.MatchString(s); got != want {
				t.Errorf("ValidID(%q) = %v, the regexp says %v", s, got, want)
			}
		}
	}

	// Random strings over the allowed characters and their neighbours, of
	// lengths around the limit.
	const alphabet = "aAzZ09._:/-@[`{ \n\x00\x7f\xc3\xa9\xff+,|"
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		n := rng.Intn(MaxIDLen + 4)
		noise := rng.Intn(3) * n // none in a third of the strings, else about 1 or 2 a string
		b := make([]byte, n)
		for j := range b {
			if noise > 0 && rng.Intn(n*n) < noise {
				b[j] = alphabet[rng.Intn(len(alphabet))]
			} else {
				b[j] = alphabet[rng.Intn(11)] // mostly allowed characters
			}
		}
		s := string(b)
		if got, want := ValidID(s), idPattern.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

// validOrder is an order Validate accepts, at now.
func validOrder(now time.Time) Order {
	return Order{
		ID: "web-1", CustomerID: 17850, Channel: ChannelWeb, Amount: decimal.RequireFromString("12.50"), Currency: "GBP",
		ItemIDs: []string{"85123A", "71053"}, PurchasedAt: now.Add(-time.Hour),
	}
}

// TestValidateLimits checks every limit of Validate at its edges: each case
// changes one field of a valid order and wants it accepted, or refused with
// exactly that field named.
func TestValidateLimits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	amount := func(s string) func(*Order) {
		return func(o *Order) { o.Amount = decimal.RequireFromString(s) }
	}
	tests := []struct {
		name  string
		edit  func(*Order)
		field string // "": valid
	}{
		{"valid", func(*Order) {}, ""},
		{"amount scale 6", amount("10.000001"), ""},
		{"amount scale 7", amount("10.0000001"), "paymentDetails.amount"},
		{"amount 4 decimals", amount("10.0001"), ""},
		{"amount trailing zeros past 6", amount("10.50000000000"), ""},
		{"amount smallest", amount("0.000001"), ""},
		{"amount below smallest", amount("0.0000001"), "paymentDetails.amount"},
		{"amount largest", amount("10000000"), ""},
		{"amount largest with decimals", amount("9999999.999999"), ""},
		{"amount above largest", amount("10000000.000001"), "paymentDetails.amount"},
		{"amount far above", amount("1e30"), "paymentDetails.amount"},
		{"refund largest", amount("-10000000"), ""},
		{"refund above largest", amount("-10000000.000001"), "paymentDetails.amount"},
		{"refund scale 6", amount("-0.000001"), ""},
		{"refund scale 7", amount("-3.9999999"), "paymentDetails.amount"},
		{"zero", amount("0"), ""},
		{"zero with decimals", amount("0.000000000"), ""},
		{"EUR", func(o *Order) { o.Currency = "EUR" }, ""},
		{"lower-case eur", func(o *Order) { o.Currency = "eur" }, ""},
		{"USD", func(o *Order) { o.Currency = "USD" }, "paymentDetails.currency"},
		{"no currency", func(o *Order) { o.Currency = "" }, "paymentDetails.currency"},
		{"order id 64", func(o *Order) { o.ID = strings.Repeat("a", 64) }, ""},
		{"order id 65", func(o *Order) { o.ID = strings.Repeat("a", 65) }, "orderId"},
		{"order id empty", func(o *Order) { o.ID = "" }, "orderId"},
		{"order id space", func(o *Order) { o.ID = "web 1" }, "orderId"},
		{"order id reserved", func(o *Order) { o.ID = ManualPrefix + "k1" }, "orderId"},
		{"customer largest", func(o *Order) { o.CustomerID = MaxCustomer }, ""},
		{"customer above largest", func(o *Order) { o.CustomerID = MaxCustomer + 1 }, "customerId"},
		{"customer anonymous", func(o *Order) { o.CustomerID = 0 }, ""},
		{"channel app", func(o *Order) { o.Channel = ChannelApp }, ""},
		{"channel fax", func(o *Order) { o.Channel = "fax" }, "channel"},
		{"channel empty", func(o *Order) { o.Channel = "" }, "channel"},
		{"channel upper case", func(o *Order) { o.Channel = "WEB" }, "channel"},
		{"store order", func(o *Order) { o.Channel, o.StoreID = ChannelStore, "LDN-01" }, ""},
		{"store order without store", func(o *Order) { o.Channel = ChannelStore }, "storeId"},
		{"store id 64", func(o *Order) { o.Channel, o.StoreID = ChannelStore, strings.Repeat("s", 64) }, ""},
		{"store id 65", func(o *Order) { o.Channel, o.StoreID = ChannelStore, strings.Repeat("s", 65) }, "storeId"},
		{"store id bad", func(o *Order) { o.StoreID = "LDN 01" }, "storeId"},
		{"no items", func(o *Order) { o.ItemIDs = nil }, ""},
		{"items at most", func(o *Order) { o.ItemIDs = slices.Repeat([]string{"A1"}, MaxItems) }, ""},
		{"items too many", func(o *Order) { o.ItemIDs = slices.Repeat([]string{"A1"}, MaxItems+1) }, "itemIds"},
		{"item id bad", func(o *Order) { o.ItemIDs = []string{"A1", "A 2"} }, "itemIds"},
		{"item id empty", func(o *Order) { o.ItemIDs = []string{""} }, "itemIds"},
		{"item id 65", func(o *Order) { o.ItemIDs = []string{strings.Repeat("i", 65)} }, "itemIds"},
		{"purchased at the limit ahead", func(o *Order) { o.PurchasedAt = now.Add(MaxAhead) }, ""},
		{"purchased past the limit ahead", func(o *Order) { o.PurchasedAt = now.Add(MaxAhead + time.Second) }, "purchasedAt"},
		{"purchased ahead in another zone", func(o *Order) {
			o.PurchasedAt = now.Add(MaxAhead).In(time.FixedZone("UTC+14", 14*3600))
		}, ""},
		{"purchased earliest", func(o *Order) { o.PurchasedAt = EarliestPurchase }, ""},
		{"purchased before earliest", func(o *Order) { o.PurchasedAt = EarliestPurchase.Add(-time.Second) }, "purchasedAt"},
		{"purchased 1970", func(o *Order) { o.PurchasedAt = time.Unix(0, 0) }, "purchasedAt"},
		{"purchased zero", func(o *Order) { o.PurchasedAt = time.Time{} }, "purchasedAt"},
		{"purchased in 2010", func(o *Order) { o.PurchasedAt = time.Date(2010, 12, 1, 8, 26, 0, 0, time.UTC) }, ""},
	}
	for _, tt := range tests {
		o := validOrder(now)
		tt.edit(&o)
		err := o.Validate(now)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: Validate = %v, want nil", tt.name, err)
			}
			continue
		}
		var fes FieldErrors
		if !errors.As(err, &fes) || len(fes) != 1 || fes[0].Field != tt.field || fes[0].Reason == "" {
			t.Errorf("%s: Validate = %v, want one error naming %s", tt.name, err, tt.field)
			continue
		}
		var fe *FieldError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe != fes[0] {
			t.Errorf("%s: Validate = %v: want errors.Is ErrInvalid and errors.As *FieldError", tt.name, err)
		}
	}
}

// TestValidateReportsEveryField checks that all invalid fields of one order
// are reported, in field order, and that the messages say what to fix.
func TestValidateReportsEveryField(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	o := Order{
		ID: "bad id", CustomerID: MaxCustomer + 1, Channel: "fax", StoreID: "a b",
		Amount: decimal.RequireFromString("10.0000001"), Currency: "USD",
		ItemIDs: []string{"ok", "not ok"}, PurchasedAt: now.Add(48 * time.Hour),
	}
	err := o.Validate(now)
	var fes FieldErrors
	if !errors.As(err, &fes) {
		t.Fatalf("Validate = %v, want FieldErrors", err)
	}
	var got []string
	for _, fe := range fes {
		got = append(got, fe.Field)
	}
	want := []string{"orderId", "customerId", "channel", "storeId", "paymentDetails.amount", "paymentDetails.currency", "itemIds", "purchasedAt"}
	if !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for _, s := range []string{`"bad id"`, "9007199254740991", `"fax"`, "at most 6 decimal places", `"10.0000001"`,
		`"USD"`, "GBP or EUR", `"not ok"`, "more than 24h ahead"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Validate's message %q does not contain %q", err, s)
		}
	}
}

// TestChangeFields checks that Change names the payment field at fault when
// given an order Validate would refuse, and computes points of an amount with
// 6 decimal places exactly.
func TestChangeFields(t *testing.T) {
	t.Parallel()
	rule, err := points.New(points.Config{EURToGBP: decimal.RequireFromString("0.851237")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ amount, currency, field string }{
		{"10", "USD", "paymentDetails.currency"},
		{"10000000.000001", "GBP", "paymentDetails.amount"},
	} {
		o := validOrder(now)
		o.Amount, o.Currency = decimal.RequireFromString(tt.amount), tt.currency
		var fe *FieldError
		if _, err := o.Change(rule, "test"); !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("Change(%s %s) = %v, want a %s field error", tt.amount, tt.currency, err, tt.field)
		}
	}
	o := validOrder(now)
	o.Amount, o.Currency = decimal.RequireFromString("17.620001"), "EUR" // 14.999... GBP: 1 point
	c, err := o.Change(rule, "test")
	if err != nil {
		t.Fatal(err)
	}
	if want := decimal.RequireFromString("14.998796791237"); !c.AmountGBP.Equal(want) || c.Points != 1 {
		t.Errorf("Change(17.620001 EUR) = %s GBP, %d points; want %s, 1", c.AmountGBP, c.Points, want)
	}
}

func TestValidateRefusesManualPrefix(t *testing.T) {
	t.Parallel()
	o := Order{ID: ManualPrefix + "x1", CustomerID: 1, Channel: ChannelWeb, Currency: "GBP", PurchasedAt: time.Now()}
	var fe *FieldError
	if err := o.Validate(time.Now()); !errors.As(err, &fe) || fe.Field != "orderId" {
		t.Fatalf("Validate(%q) = %v, want an orderId field error", o.ID, err)
	}
	o.ID = "web-1"
	if err := o.Validate(time.Now()); err != nil {
		t.Fatalf("Validate(web-1) = %v", err)
	}
}

// FuzzValidateStorable checks the promise of Validate: an order it accepts
// has a change (points, GBP amount) at any accepted EUR rate, and its amounts
// fit the ledger's columns exactly (amount Decimal(18, 6), amount_gbp
// Decimal(38, 12)).
func FuzzValidateStorable(f *testing.F) {
	for _, s := range []struct{ amount, currency, rate string }{
		{"10.0001", "GBP", "0.85"}, {"9999999.999999", "EUR", "9.999999"}, {"-10000000", "EUR", "0.000001"},
		{"0.0000001", "GBP", "0.85"}, {"10000000.000001", "EUR", "0.85"}, {"1e-6", "eur", "1.5"}, {"0", "USD", "0.85"},
	} {
		f.Add(s.amount, s.currency, s.rate)
	}
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, amount, currency, rate string) {
		a, err := decimal.NewFromString(amount)
		if err != nil || len(amount) > 64 {
			return
		}
		rule, err := points.New(points.Config{EURToGBP: decimalOrZero(rate)})
		if err != nil {
			return
		}
		o := validOrder(now)
		o.Amount, o.Currency = a, currency
		if o.Validate(now) != nil {
			return
		}
		c, err := o.Change(rule, "fuzz")
		if err != nil {
			t.Fatalf("Validate accepted %s %s but Change(rate %s) = %v", amount, currency, rate, err)
		}
		fits := func(v decimal.Decimal, precision, scale int32) bool {
			return v.Equal(v.Truncate(scale)) && v.Abs().LessThan(decimal.New(1, precision-scale))
		}
		if !fits(c.Amount, 18, 6) || !fits(c.AmountGBP, 38, 12) {
			t.Fatalf("Validate accepted %s %s (rate %s) but the ledger can't store amount %s / amount_gbp %s exactly",
				amount, currency, rate, c.Amount, c.AmountGBP)
		}
	})
}

func decimalOrZero(s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil || len(s) > 64 {
		return decimal.Zero
	}
	return d
}
