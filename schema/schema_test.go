package schema

import (
	"context"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/xyz/loyalty/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func connect(t *testing.T) (context.Context, driver.Conn) {
	t.Helper()
	srv := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testenv.Context(t), conn
}

func tables(ctx context.Context, t *testing.T, conn driver.Conn, db string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 || ms[0].Name != "0001_ledger.sql" {
		t.Fatalf("migrations = %+v", ms)
	}
	for _, m := range ms {
		if len(m.Statements) == 0 {
			t.Errorf("%s has no statements", m.Name)
		}
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	got := Split("-- header\nCREATE TABLE a (x UInt8);\n\n-- note\nSELECT ';' ;\nSELECT 2;")
	want := []string{"CREATE TABLE a (x UInt8)", "SELECT ';'", "SELECT 2"}
	if !slices.Equal(got, want) {
		t.Fatalf("Split = %q, want %q", got, want)
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	ctx, conn := connect(t)
	applied, err := Migrate(ctx, conn, "mig_twice")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3, 4, 5}; !slices.Equal(applied, want) {
		t.Fatalf("first Migrate applied %v, want %v", applied, want)
	}
	want := []string{"ledger", "ledger_by_change", "ledger_by_change_mv", "ledger_by_customer", "ledger_by_customer_mv", "schema_migrations"}
	if got := tables(ctx, t, conn, "mig_twice"); !slices.Equal(got, want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}
	applied, err = Migrate(ctx, conn, "mig_twice")
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
	}
	if v, err := Applied(ctx, conn, "mig_twice"); err != nil || !slices.Equal(v, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("Applied = %v, %v", v, err)
	}
}

// TestMigrateFromOlderVersion starts from a database at version 1 holding
// ledger rows, then migrates to the latest: only the newer migrations run and
// their backfills copy the existing rows.
func TestMigrateFromOlderVersion(t *testing.T) {
	t.Parallel()
	ctx, conn := connect(t)
	const db = "mig_older"
	applied, err := migrate(ctx, conn, db, 1)
	if err != nil || !slices.Equal(applied, []int{1}) {
		t.Fatalf("migrate to 1 = %v, %v", applied, err)
	}
	if got := tables(ctx, t, conn, db); !slices.Equal(got, []string{"ledger", "schema_migrations"}) {
		t.Fatalf("tables at version 1 = %v", got)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO mig_older.ledger (seq, change_id, customer_id, delta, balance)")
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 2, 2} { // seq 2 sent twice, as after a retried batch
		if err := b.Append(seq, "o-"+string(rune('0'+seq)), uint64(7), int64(5), int64(5*seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}

	applied, err = migrate(ctx, conn, db, math.MaxInt)
	if err != nil || !slices.Equal(applied, []int{2, 3, 4, 5}) {
		t.Fatalf("Migrate from 1 = %v, %v; want [2 3 4 5]", applied, err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM mig_older.ledger_by_change FINAL").Scan(&n); err != nil || n != 2 {
		t.Fatalf("backfilled changes = %d, %v; want 2", n, err)
	}
	var bal int64
	if err := conn.QueryRow(ctx, "SELECT argMax(balance, seq) FROM mig_older.ledger_by_customer WHERE customer_id = 7").Scan(&bal); err != nil || bal != 10 {
		t.Fatalf("backfilled balance = %d, %v; want 10", bal, err)
	}
	if applied, err := Migrate(ctx, conn, db); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate again = %v, %v", applied, err)
	}
}

// TestStatementsRerun checks that every statement can run again on a
// migrated database (an ADD COLUMN of an existing column is skipped by the
// runner), so a migration interrupted after some of its statements
// (a crash before it was recorded) is safe to run again from the start.
func TestStatementsRerun(t *testing.T) {
	t.Parallel()
	ctx, conn := connect(t)
	if _, err := Migrate(ctx, conn, "mig_rerun"); err != nil {
		t.Fatal(err)
	}
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for i, s := range m.Statements {
			if err := conn.Exec(ctx, strings.ReplaceAll(s, "{db}", "`mig_rerun`")); err != nil && !addsExistingColumn(s, err) {
				t.Errorf("%s statement %d again: %v", m.Name, i+1, err)
			}
		}
	}
}

func TestMigrateRejectsBadName(t *testing.T) {
	t.Parallel()
	if _, err := Migrate(context.Background(), nil, "x; DROP"); err == nil {
		t.Fatal("want an error for a bad database name")
	}
}

// TestMigrateAmountPrecision starts from version 3 (amount Decimal(18, 3),
// amount_gbp Decimal(18, 9)) with stored rows, applies 0004 and checks that
// the old values read back unchanged, the columns have their new types, and
// amounts of 6 and 12 decimal places are stored exactly.
func TestMigrateAmountPrecision(t *testing.T) {
	t.Parallel()
	ctx, conn := connect(t)
	const db = "mig_amounts"
	if applied, err := migrate(ctx, conn, db, 3); err != nil || !slices.Equal(applied, []int{1, 2, 3}) {
		t.Fatalf("migrate to 3 = %v, %v", applied, err)
	}
	insert := func(rows [][3]string) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".ledger (seq, change_id, customer_id, amount, amount_gbp)")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seq, _ := strconv.ParseUint(r[0], 10, 64)
			if err := b.Append(seq, "o-"+r[0], uint64(7), r[1], r[2]); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want [][3]string) {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT seq, toString(amount), toString(amount_gbp), toTypeName(amount), toTypeName(amount_gbp)"+
			" FROM "+db+".ledger ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for ; rows.Next(); i++ {
			var (
				seq                  uint64
				amt, gbp, tAmt, tGBP string
			)
			if err := rows.Scan(&seq, &amt, &gbp, &tAmt, &tGBP); err != nil {
				t.Fatal(err)
			}
			if tAmt != "Decimal(18, 6)" || tGBP != "Decimal(38, 12)" {
				t.Fatalf("column types %s, %s; want Decimal(18, 6), Decimal(38, 12)", tAmt, tGBP)
			}
			if i >= len(want) || strconv.FormatUint(seq, 10) != want[i][0] || amt != want[i][1] || gbp != want[i][2] {
				t.Errorf("row %d = %d %s %s, want %v", i, seq, amt, gbp, want[min(i, len(want)-1)])
			}
		}
		if i != len(want) {
			t.Fatalf("%d rows, want %d", i, len(want))
		}
	}
	insert([][3]string{{"1", "-9999999.999", "-8499999.999150000"}, {"2", "0.001", "0.000850000"}, {"3", "10000000", "999999999.999999999"}})
	applied, err := Migrate(ctx, conn, db)
	if err != nil || !slices.Equal(applied, []int{4, 5}) {
		t.Fatalf("Migrate from 3 = %v, %v; want [4 5]", applied, err)
	}
	// The largest EUR amount at the largest rate: 9999999.999999 x 9.999999.
	insert([][3]string{{"4", "-9999999.999999", "-99999989.999990000001"}, {"5", "0.000001", "0.000000000001"}})
	check([][3]string{
		{"1", "-9999999.999000", "-8499999.999150000000"},
		{"2", "0.001000", "0.000850000000"},
		{"3", "10000000.000000", "999999999.999999999000"},
		{"4", "-9999999.999999", "-99999989.999990000001"},
		{"5", "0.000001", "0.000000000001"},
	})
}
