package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// newLogger returns the process's logger: text or JSON (log.format) on w at
// log.level. Durations are written in milliseconds, under their key with
// "_ms" added ("took_ms": 1.25), the same in both formats.
func newLogger(c *Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level)) // validated by load
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: durationsInMillis}
	if strings.EqualFold(c.Log.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationsInMillis rewrites a duration attribute as milliseconds.
func durationsInMillis(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_ms") {
		key += "_ms"
	}
	return slog.Float64(key, float64(a.Value.Duration())/float64(time.Millisecond))
}

// redisLogger sends go-redis's own log lines (reconnects, sentinel
// changes) through slog, as warnings of component "go-redis".
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// routeLibraryLogs sends the drivers' logs through log: go-redis has one
// process-wide logger, set here; clickhouse-go takes a logger per
// connection (chledger.Config.Logger).
func routeLibraryLogs(log *slog.Logger) {
	redis.SetLogger(redisLogger{log.With("component", "go-redis")})
}
