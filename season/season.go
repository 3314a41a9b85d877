// Package season names the seasons of the season boards: the calendar
// months (or quarters) of Europe/London time in which points are earned.
// A change belongs to the season of its own time (a purchase's time, a
// manual insert's request time, a refund's own date), whatever the season
// of the order it refunds. Pure functions; safe for concurrent use.
package season

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/London, whatever the host's zoneinfo holds
)

// Period is how long a season lasts.
type Period string

// The periods.
const (
	None    Period = "none"    // no season boards
	Month   Period = "month"   // "2026-12"
	Quarter Period = "quarter" // "2026-Q4"
)

// Calendar names the seasons of one period in one time zone.
type Calendar struct {
	period Period
	loc    *time.Location
}

// New returns the calendar of period in Europe/London time.
func New(p Period) (Calendar, error) {
	switch p {
	case None, Month, Quarter:
	default:
		return Calendar{}, fmt.Errorf("season period %q: want month, quarter or none", p)
	}
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return Calendar{}, fmt.Errorf("load Europe/London: %w", err)
	}
	return Calendar{period: p, loc: loc}, nil
}

// Period returns the calendar's period.
func (c Calendar) Period() Period { return c.period }

// Enabled reports whether there are season boards.
func (c Calendar) Enabled() bool { return c.period == Month || c.period == Quarter }

// Of returns the name of the season t falls in ("" without seasons).
func (c Calendar) Of(t time.Time) string {
	if !c.Enabled() {
		return ""
	}
	l := t.In(c.loc)
	if c.period == Quarter {
		return fmt.Sprintf("%04d-Q%d", l.Year(), (int(l.Month())-1)/3+1)
	}
	return fmt.Sprintf("%04d-%02d", l.Year(), int(l.Month()))
}

// Start returns when the season t falls in began.
func (c Calendar) Start(t time.Time) time.Time {
	l := t.In(c.loc)
	m := l.Month()
	if c.period == Quarter {
		m = time.Month((int(m)-1)/3*3 + 1)
	}
	return time.Date(l.Year(), m, 1, 0, 0, 0, 0, c.loc)
}

// Back returns the name of the season n seasons before the one t falls in
// (0: t's own season).
func (c Calendar) Back(t time.Time, n int) string {
	if !c.Enabled() {
		return ""
	}
	return c.Of(c.Start(t).AddDate(0, -c.months(n), 0))
}

// Valid reports whether name is a season of this calendar (syntax only).
func (c Calendar) Valid(name string) bool {
	var y, n int
	switch c.period {
	case Month:
		_, err := fmt.Sscanf(name, "%4d-%2d", &y, &n)
		return err == nil && len(name) == 7 && n >= 1 && n <= 12 && c.Of(time.Date(y, time.Month(n), 15, 0, 0, 0, 0, c.loc)) == name
	case Quarter:
		_, err := fmt.Sscanf(name, "%4d-Q%1d", &y, &n)
		return err == nil && len(name) == 7 && n >= 1 && n <= 4
	}
	return false
}

// ExpiresAt returns when the board of t's season may go: once kept more
// seasons have ended after it.
func (c Calendar) ExpiresAt(t time.Time, kept int) time.Time {
	return c.Start(t).AddDate(0, c.months(kept+1), 0)
}

// months returns how many months n seasons last.
func (c Calendar) months(n int) int {
	if c.period == Quarter {
		return 3 * n
	}
	return n
}

// StartOf returns when the season called name begins (false for a name
// that is not one of this calendar's).
func (c Calendar) StartOf(name string) (time.Time, bool) {
	if !c.Valid(name) {
		return time.Time{}, false
	}
	var y, n int
	if c.period == Quarter {
		fmt.Sscanf(name, "%4d-Q%1d", &y, &n)
		n = (n-1)*3 + 1
	} else {
		fmt.Sscanf(name, "%4d-%2d", &y, &n)
	}
	return time.Date(y, time.Month(n), 1, 0, 0, 0, 0, c.loc), true
}
