package points

import (
	"errors"
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
	if _, err := New(Config{}); err == nil {
		t.Error("New with zero EUR rate: want error")
	}
}
