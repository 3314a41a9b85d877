package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a specific exit code (e.g. reconcile found differences).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// env is what every command gets: its config and logger.
type env struct {
	cfg *Config
	log *slog.Logger
}

// command builds a cobra command whose RunE gets the loaded config.
func command(use, short string, fn func(ctx context.Context, e env, cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, SilenceUsage: true, SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load(cmd.Flags())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return fn(ctx, env{cfg: cfg, log: newLogger(cfg)}, cmd, args)
		},
	}
}

func run(args []string) int {
	root := &cobra.Command{
		Use:   "loyalty",
		Short: "Loyalty points and leaderboards for XYZ e-commerce",
		Long: `Loyalty is the loyalty-points backend: orders earn points exactly once, and every
customer sees an exact leaderboard dashboard. With no Redis configured it runs
on an embedded store in ./loyalty-data; set LOYALTY_REDIS_ADDR and
LOYALTY_CLICKHOUSE_ADDR for production.`,
		SilenceUsage: true, SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "config file (yaml, json or toml); also LOYALTY_CONFIG")
	root.PersistentFlags().String("redis-addr", "", "Redis primary host:port (LOYALTY_REDIS_ADDR); empty: embedded store")
	root.PersistentFlags().String("clickhouse-addr", "", "ClickHouse native host:port (LOYALTY_CLICKHOUSE_ADDR)")
	root.PersistentFlags().String("data-dir", "loyalty-data", "embedded store directory (LOYALTY_DATA_DIR)")
	root.AddCommand(serveCmd(), migrateCmd(), rebuildCmd(), reconcileCmd(), balancesCmd(), tokenCmd(), ingestCmd(), benchCmd(), deadLettersCmd())
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "loyalty:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}
