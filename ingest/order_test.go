package ingest

import (
	"errors"
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"
)

// idPattern is the definition ValidID implements by hand.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)

func TestValidID(t *testing.T) {
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

func TestValidateRefusesManualPrefix(t *testing.T) {
	o := Order{ID: ManualPrefix + "x1", CustomerID: 1, Channel: ChannelWeb, PurchasedAt: time.Now()}
	var fe *FieldError
	if err := o.Validate(time.Now()); !errors.As(err, &fe) || fe.Field != "orderId" {
		t.Fatalf("Validate(%q) = %v, want an orderId field error", o.ID, err)
	}
	o.ID = "web-1"
	if err := o.Validate(time.Now()); err != nil {
		t.Fatalf("Validate(web-1) = %v", err)
	}
}
