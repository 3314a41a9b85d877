// Package chledger is the ClickHouse adapter of the points ledger: it appends
// ledger entries in batches and reads them back (by change id, by customer,
// every customer's balance). ClickHouse is the durable source of truth the
// Redis index is rebuilt from.
//
// Entries are written at least once: the shipper may send a batch again after
// a crash, so the tables may hold copies of an entry (same seq). Every read
// here deduplicates by seq; see the schema package for the tables.
//
// ClickHouse and driver errors never leave the package: they are wrapped with
// context as text, and a server that can't be reached is reported as
// ErrUnavailable.
package chledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/xyz/loyalty/schema"
)

// Config configures the connection. Build it with DefaultConfig.
type Config struct {
	Addr     string // native protocol host:port (9000 by default), not HTTP
	Database string // created and migrated by Open unless SkipMigrate
	Username string
	Password string

	DialTimeout  time.Duration // to open one connection
	QueryTimeout time.Duration // per call, also sent as max_execution_time so the server stops too
	ScanTimeout  time.Duration // for Balances, which reads the whole ledger

	MaxOpenConns    int           // pool bound
	MaxIdleConns    int           //
	ConnMaxLifetime time.Duration //

	SkipMigrate bool // don't create or migrate the schema (read-only users)

	// Logger, if set, receives clickhouse-go's own log lines (nil: none).
	Logger *slog.Logger
}

// DefaultConfig returns the settings for a local server and the "loyalty"
// database.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:9000",
		Database:        "loyalty",
		Username:        "default",
		DialTimeout:     5 * time.Second,
		QueryTimeout:    30 * time.Second,
		ScanTimeout:     time.Hour,
		MaxOpenConns:    8,
		MaxIdleConns:    4,
		ConnMaxLifetime: time.Hour,
	}
}

var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate reports the first problem with cfg.
func (cfg Config) Validate() error {
	switch {
	case cfg.Addr == "":
		return errors.New("chledger: Addr is empty")
	case !dbName.MatchString(cfg.Database):
		return fmt.Errorf("chledger: Database %q: want letters, digits and _, not starting with a digit", cfg.Database)
	case cfg.DialTimeout <= 0, cfg.QueryTimeout < time.Second, cfg.ScanTimeout < time.Second:
		return errors.New("chledger: DialTimeout must be positive, QueryTimeout and ScanTimeout at least 1s")
	case cfg.MaxOpenConns <= 0 || cfg.MaxIdleConns <= 0 || cfg.MaxIdleConns > cfg.MaxOpenConns:
		return errors.New("chledger: want 0 < MaxIdleConns <= MaxOpenConns")
	}
	return nil
}

// Ledger is the ClickHouse ledger. It is safe for concurrent use; its
// connection pool is bounded by Config.MaxOpenConns.
type Ledger struct {
	conn driver.Conn
	cfg  Config
	db   string // quoted database name, for queries
	// migrated are the migrations Open applied.
	migrated []int
}

// Open connects to ClickHouse, checks the server answers and, unless
// cfg.SkipMigrate, applies the schema migrations.
func Open(ctx context.Context, cfg Config) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.Addr},
		// No Database: it may not exist yet; every query names it.
		Auth:        clickhouse.Auth{Username: cfg.Username, Password: cfg.Password},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		// Context deadlines stop the client only; 18.16 keeps running the
		// query unless max_execution_time is set (int values only).
		Settings:        clickhouse.Settings{"max_execution_time": int(cfg.QueryTimeout / time.Second)},
		DialTimeout:     cfg.DialTimeout,
		ReadTimeout:     cfg.ScanTimeout,
		MaxOpenConns:    cfg.MaxOpenConns,
		MaxIdleConns:    cfg.MaxIdleConns,
		ConnMaxLifetime: cfg.ConnMaxLifetime,
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("chledger: open %s: %v", cfg.Addr, err)
	}
	l := &Ledger{conn: conn, cfg: cfg, db: "`" + cfg.Database + "`"}
	if err := l.Ping(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	if !cfg.SkipMigrate {
		qctx, cancel := context.WithTimeout(ctx, cfg.ScanTimeout) // backfills may be long
		defer cancel()
		applied, err := schema.Migrate(qctx, conn, cfg.Database)
		if err != nil {
			conn.Close()
			return nil, l.wrap(qctx, "migrate", err)
		}
		l.migrated = applied
	}
	return l, nil
}

// Migrated returns the versions of the schema migrations Open applied, in
// order (none when the schema was current).
func (l *Ledger) Migrated() []int { return l.migrated }

// Close closes the connection pool.
func (l *Ledger) Close() error {
	if err := l.conn.Close(); err != nil {
		return fmt.Errorf("chledger: close: %v", err)
	}
	return nil
}

// Ping checks that the server answers.
func (l *Ledger) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.QueryTimeout)
	defer cancel()
	if err := l.conn.Ping(ctx); err != nil {
		return l.wrap(ctx, "ping "+l.cfg.Addr, err)
	}
	return nil
}
