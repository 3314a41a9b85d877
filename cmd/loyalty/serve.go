package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ranker"
	"github.com/xyz/loyalty/web"
)

func serveCmd() *cobra.Command {
	cmd := command("serve", "Run the HTTP API (embedded store when no Redis is configured)",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			e.cfg.logEffective(e.log, slog.LevelInfo)
			gin.SetMode(gin.ReleaseMode)
			debug.SetGCPercent(e.cfg.Ranking.GCPercent)
			acfg, err := e.cfg.apiConfig()
			if err != nil {
				return err
			}
			acfg.AdminOnlyMetrics = e.cfg.HTTP.AdminAddr != ""
			s, err := openStores(ctx, e.cfg, e.log, false)
			if err != nil {
				return err
			}
			defer s.Close()
			page, err := web.Handler()
			if err != nil {
				return err
			}
			deps := api.Deps{Writer: s.writer, Page: page, Metrics: append(s.metrics.collectors(), buildInfoMetric()), Seasons: e.cfg.seasons()}
			var wg sync.WaitGroup
			bg, stopBG := context.WithCancel(context.Background())
			defer func() { stopBG(); wg.Wait() }()
			if s.emb != nil {
				e.log.Warn("running on the embedded store (no Redis configured): data in "+e.cfg.Data.Dir+"; unless configured, the token and proxy-name keys are the ones generated in it", "keys", filepath.Join(e.cfg.Data.Dir, embedded.KeyFile))
				deps.Ranker = ranker.Local{B: s.emb.Board(), Seasons: s.emb.SeasonBoard}
				deps.History = s.emb
				// The web page's development sign-in: only here, never with Redis.
				// It mints staff tokens for anyone who asks: only on a
				// loopback address, never where the network reaches it.
				acfg.DevSignIn = len(acfg.Auth.HS256Key) > 0 && loopback(e.cfg.HTTP.Addr)
				if !acfg.DevSignIn {
					e.log.Warn("the web page's development sign-in (POST /dev/token) is off: http.addr is not a loopback address; sign in with `loyalty token`", "http.addr", e.cfg.HTTP.Addr)
				}
				deps.IndexSize = func() float64 { return float64(s.emb.Board().Len()) }
			} else {
				rcfg := ranker.DefaultReplicaConfig()
				rcfg.HeadTimeout, rcfg.MaxStaleness = e.cfg.Ranking.HeadTimeout, e.cfg.Ranking.MaxStaleness
				// While the board loads, dashboards come from the primary's
				// histogram (the follower's replica connection is busy loading).
				rcfg.Partial = s.index
				rcfg.Seasons = e.cfg.seasons()
				rep := ranker.NewReplica(s.reads, s.index, rcfg, e.log)
				guard := redisindex.NewGuard(s.index, 30*time.Second, e.log)
				wg.Add(3)
				go func() { defer wg.Done(); rep.Run(bg) }()
				go func() { defer wg.Done(); s.shipper.Run(bg) }()
				go func() { defer wg.Done(); guard.Run(bg) }()
				deps.Settings = guard.Err
				deps.History = s.ledger
				deps.Ranker = rep
				deps.IndexSize = func() float64 {
					if b := rep.Board(); b != nil {
						return float64(b.Len())
					}
					return 0
				}
				deps.LedgerBacklog = func() float64 { return float64(s.shipper.Backlog()) }
				deps.LedgerDeadLetters = func() float64 { return float64(s.shipper.DeadLetterCount()) }
				deps.LedgerDeadLettered = func() float64 { return float64(s.shipper.DeadLettered()) }
				deps.Checks = []api.Check{{Name: "redis", Check: s.index.Ping}, {Name: "clickhouse", Check: s.ledger.Ping}}
				deps.Metrics = append(deps.Metrics, ranker.LagMetrics(rep.Board, s.index)...)
				deps.Metrics = append(deps.Metrics, s.shipper.Collectors()...)
			}
			a, err := api.New(acfg, deps, e.log)
			if err != nil {
				return err
			}
			pub, err := listen("http", e.cfg.HTTP.Addr, a.Handler())
			if err != nil {
				return err
			}
			ls := []*listener{pub}
			if e.cfg.HTTP.AdminAddr != "" {
				adm, err := listen("admin", e.cfg.HTTP.AdminAddr, a.AdminHandler())
				if err != nil {
					pub.ln.Close()
					return err
				}
				ls = append(ls, adm)
			}
			return serveUntil(ctx, e.log, e.cfg.HTTP.ShutdownTimeout, ls, func(dctx context.Context) {
				// The background work stops; the shipper ships what it can
				// in what is left of the drain.
				stopBG()
				wg.Wait()
				if s.shipper != nil {
					drainLedger(dctx, e.log, s.shipper)
				}
			})
		})
	cmd.Flags().String("http-addr", "127.0.0.1:8080", "listen address (LOYALTY_HTTP_ADDR)")
	return cmd
}
