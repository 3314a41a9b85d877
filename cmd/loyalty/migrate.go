package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/schema"
)

func migrateCmd() *cobra.Command {
	return command("migrate", "Create or upgrade the ClickHouse schema (idempotent; serve and ingest also do it)",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if e.cfg.ClickHouse.Addr == "" {
				return errors.New("migrate: no ClickHouse configured (set LOYALTY_CLICKHOUSE_ADDR); the embedded store needs no schema")
			}
			chc := e.cfg.chConfig()
			chc.Logger = e.log.With("component", "clickhouse-go")
			l, err := chledger.Open(ctx, chc)
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			defer l.Close()
			all, err := schema.Migrations()
			if err != nil {
				return err
			}
			names := map[int]string{}
			for _, m := range all {
				names[m.Version] = m.Name
			}
			out := cmd.OutOrStdout()
			for _, v := range l.Migrated() {
				fmt.Fprintf(out, "applied %s\n", names[v])
			}
			fmt.Fprintf(out, "schema of database %s is current (%d migrations applied now, %d in all)\n", e.cfg.ClickHouse.Database, len(l.Migrated()), len(all))
			return nil
		})
}
