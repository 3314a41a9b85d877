package points

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestPoints(t *testing.T) {
	r, err := New(Config{EURToGBP: decimal.RequireFromString("0.85")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		amount, currency string
		want             int64
	}{
		{"0", "GBP", 0},
		{"0.00", "GBP", 0},
		{"4.99", "GBP", 0},
		{"4.999", "GBP", 0},
		{"4.9999", "GBP", 0},
		{"5", "GBP", 1},
		{"5.00", "GBP", 1},
		{"14.99", "GBP", 1},
		{"14.9999", "GBP", 1},
		{"15.00", "GBP", 2},
		{"15.001", "GBP", 2},
		{"24.999", "GBP", 2},
		{"25", "GBP", 3},
		{"100", "GBP", 10},
		{"0.001", "GBP", 0},
		{"-4.99", "GBP", 0},
		{"-5", "GBP", -1},
		{"-14.99", "GBP", -1},
		{"-15", "GBP", -2},
		{"-15.001", "GBP", -2},
		{"10000000", "GBP", 1000000},
		// EUR at 0.85: 17.64 EUR = 14.994 GBP -> 1; 17.65 EUR = 15.0025 GBP -> 2
		{"17.64", "EUR", 1},
		{"17.65", "EUR", 2},
		{"-17.65", "EUR", -2},
		{"5.88", "eur", 0}, // 4.998 GBP
		{"5.89", "EUR", 1}, // 5.0065 GBP
		{"15", "gbp", 2},
	}
	for _, tt := range tests {
		got, err := r.Points(decimal.RequireFromString(tt.amount), tt.currency)
		if err != nil {
			t.Errorf("Points(%s %s): %v", tt.amount, tt.currency, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Points(%s %s) = %d, want %d", tt.amount, tt.currency, got, tt.want)
		}
	}
}

func TestPointsRefused(t *testing.T) {
	r, _ := New(DefaultConfig())
	if _, err := r.Points(decimal.NewFromInt(10), "USD"); !errors.Is(err, ErrCurrency) {
		t.Errorf("USD: err = %v, want ErrCurrency", err)
	}
	if _, err := r.Points(decimal.NewFromInt(10), ""); !errors.Is(err, ErrCurrency) {
		t.Errorf("empty currency: err = %v, want ErrCurrency", err)
	}
	if _, err := r.Points(decimal.RequireFromString("10000000.01"), "GBP"); !errors.Is(err, ErrAmount) {
		t.Errorf("huge amount: err = %v, want ErrAmount", err)
	}
}

func TestNewRate(t *testing.T) {
	tests := []struct {
		rate string
		ok   bool
	}{
		{"0.85", true},
		{"0.000001", true}, // the smallest rate: 6 decimal places
		{"0.851234", true},
		{"0.8512340", true},    // 7 digits, but the value has 6 decimal places
		{"9.999999", true},     // the largest
		{"0.8512345", false},   // 7 decimal places
		{"0.0000001", false},   // 7 decimal places
		{"0.00000001", false},  //
		{"10", false},          // a typo for 1.0, or worse
		{"85", false},          // a typo for 0.85
		{"0", false},           //
		{"-0.85", false},       //
		{"9.9999999", false},   // below 10 but 7 decimal places
		{"10.000000", false},   //
		{"1.000000000", true},  // trailing zeros
		{"0.999999999", false}, //
	}
	for _, tt := range tests {
		_, err := New(Config{EURToGBP: decimal.RequireFromString(tt.rate)})
		if (err == nil) != tt.ok {
			t.Errorf("New(rate %s) = %v, want ok %v", tt.rate, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "points.eur_to_gbp") {
			t.Errorf("New(rate %s) = %q: the error does not name the setting", tt.rate, err)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New with zero EUR rate: want error")
	}
	_, err := New(Config{EURToGBP: decimal.RequireFromString("0.8512345")})
	if err == nil || !strings.Contains(err.Error(), "0.851235") {
		t.Errorf("New(rate 0.8512345) = %v, want it to suggest 0.851235", err)
	}
}

// TestToGBPScale checks that an amount of 6 decimal places at the largest
// rate scale gives a GBP amount of 12, exactly (no rounding anywhere).
func TestToGBPScale(t *testing.T) {
	r, err := New(Config{EURToGBP: decimal.RequireFromString("0.851237")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ToGBP(decimal.RequireFromString("9999999.999999"), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	if want := decimal.RequireFromString("8512369.999999148763"); !got.Equal(want) {
		t.Errorf("ToGBP = %s, want %s", got, want)
	}
}
