package main

import (
	"context"
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

func tokenCmd() *cobra.Command {
	var role string
	var ttl time.Duration
	cmd := command("token SUBJECT", "Mint a development bearer token (HS256, with the configured key)",
		func(ctx context.Context, e env, cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("token: give one subject: the customer id for role customer, a channel or staff name otherwise")
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
	cmd.Flags().StringVar(&role, "role", "customer", "customer, channel or staff")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "validity")
	return cmd
}
