package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/points"
)

// stores is everything a command may need, wired for the configured mode:
// embedded (no servers) or Redis + ClickHouse.
type stores struct {
	writer  *ingest.Writer
	emb     *embedded.Store   // embedded mode
	index   *redisindex.Index // Redis mode: the primary
	reads   *redisindex.Index // Redis mode: for replica reads (a Redis replica or the primary)
	ledger  *chledger.Lazy    // Redis mode: the ClickHouse ledger, connected on first use
	shipper *ingest.Shipper   // Redis mode
	metrics *storeMetrics     // Redis mode: command latency and errors (nil otherwise)
	closers []func() error
}

func (s *stores) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

func (c *Config) rule() (*points.Rule, error) {
	return points.New(points.Config{EURToGBP: decimal.RequireFromString(c.Points.EURToGBP)})
}

func (c *Config) histogramConfig() redisindex.Config {
	h := redisindex.DefaultConfig()
	h.Prefix = c.Redis.Prefix
	h.DedupeDays = c.Points.DedupeDays
	h.DedupeParts = c.Redis.DedupeParts
	h.MinReplicasAck = c.Redis.MinReplicasAck
	h.WaitTimeout = c.Redis.WaitTimeout
	h.AssumeNoEviction = c.Redis.AssumeNoEviction
	sn := c.seasons()
	h.Seasons, h.SeasonsKept = sn.Calendar, sn.Kept
	return h
}

func (c *Config) chConfig() chledger.Config {
	ch := chledger.DefaultConfig()
	ch.Addr, ch.Database, ch.Username, ch.Password = c.ClickHouse.Addr, c.ClickHouse.Database, c.ClickHouse.Username, c.ClickHouse.Password
	return ch
}

// redisClients returns the client of the primary (every write, the seq
// check, the shipper) and, when replicas are to be followed, the client the
// ranker reads the index with (nil: it reads the primary).
//
// With Sentinel, the primary's client is go-redis's failover client: it asks
// the sentinels for the primary, and after a failover drops its connections
// to the old one and finds the new one by itself. The ranker follows one
// replica that the sentinels list (any healthy one, or the primary when none
// is up): one connection, so a SCAN cursor and the change-log reads stay on
// one server; after losing it, the next connection may go to another
// replica, which the ranker's seq checks tolerate.
func (c *Config) redisClients() (primary, reads *redis.Client) {
	const readTimeout, writeTimeout = 3 * time.Second, 3 * time.Second
	r := c.Redis
	if c.sentinelMode() {
		primary = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: r.MasterName, SentinelAddrs: r.SentinelAddrs,
			SentinelPassword: r.SentinelPassword, Password: r.Password, PoolSize: r.PoolSize, PipelinePoolSize: r.PoolSize,
			ReadTimeout: readTimeout, WriteTimeout: writeTimeout})
		if len(r.ReadAddrs) == 0 {
			reads = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: r.MasterName, SentinelAddrs: r.SentinelAddrs,
				SentinelPassword: r.SentinelPassword, Password: r.Password, ReplicaOnly: true, PoolSize: 1, PipelinePoolSize: -1,
				ReadTimeout: readTimeout, WriteTimeout: writeTimeout})
		}
	} else {
		primary = redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, PoolSize: r.PoolSize,
			PipelinePoolSize: r.PoolSize, ReadTimeout: readTimeout, WriteTimeout: writeTimeout})
	}
	if len(r.ReadAddrs) > 0 {
		reads = redis.NewClient(&redis.Options{Addr: r.ReadAddrs[0], Password: r.Password, PoolSize: r.PoolSize, ReadTimeout: readTimeout})
	}
	return primary, reads
}

// openStores opens the configured stores. With needLedger false a
// ClickHouse outage is tolerated (serve keeps answering dashboards and taking
// orders; the shipper waits for it).
func openStores(ctx context.Context, c *Config, log *slog.Logger, needLedger bool) (*stores, error) {
	rule, err := c.rule()
	if err != nil {
		return nil, err
	}
	s := &stores{}
	if c.embeddedMode() {
		if c.ClickHouse.Addr != "" {
			return nil, fmt.Errorf("%s is set but no Redis is: the embedded store keeps its own ledger and would ignore ClickHouse; set %s (or %s with %s) too, or unset clickhouse.addr to run on the embedded store",
				name("clickhouse.addr"), name("redis.addr"), name("redis.sentinel_addrs"), name("redis.master_name"))
		}
		s.emb, err = embedded.Open(c.Data.Dir)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s.emb.Close)
		s.writer = ingest.NewWriter(s.emb, nil, rule).WithRecall(s.emb).WithSeasons(c.seasons().Calendar)
		return s, nil
	}
	if c.ClickHouse.Addr == "" {
		return nil, fmt.Errorf("redis is configured but clickhouse.addr is not: with Redis, the ledger lives in ClickHouse (set %s)", name("clickhouse.addr"))
	}
	rdb, ro := c.redisClients()
	s.metrics = newStoreMetrics()
	rdb.AddHook(s.metrics.redisHook("primary"))
	if ro != nil {
		ro.AddHook(s.metrics.redisHook("replica"))
	}
	s.closers = append(s.closers, rdb.Close)
	s.index = redisindex.New(rdb, c.histogramConfig())
	s.reads = s.index
	if ro != nil {
		s.closers = append(s.closers, ro.Close)
		s.reads = redisindex.New(ro, c.histogramConfig())
	}
	if warn, err := s.index.Check(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("redis %s: %w", c.redisName(), err)
	} else if warn != nil {
		log.Warn("redis settings not checked", "err", warn)
	}
	if f, _, err := s.index.Format(ctx); err != nil && !errors.Is(err, redisindex.ErrUnavailable) {
		s.Close()
		return nil, fmt.Errorf("redis %s: %w", c.redisName(), err)
	} else if err == nil && f == redisindex.FormatText {
		log.Info("the index writes the text formats (safe beside earlier versions); once every process runs this version, `loyalty index-format compact` takes ~40% off the memory of remembered ids")
	}
	chc := c.chConfig()
	chc.Logger = log.With("component", "clickhouse-go")
	s.ledger = chledger.NewLazy(chc, s.metrics.clickhouse)
	s.closers = append(s.closers, s.ledger.Close)
	if _, err := s.ledger.Get(ctx); err != nil {
		if needLedger || !errors.Is(err, chledger.ErrUnavailable) {
			s.Close()
			return nil, fmt.Errorf("clickhouse %s: %w", c.ClickHouse.Addr, err)
		}
		log.Warn("clickhouse unreachable: dashboards are served and orders accepted (the ledger catches up later); orders older than the dedupe window wait for it", "err", err)
	}
	// Concurrent requests share script calls: one EVALSHA for all the
	// orders that arrive while the previous call runs.
	// Old change ids are looked up in the ledger and among the dead letters
	// (the shipped mark passes both).
	s.writer = ingest.NewWriter(ingest.NewCoalescer(s.index, ingest.CallChanges, ingest.CallsInFlight, ingest.CallTimeout), ingest.WithDeadLetters(s.ledger, s.index), rule).WithRecall(s.index).WithSeasons(c.seasons().Calendar)
	s.shipper = ingest.NewShipper(s.index, s.index, s.ledger, ingest.ShipBatch, log)
	return s, nil
}
