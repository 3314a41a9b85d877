package posfile

import (
	"time"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ingest"
)

// parseInt parses a whole number: an optional '-' and 1 to 18 digits.
func parseInt(s string) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	if neg {
		n = -n
	}
	return n, true
}

// fixed is a parsed decimal: m * 10^-scale, or big when m would overflow.
type fixed struct {
	m     int64
	scale int32
	big   *decimal.Decimal // set when the digits do not fit in m
}

func (f fixed) decimal() decimal.Decimal {
	if f.big != nil {
		return *f.big
	}
	return decimal.New(f.m, -f.scale)
}

func (f fixed) negative() bool {
	if f.big != nil {
		return f.big.IsNegative()
	}
	return f.m < 0
}

// parseDecimal parses a plain decimal number: an optional '-', digits, and
// optionally '.' and more digits ("2.55", "-0.001", "12"). No exponent, no
// '+', no spaces, no thousands separators.
func parseDecimal(s string) (fixed, bool) {
	t := s
	neg := len(t) > 0 && t[0] == '-'
	if neg {
		t = t[1:]
	}
	var m int64
	digits, scale, dot := 0, int32(0), false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.' && !dot && digits > 0 && i+1 < len(t):
			dot = true
		case c >= '0' && c <= '9':
			if digits < 18 {
				m = m*10 + int64(c-'0')
			}
			digits++
			if dot {
				scale++
			}
		default:
			return fixed{}, false
		}
	}
	if digits == 0 {
		return fixed{}, false
	}
	if digits > 18 {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return fixed{}, false
		}
		return fixed{big: &d}, true
	}
	if neg {
		m = -m
	}
	return fixed{m: m, scale: scale}, true
}

// parseCustomer parses a customer id: a positive whole number, optionally
// written with a zero fraction as spreadsheets export it ("17850.0").
func parseCustomer(s string) (uint64, bool) {
	var n uint64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > ingest.MaxCustomer/10 {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	if i == 0 || n == 0 || n > ingest.MaxCustomer {
		return 0, false
	}
	if i < len(s) {
		if s[i] != '.' || i+1 == len(s) {
			return 0, false
		}
		for i++; i < len(s); i++ {
			if s[i] != '0' {
				return 0, false
			}
		}
	}
	return n, true
}

// sum is an exact running total of quantity * price; it stays in an int64
// while it fits and moves to decimal.Decimal when it does not.
type sum struct {
	m     int64
	scale int32
	big   *decimal.Decimal
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// mul returns a*b and whether it did not overflow.
func mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if c/b != a || (a == -1 && b == -1<<63) || (b == -1 && a == -1<<63) {
		return 0, false
	}
	return c, true
}

func add(a, b int64) (int64, bool) {
	c := a + b
	if (c > a) != (b > 0) {
		return 0, false
	}
	return c, true
}

func (s *sum) add(q int64, p fixed) {
	if s.big == nil && p.big == nil {
		m, sc := s.m, s.scale
		prod, ok := mul(q, p.m)
		if ok && p.scale > sc {
			m, ok = mul(m, pow10[p.scale-sc])
			sc = p.scale
		} else if ok && p.scale < sc {
			prod, ok = mul(prod, pow10[sc-p.scale])
		}
		if ok {
			m, ok = add(m, prod)
		}
		if ok {
			s.m, s.scale = m, sc
			return
		}
	}
	if s.big == nil {
		d := decimal.New(s.m, -s.scale)
		s.big = &d
	}
	*s.big = s.big.Add(decimal.NewFromInt(q).Mul(p.decimal()))
}

func (s *sum) decimal() decimal.Decimal {
	if s.big != nil {
		return *s.big
	}
	return decimal.New(s.m, -s.scale)
}

// sign returns -1, 0 or +1.
func (s *sum) sign() int {
	if s.big != nil {
		return s.big.Sign()
	}
	switch {
	case s.m < 0:
		return -1
	case s.m > 0:
		return 1
	}
	return 0
}

const (
	layoutPlain = "2006-01-02 15:04:05"
	layoutRFC   = time.RFC3339
)

// parseTime parses an RFC 3339 time or "2006-01-02 15:04:05" in UTC.
func parseTime(s string) (time.Time, bool) {
	if len(s) == len(layoutPlain) && s[10] == ' ' {
		t, err := time.ParseInLocation(layoutPlain, s, time.UTC)
		return t, err == nil
	}
	t, err := time.Parse(layoutRFC, s)
	return t, err == nil
}
