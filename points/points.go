// Package points is the points rule: how much an amount of money earns.
//
// A purchase earns round_half_up(amount_in_GBP / 10) points; a refund removes
// round_half_up(|amount_in_GBP| / 10). Amounts are exact decimals; EUR is
// converted at a configured rate before the rule; every other currency is
// refused. The rule is pure and safe for concurrent use.
package points

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// ErrCurrency is returned for a currency the rule does not accept.
var ErrCurrency = errors.New("unsupported currency")

// ErrAmount is returned for an amount outside the accepted range.
var ErrAmount = errors.New("amount out of range")

// MaxAmount is the largest absolute amount (in the order's currency) one order
// may carry: 10 million, far above any real basket, low enough that the
// points fit an int32 balance with room to spare. ingest.Order.Validate
// refuses larger amounts; ToGBP refuses them too.
var MaxAmount = decimal.NewFromInt(10_000_000)

// Limits of the EUR rate. With amounts of at most 6 decimal places (see
// ingest.Validate), a GBP amount has at most MaxRateScale + 6 = 12, which the
// ledger keeps exactly.
const MaxRateScale = 6

// MaxEURToGBP bounds the EUR rate from above: a rate of 10 or more is a typo
// (85 for 0.85), not a currency market.
var MaxEURToGBP = decimal.NewFromInt(10)

// Config is the rule's configuration.
type Config struct {
	// EURToGBP is the rate: 1 EUR = EURToGBP GBP. Must be positive, below
	// MaxEURToGBP, with at most MaxRateScale decimal places.
	EURToGBP decimal.Decimal
}

// DefaultConfig returns a config with an indicative EUR rate of 0.85.
func DefaultConfig() Config { return Config{EURToGBP: decimal.RequireFromString("0.85")} }

// Rule computes points. The zero value is not usable; build it with New.
type Rule struct{ eur decimal.Decimal }

// New validates cfg and returns the rule. The errors name the setting
// (points.eur_to_gbp) and say what to change; cmd/loyalty's config check
// calls New so that a bad rate stops the start.
func New(cfg Config) (*Rule, error) {
	r := cfg.EURToGBP
	switch {
	case !r.IsPositive() || r.GreaterThanOrEqual(MaxEURToGBP):
		return nil, fmt.Errorf("points.eur_to_gbp %s: want the GBP value of 1 EUR, above 0 and below %s (e.g. 0.85)", r, MaxEURToGBP)
	case !r.Equal(r.Truncate(MaxRateScale)):
		return nil, fmt.Errorf("points.eur_to_gbp %s: at most %d decimal places, so that GBP amounts are kept exactly in the ledger (e.g. %s)",
			r, MaxRateScale, r.Round(MaxRateScale))
	}
	return &Rule{eur: r}, nil
}

var ten = decimal.NewFromInt(10)

// ToGBP converts amount in currency to GBP, exactly.
func (r *Rule) ToGBP(amount decimal.Decimal, currency string) (decimal.Decimal, error) {
	if amount.Abs().GreaterThan(MaxAmount) {
		return decimal.Decimal{}, fmt.Errorf("%w: |%s| is above %s", ErrAmount, amount, MaxAmount)
	}
	switch strings.ToUpper(currency) {
	case "GBP":
		return amount, nil
	case "EUR":
		return amount.Mul(r.eur), nil
	default:
		return decimal.Decimal{}, fmt.Errorf("%w %q: only GBP and EUR are accepted", ErrCurrency, currency)
	}
}

// Points returns the signed points for amount in currency: positive for a
// purchase, negative for a refund (negative amount), rounded half up on the
// absolute value, once.
func (r *Rule) Points(amount decimal.Decimal, currency string) (int64, error) {
	gbp, err := r.ToGBP(amount, currency)
	if err != nil {
		return 0, err
	}
	return ForGBP(gbp), nil
}

// ForGBP applies the rule to an exact GBP amount.
func ForGBP(gbp decimal.Decimal) int64 {
	p := gbp.Abs().Div(ten).Round(0).IntPart() // decimal.Round rounds half away from zero
	if gbp.IsNegative() {
		return -p
	}
	return p
}
