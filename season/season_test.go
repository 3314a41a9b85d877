package season

import (
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	m, err := New(Month)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := New(Quarter)
	none, _ := New(None)
	for _, c := range []struct {
		at       string
		month, q string
	}{
		{"2026-11-30T23:59:59Z", "2026-11", "2026-Q4"},
		{"2026-12-01T00:00:00Z", "2026-12", "2026-Q4"},
		// British Summer Time: 23:30 UTC on 31 May is 00:30 on 1 June in London.
		{"2026-05-31T23:30:00Z", "2026-06", "2026-Q2"},
		{"2026-03-31T23:30:00Z", "2026-04", "2026-Q2"},
		// Winter: London is UTC.
		{"2026-12-31T23:59:59Z", "2026-12", "2026-Q4"},
		{"2027-01-01T00:00:00Z", "2027-01", "2027-Q1"},
		{"2026-12-31T23:59:59-05:00", "2027-01", "2027-Q1"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := m.Of(at); got != c.month {
			t.Errorf("month of %s = %s, want %s", c.at, got, c.month)
		}
		if got := q.Of(at); got != c.q {
			t.Errorf("quarter of %s = %s, want %s", c.at, got, c.q)
		}
		if got := none.Of(at); got != "" {
			t.Errorf("no seasons: %q", got)
		}
	}
	at := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	if got := m.Back(at, 1); got != "2025-12" {
		t.Errorf("month back 1 = %s", got)
	}
	if got := q.Back(at, 2); got != "2025-Q3" {
		t.Errorf("quarter back 2 = %s", got)
	}
	for name, ok := range map[string]bool{"2026-12": true, "2026-13": false, "2026-1": false, "x": false, "2026-Q4": false} {
		if m.Valid(name) != ok {
			t.Errorf("month Valid(%q) = %v", name, !ok)
		}
	}
	if !q.Valid("2026-Q4") || q.Valid("2026-Q5") || q.Valid("2026-12") {
		t.Error("quarter Valid")
	}
	if _, err := New("weekly"); err == nil {
		t.Error("weekly accepted")
	}
}
