package chledger

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/xyz/loyalty/ledger"
)

// query is one ```sql block of docs/analytics.md and the heading above it.
type query struct{ heading, sql string }

func docQueries(t *testing.T) []query {
	t.Helper()
	doc, err := os.ReadFile("../docs/analytics.md")
	if err != nil {
		t.Fatal(err)
	}
	var (
		qs      []query
		heading string
	)
	blocks := regexp.MustCompile("(?ms)^### ([^\n]+)$|^```sql\n(.*?)^```$").FindAllStringSubmatch(string(doc), -1)
	for _, m := range blocks {
		if m[1] != "" {
			heading = m[1]
			continue
		}
		qs = append(qs, query{heading, m[2]})
	}
	return qs
}

// TestAnalyticsQueries runs every query of docs/analytics.md on a seeded
// ledger that holds a re-sent batch, and checks the known results.
func TestAnalyticsQueries(t *testing.T) {
	t.Parallel()
	ctx, l, _ := open(t)
	next := day.Add(24 * time.Hour)
	at := func(e ledger.Entry, d time.Time) ledger.Entry {
		e.OccurredAt, e.RecordedAt = d.Add(e.OccurredAt.Sub(day)), d.Add(e.RecordedAt.Sub(day))
		e.Seal()
		return e
	}
	refund := entry(7, 3, "-100", -6, 0, "app")
	refund.Points = -10 // the customer had only 6 left
	manual := entry(8, 5, "0", 50, 50, "")
	manual.ID, manual.Cause, manual.Currency, manual.ItemIDs, manual.Reason = "manual:k1", ledger.CauseManual, "", nil, "goodwill"
	seed := []ledger.Entry{
		entry(1, 1, "100", 10, 10, "web"),
		entry(2, 2, "250", 25, 25, "store"), // store S2
		entry(3, 3, "55", 6, 6, "app"),
		entry(4, 1, "-30", -3, 7, "web"),
		at(entry(5, 2, "40", 4, 29, "store"), next),
		at(entry(6, 4, "120", 12, 12, "store"), next), // store S1
		at(refund, next),
		at(manual, next),
	}
	if err := l.Append(ctx, seed); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, seed[2:6]); err != nil { // a re-sent batch
		t.Fatal(err)
	}

	want := map[string][]string{
		"Points awarded per channel per day": {
			"2026-03-14 app 6 1 55", "2026-03-14 store 25 1 250", "2026-03-14 web 10 1 100", "2026-03-15 store 16 2 160"},
		"The same, deduplicated without FINAL": {
			"2026-03-14 app 6 1", "2026-03-14 store 25 1", "2026-03-14 web 10 1", "2026-03-15 store 16 2"},
		"Top stores by points":         {"S2 29 2 0 1", "S1 12 1 0 1"},
		"Was an order applied?":        {"o-1 1 1 " + seed[0].Digest + " 10 10"},
		"Refunds per day":              {"2026-03-14 1 3 3 30", "2026-03-15 1 10 6 100"},
		"Current balance distribution": {"0 1 0", "1-9 1 7", "10-99 3 12"},
		"Balance percentiles":          {"5 [12 50 50] 50"},
		"Points inserted by staff":     {"2026-03-15 test goodwill 1 50"},
		// The board (balances above 0): 7, 12, 29, 50; max 50, so range i
		// ends at floor(51^(i/20)) - 1.
		"The board's distribution, as `GET /leaderboard/distribution`": {"11 7 7 1", "14 12 14 1", "18 28 33 1", "20 41 50 1"},
		"The board's quantiles, as `GET /leaderboard/distribution`":    {"4 12 50 50 50"},
	}
	qs := docQueries(t)
	if len(qs) < 8 {
		t.Fatalf("found %d sql blocks in docs/analytics.md, want at least 8", len(qs))
	}
	for _, q := range qs {
		rows, err := l.conn.Query(ctx, strings.ReplaceAll(q.sql, "loyalty.", l.db+"."))
		if err != nil {
			t.Errorf("%s: %v\n%s", q.heading, err, q.sql)
			continue
		}
		got := scanAll(t, rows)
		rows.Close()
		t.Logf("%s:\n  %s", q.heading, strings.Join(got, "\n  "))
		if len(got) == 0 {
			t.Errorf("%s: no rows", q.heading)
		}
		if w, ok := want[q.heading]; ok && !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\ngot  %q\nwant %q", q.heading, got, w)
		}
		delete(want, q.heading)
	}
	for h := range want {
		t.Errorf("no sql block under %q", h)
	}
}

// scanAll renders each row as its values separated by spaces: dates as
// 2006-01-02, times as 2006-01-02 15:04:05, arrays as [a b].
func scanAll(t *testing.T, rows driver.Rows) []string {
	t.Helper()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		vals := make([]string, len(dest))
		for i, d := range dest {
			switch v := reflect.ValueOf(d).Elem().Interface().(type) {
			case time.Time:
				vals[i] = strings.TrimSuffix(v.UTC().Format(time.DateTime), " 00:00:00")
			default:
				vals[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(vals, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
