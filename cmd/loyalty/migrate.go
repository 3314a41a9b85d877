package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/chledger"
)

func migrateCmd() *cobra.Command {
	return command("migrate", "Create or upgrade the ClickHouse schema (idempotent; serve and ingest also do it)",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if e.cfg.ClickHouse.Addr == "" {
				return errors.New("migrate: no ClickHouse configured (set LOYALTY_CLICKHOUSE_ADDR); the embedded store needs no schema")
			}
			l, err := chledger.Open(ctx, e.cfg.chConfig())
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			defer l.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "schema of database %s is current\n", e.cfg.ClickHouse.Database)
			return nil
		})
}
