package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// latencyBuckets are the buckets of the stores' command latency, in
// seconds: 50 us to 5 s.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// storeMetrics are the Redis and ClickHouse command metrics of a process.
// Safe for concurrent use.
type storeMetrics struct {
	redisDur  *prometheus.HistogramVec
	redisErrs *prometheus.CounterVec
	chDur     *prometheus.HistogramVec
	chErrs    *prometheus.CounterVec
}

func newStoreMetrics() *storeMetrics {
	return &storeMetrics{
		redisDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loyalty_redis_command_duration_seconds",
			Help:    "Redis command latency by client (primary, replica) and command (pipeline for a pipeline; blocking XREADs wait up to a second by design).",
			Buckets: latencyBuckets,
		}, []string{"client", "command"}),
		redisErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_redis_command_errors_total",
			Help: "Redis commands that failed (a timeout, a refused connection, an error reply; not a missing key), by client and command.",
		}, []string{"client", "command"}),
		chDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loyalty_clickhouse_operation_duration_seconds",
			Help:    "ClickHouse ledger operation latency by operation (append, lookup, ping).",
			Buckets: latencyBuckets,
		}, []string{"operation"}),
		chErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyalty_clickhouse_operation_errors_total",
			Help: "ClickHouse ledger operations that failed (unreachable, timed out or refused), by operation.",
		}, []string{"operation"}),
	}
}

func (m *storeMetrics) collectors() []prometheus.Collector {
	if m == nil {
		return nil
	}
	return []prometheus.Collector{m.redisDur, m.redisErrs, m.chDur, m.chErrs}
}

// clickhouse records one ledger operation.
func (m *storeMetrics) clickhouse(op string, start time.Time, err error) {
	if m == nil {
		return
	}
	m.chDur.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		m.chErrs.WithLabelValues(op).Inc()
	}
}

// redisHook returns a go-redis hook recording every command of client.
func (m *storeMetrics) redisHook(client string) redis.Hook { return redisHook{m, client} }

type redisHook struct {
	m      *storeMetrics
	client string
}

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		c, err := next(ctx, network, addr)
		h.observe("dial", start, err)
		return c, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(commandLabel(cmd.Name()), start, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", start, err)
		return err
	}
}

func (h redisHook) observe(command string, start time.Time, err error) {
	h.m.redisDur.WithLabelValues(h.client, command).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.Canceled) {
		h.m.redisErrs.WithLabelValues(h.client, command).Inc()
	}
}

// commandLabel bounds the command label: the commands this program sends
// are a short list; anything else is "other".
func commandLabel(name string) string {
	name = strings.ToLower(name)
	switch name {
	case "get", "set", "mget", "del", "unlink", "exists", "expire", "incr", "incrby",
		"hget", "hset", "hmget", "hdel", "hlen", "hgetall", "hscan", "scan",
		"evalsha", "eval", "evalsha_ro", "eval_ro", "script", "fcall", "fcall_ro",
		"xadd", "xread", "xrange", "xrevrange", "xlen", "xtrim", "wait", "ping", "info", "config",
		"bitfield", "bitfield_ro", "zadd", "zrange", "zrangebyscore", "zrem", "zcard", "hello", "client", "auth", "select", "time":
		return name
	}
	return "other"
}

// buildInfo is the constant 1 labelled with the build.
func buildInfoMetric() prometheus.Collector {
	b := readBuildInfo()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "loyalty_build_info",
		Help:        "Always 1, labelled with the version, VCS revision and Go version of the binary.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion},
	})
	g.Set(1)
	return g
}
