package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/distribution"
	"gonum.org/v1/plot/vg"
)

func distributionCmd() *cobra.Command {
	var req distribution.Request
	var plotFile string
	var timeout time.Duration
	cmd := command("distribution", "Show a board's score distribution from a running service (counts per score range, p50/p90/p99/p99.9), and plot it",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if req.Buckets < 1 || req.Buckets > 100 {
				return fmt.Errorf("distribution: --buckets must be from 1 to 100, got %d", req.Buckets)
			}
			if req.BaseURL == "" {
				req.BaseURL = "http://" + dialAddr(e.cfg.HTTP.Addr)
			}
			if req.Token == "" {
				a, err := e.cfg.apiConfig()
				if err == nil {
					req.Token, err = api.MintToken(a.Auth, "loyalty-distribution", api.RoleStaff, 5*time.Minute)
				}
				if err != nil {
					return fmt.Errorf("distribution: no staff token: pass --token, or configure the HS256 key the service uses (%w)", err)
				}
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			d, err := distribution.Fetch(ctx, http.DefaultClient, req)
			if err != nil {
				return fmt.Errorf("distribution: %w", err)
			}
			if plotFile == "" {
				return distribution.WriteTable(cmd.OutOrStdout(), d)
			}
			// The plot first: a table piped into head must not cost the file.
			f, err := os.Create(plotFile)
			if err != nil {
				return fmt.Errorf("distribution: --plot: %w", err)
			}
			if err := distribution.Plot(f, d, 10*vg.Inch, 6*vg.Inch); err != nil {
				f.Close()
				return fmt.Errorf("distribution: --plot %s: %w", plotFile, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("distribution: --plot: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "plot written to %s\n", plotFile)
			return distribution.WriteTable(cmd.OutOrStdout(), d)
		})
	f := cmd.Flags()
	f.StringVar(&req.BaseURL, "url", "", "the service (default: http:// + http.addr)")
	f.StringVar(&req.Token, "token", "", "a staff bearer token (default: minted with the configured HS256 key, valid 5 minutes)")
	f.StringVar(&req.Board, "board", "all-time", "all-time, season or a kept season's name (2026-11)")
	f.IntVar(&req.Buckets, "buckets", 20, "log-spaced score ranges, 1 to 100")
	f.StringVar(&plotFile, "plot", "", "also draw it (log-scale counts) into this SVG file")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the service")
	cmd.Example = `  loyalty distribution                                   # the table, from the service on http.addr
  loyalty distribution --plot distribution.svg --buckets 40
  loyalty distribution --url https://loyalty.internal --token "$STAFF_JWT" --board season`
	return cmd
}
