package posfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/internal/testenv"
	"github.com/xyz/loyalty/points"
)

// dataDir returns the directory of the real online-retail exports, one file
// per day.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func dataDir(t testing.TB) string { return testenv.RetailData(t) }

// tally is what a file should give, counted without the Reader.
type tally struct {
	rows, invoices, cancellations, anonymous, tooBig int
	maxItems                                         int             // of the invoices that are imported
	total                                            decimal.Decimal // of the invoices that are imported
}

// countIndependently groups the rows of a file with a map, the simple way.
func countIndependently(t *testing.T, path string) tally {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type inv struct {
		lines    int
		customer string
		total    decimal.Decimal
	}
	invs := map[string]*inv{}
	for _, rec := range recs[1:] {
		i := invs[rec[0]]
		if i == nil {
			i = &inv{customer: rec[6]}
			invs[rec[0]] = i
		}
		i.lines++
		i.total = i.total.Add(decimal.RequireFromString(rec[3]).Mul(decimal.RequireFromString(rec[5])))
	}
	c := tally{rows: len(recs) - 1, invoices: len(invs)}
	for id, i := range invs {
		if i.lines > ingest.MaxItems {
			c.tooBig++
			continue
		}
		if strings.HasPrefix(id, "C") {
			c.cancellations++
		}
		if i.customer == "" {
			c.anonymous++
		}
		c.maxItems = max(c.maxItems, i.lines)
		c.total = c.total.Add(i.total)
	}
	return c
}

// readFile reads a file with the Reader and counts what it returned. With
// balances not nil, it also applies the orders' points to them, as the
// store does: the points rule, and never below zero.
func readFile(t *testing.T, path string, balances map[uint64]int64) (got tally, rejects []*RecordError) {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f, filepath.Base(path), defaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	for {
		o, _, err := r.Next()
		var re *RecordError
		switch {
		case err == io.EOF:
			got.rows = int(r.Rows())
			return got, rejects
		case errors.As(err, &re):
			rejects = append(rejects, re)
			continue
		case err != nil:
			t.Fatal(err)
		}
		got.invoices++
		if strings.HasPrefix(o.ID, "C") {
			got.cancellations++
		}
		if o.CustomerID == 0 {
			got.anonymous++
		}
		got.maxItems = max(got.maxItems, len(o.ItemIDs))
		got.total = got.total.Add(o.Amount)
		if balances != nil && o.CustomerID != 0 {
			balances[o.CustomerID] = max(0, balances[o.CustomerID]+points.ForGBP(o.Amount))
		}
	}
}

func TestRealFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(dataDir(t), "2010-12-01.csv")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the real data is missing: %v", err)
	}
	want := countIndependently(t, path)
	got, rejects := readFile(t, path, nil)
	t.Logf("%s: %d rows, %d invoices (%d cancellations, %d anonymous, %d over %d lines)",
		path, want.rows, want.invoices, want.cancellations, want.anonymous, want.tooBig, ingest.MaxItems)
	// No invoice of the real data is over ingest.MaxItems any more: the
	// rejection of big invoices is covered by testdata/lines-toomany.csv.
	if want.tooBig != 0 {
		t.Errorf("%d invoices over %d lines, want none", want.tooBig, ingest.MaxItems)
	}
	if want.cancellations == 0 || want.anonymous == 0 {
		t.Fatalf("the file lacks the cases this test is for: %+v", want)
	}
	if got.rows != want.rows {
		t.Errorf("Rows() = %d, want %d", got.rows, want.rows)
	}
	if got.invoices != want.invoices-want.tooBig {
		t.Errorf("%d orders, want %d", got.invoices, want.invoices-want.tooBig)
	}
	if len(rejects) != want.tooBig {
		t.Errorf("%d rejects, want %d (the invoices over %d lines): %v", len(rejects), want.tooBig, ingest.MaxItems, rejects)
	}
	if got.maxItems != want.maxItems {
		t.Errorf("largest order has %d items, want %d", got.maxItems, want.maxItems)
	}
	if got.cancellations != want.cancellations {
		t.Errorf("%d cancellations, want %d", got.cancellations, want.cancellations)
	}
	if got.anonymous != want.anonymous {
		t.Errorf("%d anonymous orders, want %d", got.anonymous, want.anonymous)
	}
	if !got.total.Equal(want.total) {
		t.Errorf("total amount %s, want %s", got.total, want.total)
	}
}

// TestRealData reads the whole export (all 305 files, each invoice one order
// wherever its lines are in its file): no row is rejected, the figures of
// its README hold, and every customer's points from the orders read equal
// testenv.ExpectRetail's independent computation.
func TestRealData(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(dataDir(t), "*.csv"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("the real data is missing from %s: %v", dataDir(t), err)
	}
	if len(paths) != 305 {
		t.Fatalf("%d files in %s, want the 305 days of the export", len(paths), dataDir(t))
	}
	var all, want tally
	balances := map[uint64]int64{}
	for _, p := range paths {
		w := countIndependently(t, p)
		want.rows += w.rows
		want.invoices += w.invoices
		want.anonymous += w.anonymous
		want.tooBig += w.tooBig
		want.maxItems = max(want.maxItems, w.maxItems)
		got, rejects := readFile(t, p, balances)
		all.rows += got.rows
		all.invoices += got.invoices
		all.anonymous += got.anonymous
		all.maxItems = max(all.maxItems, got.maxItems)
		for _, re := range rejects {
			t.Errorf("reject %v (order %q)", re, re.OrderID)
		}
	}
	// The figures of the export's README, counted without the Reader: 541,909
	// rows, 25,900 invoices, the largest (573585 on 2011-10-31) of 1,114 lines,
	// so none over ingest.MaxItems.
	if want.rows != 541909 || want.invoices != 25900 || want.maxItems != 1114 || want.tooBig != 0 {
		t.Errorf("counted %d rows, %d invoices, largest %d lines, %d over %d lines; want 541909, 25900, 1114, 0",
			want.rows, want.invoices, want.maxItems, want.tooBig, ingest.MaxItems)
	}
	if all.rows != want.rows {
		t.Errorf("%d rows, want %d", all.rows, want.rows)
	}
	// Every invoice is one order, the largest whole, 542806 of 2011-02-01
	// (interleaved with a cancellation) too.
	if all.invoices != want.invoices || all.maxItems != want.maxItems {
		t.Errorf("%d orders, the largest of %d items; want %d, %d", all.invoices, all.maxItems, want.invoices, want.maxItems)
	}
	exp := testenv.ExpectRetail(t, paths)
	if exp.Rows != all.rows || exp.Invoices != all.invoices || exp.Anonymous != all.anonymous || exp.Orders != all.invoices-all.anonymous {
		t.Errorf("read %d rows, %d orders (%d anonymous); ExpectRetail counts %d rows, %d invoices, %d orders, %d anonymous",
			all.rows, all.invoices, all.anonymous, exp.Rows, exp.Invoices, exp.Orders, exp.Anonymous)
	}
	for c, b := range balances {
		if b == 0 {
			delete(balances, c)
		}
	}
	bad := 0
	for c, w := range exp.Balances {
		if g := balances[c]; g != w {
			if bad++; bad <= 5 {
				t.Errorf("customer %d: %d points, want %d", c, g, w)
			}
		}
	}
	for c, g := range balances {
		if _, ok := exp.Balances[c]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("customer %d: %d points, want none", c, g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d customers differ", bad, len(exp.Balances))
	}
	// Invoice 542806 is customer 12836's: 85 points when its 39 lines are
	// one order (its first 4 lines alone gave 5).
	if exp.Balances[12836] == 0 || balances[12836] != exp.Balances[12836] {
		t.Errorf("customer 12836: %d points, want %d", balances[12836], exp.Balances[12836])
	}
	t.Logf("%d files, %d rows, %d invoices (%d anonymous), %d customers with points", len(paths), all.rows, all.invoices, all.anonymous, len(exp.Balances))
}

// TestShuffledLines shuffles the rows of a real file (seed logged) and
// checks that every invoice still comes back as the same one order: same
// customer, amount, time and items (in the order of their rows), whatever
// the interleaving.
func TestShuffledLines(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(dataDir(t), "2011-02-01.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	orders := func(recs [][]string) map[string]string {
		t.Helper()
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		if err := w.WriteAll(recs); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(&b, "shuffled.csv", defaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for {
			o, _, err := r.Next()
			if err == io.EOF {
				return got
			}
			if err != nil {
				t.Fatal(err)
			}
			got[o.ID] = fmt.Sprintf("customer=%d amount=%s at=%s items=%s", o.CustomerID, o.Amount, o.PurchasedAt, strings.Join(o.ItemIDs, ","))
		}
	}
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 14))
	want := orders(recs)
	if len(want) < 50 {
		t.Fatalf("%d orders in 2011-02-01.csv, want its invoices", len(want))
	}
	for round := 0; round < 3; round++ {
		// Shuffle the rows but keep each invoice's rows in their order (and
		// its first row first, which sets the order's time): pick at random
		// which invoice's next row comes.
		byInv := map[string][][]string{}
		var ids []string
		for _, rec := range recs[1:] {
			if byInv[rec[0]] == nil {
				ids = append(ids, rec[0])
			}
			byInv[rec[0]] = append(byInv[rec[0]], rec)
		}
		shuffled := [][]string{recs[0]}
		for len(ids) > 0 {
			k := rng.IntN(len(ids))
			id := ids[k]
			shuffled = append(shuffled, byInv[id][0])
			if byInv[id] = byInv[id][1:]; len(byInv[id]) == 0 {
				ids[k] = ids[len(ids)-1]
				ids = ids[:len(ids)-1]
			}
		}
		got := orders(shuffled)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d orders, want %d", round, len(got), len(want))
		}
		for id, w := range want {
			if got[id] != w {
				t.Fatalf("round %d: invoice %s:\n got %s\nwant %s", round, id, got[id], w)
			}
		}
	}
}
