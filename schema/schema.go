// Package schema holds the ClickHouse DDL of the points ledger as versioned,
// embedded migrations (migrations/NNNN_name.sql) and applies them.
//
// A migration file is a list of statements separated by ";" at the end of a
// line; each is sent in its own Exec (the native protocol takes one statement
// per query). "{db}" in a statement is replaced by the quoted database name.
// Every statement is safe to run again (CREATE ... IF NOT EXISTS, backfills
// into ReplacingMergeTree tables, ALTER ... MODIFY COLUMN to the type the
// column already has), so a migration interrupted half way is
// simply run again from the start. Applied versions are recorded in the
// database's schema_migrations table once all their statements succeeded.
//
// The SQL runs on ClickHouse 18.16 (tests, CI) and on current releases
// (production): no LowCardinality, CODEC, TTL, skipping indices or
// ALTER ... IF NOT EXISTS. The package has no business logic.
package schema

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var files embed.FS

// Conn is the part of a clickhouse-go connection that migrations use;
// driver.Conn satisfies it.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) error
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// Migration is one versioned schema change.
type Migration struct {
	Version    int
	Name       string   // file name, e.g. "0001_ledger.sql"
	Statements []string // with "{db}" still in place
}

var (
	fileName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
	dbName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "migrations")
	if err != nil {
		return nil, fmt.Errorf("schema: read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("schema: migration file %q: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := files.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("schema: read %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), Statements: Split(string(body))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("schema: migration %s: versions must run 1, 2, 3... without gaps", m.Name)
		}
	}
	return ms, nil
}

// Split cuts a migration file into statements at ";" followed by a newline,
// dropping "--" comment lines and empty statements.
func Split(sql string) []string {
	var out []string
	for _, chunk := range strings.Split(sql+"\n", ";\n") {
		var lines []string
		for _, l := range strings.Split(chunk, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		if s := strings.TrimSpace(strings.Join(lines, "\n")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Migrate creates database if needed and applies every embedded migration it
// has not recorded yet, in order. It returns the versions it applied: none
// when the database is up to date. Running it concurrently from two processes
// is safe (every statement is idempotent) but wasteful.
func Migrate(ctx context.Context, conn Conn, database string) (applied []int, err error) {
	return migrate(ctx, conn, database, math.MaxInt)
}

// migrate applies the migrations up to and including version target.
func migrate(ctx context.Context, conn Conn, database string, target int) ([]int, error) {
	if !dbName.MatchString(database) {
		return nil, fmt.Errorf("schema: database name %q: want letters, digits and _, not starting with a digit", database)
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	db := "`" + database + "`"
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		"CREATE TABLE IF NOT EXISTS " + db + `.schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY version`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("schema: prepare database %s: %w", database, err)
		}
	}
	done, err := Applied(ctx, conn, database)
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range ms {
		if m.Version > target || slices.Contains(done, m.Version) {
			continue
		}
		for i, s := range m.Statements {
			if err := conn.Exec(ctx, strings.ReplaceAll(s, "{db}", db)); err != nil {
				if addsExistingColumn(s, err) {
					// A migration interrupted before it was recorded: the
					// column is there already.
					continue
				}
				return applied, fmt.Errorf("schema: migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		// INSERT ... SELECT runs as a plain query; INSERT ... VALUES would hang on 18.16.
		if err := conn.Exec(ctx, "INSERT INTO "+db+".schema_migrations (version, name) SELECT toUInt32(?), ?",
			m.Version, m.Name); err != nil {
			return applied, fmt.Errorf("schema: record migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// addsExistingColumn reports whether statement s is an ADD COLUMN that
// failed because the column exists (ClickHouse 18.16 has no ADD COLUMN IF
// NOT EXISTS).
func addsExistingColumn(s string, err error) bool {
	return strings.Contains(s, " ADD COLUMN ") && strings.Contains(err.Error(), "already exists")
}

// Applied returns the migration versions recorded in database, ascending.
func Applied(ctx context.Context, conn Conn, database string) ([]int, error) {
	if !dbName.MatchString(database) {
		return nil, fmt.Errorf("schema: database name %q: want letters, digits and _, not starting with a digit", database)
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM `"+database+"`.schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("schema: read applied migrations: %w", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("schema: read applied migrations: %w", err)
		}
		vs = append(vs, int(v))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schema: read applied migrations: %w", err)
	}
	return vs, nil
}
