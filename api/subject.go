package api

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/xyz/loyalty/ingest"
)

// ErrUnknownRole means a role is none of RoleCustomer, RoleChannel and
// RoleStaff.
var ErrUnknownRole = errors.New("unknown role")

// nameSubject is the subject of a channel or staff token: a name.
var nameSubject = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// nameRule says nameSubject in words.
const nameRule = "1-128 letters, digits or . _ : @ - starting with a letter or digit"

// CheckSubject refuses a token subject the role can't use (check it before
// MintToken): a customer token names a customer id, the canonical decimal
// the routes' {userId} takes (the API lets it read that customer's
// dashboard only); a channel or staff token names a channel or a person.
// An unknown role is ErrUnknownRole.
func CheckSubject(subject, role string) error {
	switch role {
	case RoleCustomer:
		if _, ok := parseCustomerID(subject); !ok {
			return fmt.Errorf("role customer needs the customer id as the subject (a decimal integer from 1 to %d), got %q", ingest.MaxCustomer, subject)
		}
	case RoleChannel, RoleStaff:
		if !nameSubject.MatchString(subject) {
			return fmt.Errorf("role %s needs a name as the subject (%s), got %q", role, nameRule, subject)
		}
	default:
		return fmt.Errorf("%w %q: want %s, %s or %s", ErrUnknownRole, role, RoleCustomer, RoleChannel, RoleStaff)
	}
	return nil
}
