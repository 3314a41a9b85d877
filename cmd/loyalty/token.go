package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/ingest"
)

// apiConfig maps the config onto the API's.
func (c *Config) apiConfig() (api.Config, error) {
	a := api.DefaultConfig()
	a.DefaultTop, a.MaxTop = c.Ranking.DefaultTop, c.Ranking.MaxTop
	a.DefaultAround, a.MaxAround = c.Ranking.DefaultAround, c.Ranking.MaxAround
	authKey, proxyKey, err := c.keys()
	if err != nil {
		return a, err
	}
	if c.Auth.HS256Key != "" || c.Auth.RS256PublicKeyPEM == "" {
		a.Auth.HS256Key = authKey
	}
	if c.Auth.RS256PublicKeyPEM != "" {
		pem, err := os.ReadFile(c.Auth.RS256PublicKeyPEM)
		if err != nil {
			return a, fmt.Errorf("auth.rs256_public_key_file: %w", err)
		}
		a.Auth.RS256PublicKeyPEM = pem
	}
	a.Auth.Issuer, a.Auth.Audience = c.Auth.Issuer, c.Auth.Audience
	a.ProxyKey = proxyKey
	return a, nil
}

var (
	customerSubject = regexp.MustCompile(`^[1-9][0-9]{0,15}$`)
	nameSubject     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)
)

// checkSubject refuses a subject the role can't use: a customer token
// names a customer id (the API lets it read that customer's dashboard
// only), the others a channel or staff name.
func checkSubject(sub, role string) error {
	switch role {
	case api.RoleCustomer:
		n, err := strconv.ParseUint(sub, 10, 64)
		if !customerSubject.MatchString(sub) || err != nil || n > ingest.MaxCustomer {
			return fmt.Errorf("token: role customer needs the customer id as the subject (a decimal integer from 1 to %d), got %q; for a person or system use --role staff or --role channel", ingest.MaxCustomer, sub)
		}
	case api.RoleChannel, api.RoleStaff:
		if !nameSubject.MatchString(sub) {
			return fmt.Errorf("token: role %s needs a name as the subject (1-128 letters, digits or . _ : @ - starting with a letter or digit), got %q", role, sub)
		}
	default:
		return fmt.Errorf("token: --role must be %s, %s or %s, got %q", api.RoleCustomer, api.RoleChannel, api.RoleStaff, role)
	}
	return nil
}

func tokenCmd() *cobra.Command {
	var role string
	var ttl time.Duration
	cmd := command("token SUBJECT", "Mint a development bearer token (HS256, with the configured key)",
		func(ctx context.Context, e env, cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("token: give one subject: the customer id for role customer, a channel or staff name otherwise")
			}
			if err := checkSubject(args[0], role); err != nil {
				return err
			}
			a, err := e.cfg.apiConfig()
			if err != nil {
				return err
			}
			t, err := api.MintToken(a.Auth, args[0], role, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), t)
			return nil
		})
	cmd.Flags().StringVar(&role, "role", api.RoleCustomer, "customer, channel or staff")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "validity")
	return cmd
}
