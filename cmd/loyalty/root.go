package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// command builds a cobra command whose RunE gets the loaded config. The
// drivers' own logs go through the command's logger; the effective config
// is logged at debug level (serve logs it at info).
func command(use, short string, fn func(ctx context.Context, e env, cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, SilenceUsage: true, SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load(cmd.Flags())
			if err != nil {
				return fmt.Errorf("config:\n%w", err)
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			routeLibraryLogs(log)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return fn(ctx, env{cfg: cfg, log: log}, cmd, args)
		},
	}
}

// examples are the Examples sections of the commands' --help, by command
// path below the root.
var examples = map[string]string{
	"": `  loyalty serve                                  # the API on 127.0.0.1:8080, embedded store in ./loyalty-data
  loyalty token 17850 --role customer            # a bearer token for customer 17850
  loyalty ingest testdata/online-retail/*.csv.gz # the real UK retail exports
  loyalty version`,
	"serve": `  loyalty serve
  loyalty serve --http-addr :8080 --data-dir /var/lib/loyalty
  LOYALTY_REDIS_ADDR=127.0.0.1:6379 LOYALTY_CLICKHOUSE_ADDR=127.0.0.1:9000 \
    LOYALTY_AUTH_HS256_KEY=$(openssl rand -hex 32) LOYALTY_PROXY_KEY=$(openssl rand -hex 32) loyalty serve
  LOYALTY_HTTP_ADMIN_ADDR=127.0.0.1:9090 LOYALTY_LOG_FORMAT=json loyalty serve   # /metrics and pprof on :9090 only`,
	"ingest": `  loyalty ingest --format lines --rejects rejects.csv testdata/online-retail/*.csv.gz
  loyalty ingest --store-id 42 orders-2026-11-27.csv
  zcat day.csv.gz | loyalty ingest --format lines --store-id 7 -
  loyalty ingest --corrections fixed-orders.csv`,
	"migrate":   `  LOYALTY_CLICKHOUSE_ADDR=127.0.0.1:9000 loyalty migrate`,
	"rebuild":   `  LOYALTY_REDIS_ADDR=127.0.0.1:6379 LOYALTY_CLICKHOUSE_ADDR=127.0.0.1:9000 loyalty rebuild`,
	"reconcile": `  loyalty reconcile; echo "exit $?"      # 0 clean, 3 balances differ, 4 dead letters pending`,
	"balances": `  loyalty balances | head
  loyalty balances --data-dir /var/lib/loyalty > balances.csv   # also while serve runs on that directory`,
	"token": `  loyalty token 17850 --role customer
  loyalty token pos-42 --role channel --ttl 8h
  curl -H "Authorization: Bearer $(loyalty token alice --role staff)" http://127.0.0.1:8080/loyalty/17850`,
	"bench": `  loyalty bench --redis-addr 127.0.0.1:6379 --customers 1000000`,
	"deadletters": `  loyalty deadletters
  loyalty deadletters --dropped`,
	"deadletters retry": `  loyalty deadletters retry
  loyalty deadletters retry 1042 1043`,
	"deadletters drop": `  loyalty deadletters drop 1042 --reason 'amount keyed in wrong, refunded by hand'`,
	"version": `  loyalty version
  loyalty --version`,
	"healthcheck": `  loyalty healthcheck                              # GET http://127.0.0.1:8080/livez
  loyalty healthcheck --url http://127.0.0.1:8080/readyz
  # docker-compose: healthcheck: {test: ["CMD", "/loyalty", "healthcheck"]}`,
}

// rootCmd builds the command tree.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "loyalty",
		Short: "Loyalty points and leaderboards for XYZ e-commerce",
		Long: `Loyalty is the loyalty-points backend: orders earn points exactly once, and every
customer sees an exact leaderboard dashboard. With no Redis configured it runs
on an embedded store in ./loyalty-data; set LOYALTY_REDIS_ADDR and
LOYALTY_CLICKHOUSE_ADDR for production.`,
		Version:      versionString(),
		SilenceUsage: true, SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().String("config", "", "config file (yaml, json or toml); also LOYALTY_CONFIG")
	root.PersistentFlags().String("redis-addr", "", "Redis primary host:port (LOYALTY_REDIS_ADDR); empty: embedded store")
	root.PersistentFlags().String("clickhouse-addr", "", "ClickHouse native host:port (LOYALTY_CLICKHOUSE_ADDR)")
	root.PersistentFlags().String("data-dir", "loyalty-data", "embedded store directory (LOYALTY_DATA_DIR)")
	root.AddCommand(serveCmd(), migrateCmd(), rebuildCmd(), reconcileCmd(), balancesCmd(), tokenCmd(), ingestCmd(), benchCmd(),
		deadLettersCmd(), versionCmd(), healthcheckCmd(), distributionCmd(), indexFormatCmd())
	var walk func(c *cobra.Command, path string)
	walk = func(c *cobra.Command, path string) {
		if ex, ok := examples[path]; ok && c.Example == "" {
			c.Example = ex
		}
		for _, sub := range c.Commands() {
			p := sub.Name()
			if path != "" {
				p = path + " " + p
			}
			walk(sub, p)
		}
	}
	walk(root, "")
	return root
}

func run(args []string) int { return runWith(args, os.Stdout, os.Stderr) }

// runWith runs the command line args with the given output streams and
// returns the exit status.
func runWith(args []string, stdout, stderr io.Writer) int {
	root := rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "loyalty:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}
