package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/api"
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
	a.Auth.HS256Key = authKey // empty when only the RSA key is configured
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

// checkSubject refuses a subject the role can't use (api.CheckSubject), in
// the terms of the command's flags.
func checkSubject(sub, role string) error {
	err := api.CheckSubject(sub, role)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, api.ErrUnknownRole):
		return fmt.Errorf("token: --role must be %s, %s or %s, got %q", api.RoleCustomer, api.RoleChannel, api.RoleStaff, role)
	case role == api.RoleCustomer:
		return fmt.Errorf("token: %w; for a person or system use --role staff or --role channel", err)
	default:
		return fmt.Errorf("token: %w", err)
	}
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
