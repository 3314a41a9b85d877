package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/loadtest"
)

func benchCmd() *cobra.Command {
	cfg := loadtest.DefaultConfig()
	var jsonFile string
	c := command("bench", "Benchmark the ranking index against a plain Redis sorted set, side by side",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if e.cfg.Redis.Addr == "" {
				return errors.New("bench needs --redis-addr (LOYALTY_REDIS_ADDR): a scratch Redis, the bench deletes the keys under --prefix")
			}
			gin.SetMode(gin.ReleaseMode) // the http phase serves the user's alternative through Gin
			rdb := redis.NewClient(loadtest.RedisOptions(e.cfg.Redis.Addr, e.cfg.Redis.Password, cfg.Concurrency))
			defer rdb.Close()
			r, err := loadtest.Run(ctx, rdb, cfg, e.log)
			if r == nil {
				return err
			}
			if werr := r.WriteTable(cmd.OutOrStdout()); werr != nil {
				return errors.Join(err, werr)
			}
			if jsonFile != "" {
				f, ferr := os.Create(jsonFile)
				if ferr != nil {
					return errors.Join(err, fmt.Errorf("write --json: %w", ferr))
				}
				ferr = r.WriteJSON(f)
				if cerr := f.Close(); ferr == nil {
					ferr = cerr
				}
				if ferr != nil {
					return errors.Join(err, fmt.Errorf("write --json %s: %w", jsonFile, ferr))
				}
			}
			return err
		})
	c.Long = `Bench seeds one Redis with the same customers twice, in the ranking index and
in one plain sorted set, then measures dashboards, writes and both together on
each, side by side, plus the HTTP dashboard of a running server with --http.
It checks on a sample that both give the same ranks and points and exits
non-zero if they don't. It deletes the keys under --prefix first (unless
--skip-seed): point it at a scratch Redis.`
	f := c.Flags()
	f.IntVar(&cfg.Customers, "customers", cfg.Customers, "customers to seed (ids 1..N)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of each phase")
	f.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "concurrent clients per phase")
	f.IntVar(&cfg.Top, "top", cfg.Top, "dashboard top N")
	f.IntVar(&cfg.Around, "around", cfg.Around, "dashboard neighbours K above and below")
	f.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the balances and the random customers")
	f.StringSliceVar(&cfg.Phases, "phases", cfg.Phases, "phases to run: check, dashboards, writes, mixed, http (check only before any writes)")
	f.BoolVar(&cfg.SkipSeed, "skip-seed", false, "reuse a Redis seeded by an earlier run with the same --customers, --seed and --prefix")
	f.StringVar(&cfg.Prefix, "prefix", cfg.Prefix, "key prefix: the index board {PREFIX}, the baseline PREFIX:zset")
	f.IntVar(&cfg.WriteRate, "write-rate", cfg.WriteRate, "target writes/s in the mixed phase")
	f.IntVar(&cfg.MixedBatch, "mixed-batch", cfg.MixedBatch, "changes per write call in the mixed phase")
	f.IntVar(&cfg.CheckSample, "check-sample", cfg.CheckSample, "customers whose dashboards are compared")
	f.Float64Var(&cfg.SeasonShare, "season-share", cfg.SeasonShare, "share of customers on a season board whose Redis memory is measured after seeding (0: skip)")
	f.StringVar(&cfg.HTTPURL, "http", "", "base URL of a running `loyalty serve` on the same Redis and prefix: the http phase measures its GET /loyalty/{id} and GET /readyz against the user's alternative (a Gin route of the bench over the sorted set)")
	f.StringVar(&cfg.HTTPBefore, "http-before", "", "base URL of a second server on the same board (say, the build before a change), measured in the same turns as --http (system before)")
	f.StringVar(&cfg.Token, "token", "", "staff bearer token for --http (and --http-before)")
	f.StringVar(&jsonFile, "json", "", "also write the report as JSON to this file")
	return c
}
