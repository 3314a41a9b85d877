package api

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckSubject: a customer token names a canonical customer id, a
// channel or staff token a name; an unknown role is ErrUnknownRole.
func TestCheckSubject(t *testing.T) {
	for _, c := range []struct {
		sub, role string
		want      string // "" ok, else a part of the error
	}{
		{"17850", RoleCustomer, ""},
		{"9007199254740991", RoleCustomer, ""},
		{"9007199254740992", RoleCustomer, "role customer needs the customer id as the subject (a decimal integer from 1 to 9007199254740991)"},
		{"017850", RoleCustomer, "got \"017850\""},
		{"0", RoleCustomer, "role customer needs the customer id"},
		{"alice", RoleCustomer, "role customer needs the customer id"},
		{"alice", RoleStaff, ""},
		{"pos-42", RoleChannel, ""},
		{"ops@xyz.example", RoleStaff, ""},
		{"two words", RoleStaff, "role staff needs a name as the subject (1-128 letters, digits or . _ : @ - starting with a letter or digit), got \"two words\""},
		{"-lead", RoleChannel, "role channel needs a name"},
		{strings.Repeat("a", 129), RoleStaff, "role staff needs a name"},
		{"alice", "admin", "unknown role \"admin\""},
	} {
		err := CheckSubject(c.sub, c.role)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckSubject(%q, %q) = %v, want nil", c.sub, c.role, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckSubject(%q, %q) = %v, want %q", c.sub, c.role, err, c.want)
		}
	}
	if err := CheckSubject("alice", "admin"); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("an unknown role: %v, want ErrUnknownRole", err)
	}
}
