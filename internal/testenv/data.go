package testenv

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
)

// RetailData returns a directory of the UCI Online Retail exports as plain
// CSV files, one per day (2010-12-01.csv ...): $LOYALTY_RETAIL_DATA if set
// (a directory of .csv files, or of .csv.gz files, which are decompressed),
// else the repository's testdata/online-retail/*.csv.gz decompressed into a
// temporary directory: the test's, or under Main one for the whole package.
// The files are shared: tests must not write there. Missing data fails the
// test.
func RetailData(t testing.TB) string {
	t.Helper()
	src := os.Getenv("LOYALTY_RETAIL_DATA")
	if src == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		src = filepath.Join(root, "testdata", "online-retail")
	}
	if plain, _ := filepath.Glob(filepath.Join(src, "*.csv")); len(plain) > 0 {
		return src
	}
	gz, _ := filepath.Glob(filepath.Join(src, "*.csv.gz"))
	if len(gz) == 0 {
		t.Fatalf("no retail data (*.csv or *.csv.gz) in %s: set LOYALTY_RETAIL_DATA to the directory of the online-retail exports", src)
	}
	if !inMain() {
		dir := t.TempDir()
		if err := gunzipAll(gz, dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// Under Main the files are decompressed once for the whole package,
	// into a directory Main removes.
	retail.once.Do(func() {
		if retail.dir, retail.err = os.MkdirTemp("", "testenv-retail-"); retail.err != nil {
			return
		}
		removeAtEnd(retail.dir)
		retail.err = gunzipAll(gz, retail.dir)
	})
	if retail.err != nil {
		t.Fatal(retail.err)
	}
	return retail.dir
}

// retail is the package's decompressed retail data under Main.
var retail struct {
	once sync.Once
	dir  string
	err  error
}

func gunzipAll(gz []string, dir string) error {
	for _, p := range gz {
		if err := gunzipTo(p, filepath.Join(dir, strings.TrimSuffix(filepath.Base(p), ".gz"))); err != nil {
			return err
		}
	}
	return nil
}

// repoRoot is the nearest directory at or above the working directory that
// holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

func gunzipTo(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", src, err)
	}
	return out.Close()
}

// Retail is what the retail exports give under the product's rules, computed
// by ExpectRetail.
type Retail struct {
	Rows      int              // data rows of the files
	Invoices  int              // distinct InvoiceNo
	Orders    int              // invoices of a customer: each is one order that applies
	Anonymous int              // invoices of no customer, and bad-debt adjustments (A...): skipped
	Balances  map[uint64]int64 // customers with more than 0 points at the end
}

// ExpectRetail computes, independently of the code under test, the balances
// that ingesting the retail files in the given order gives: each invoice is
// one order wherever its lines are in its file, taken in the order of its
// first line; its amount is the exact sum of Quantity x UnitPrice; it earns
// round_half_up(|amount| / 10) points with the sign of the amount; a blank
// CustomerID or an A... invoice earns nothing; a balance never goes below
// zero. It fails the test if the files hold something the rules reject (an
// invoice whose lines disagree on CustomerID, a cancellation with a positive
// total, a sale with a negative one, an InvoiceNo in two files), since the
// real data has none. The answer for a list of files is computed once per
// test binary (the files are read-only test data).
func ExpectRetail(t testing.TB, files []string) Retail {
	t.Helper()
	key := strings.Join(files, "\x00")
	expected.mu.Lock()
	r, ok := expected.m[key]
	expected.mu.Unlock()
	if !ok {
		r = expectRetail(t, files)
		expected.mu.Lock()
		if expected.m == nil {
			expected.m = map[string]Retail{}
		}
		expected.m[key] = r
		expected.mu.Unlock()
	}
	r.Balances = maps.Clone(r.Balances)
	return r
}

// expected remembers ExpectRetail's answers by their files: several tests
// of a package ask for the same.
var expected struct {
	mu sync.Mutex
	m  map[string]Retail
}

func expectRetail(t testing.TB, files []string) Retail {
	t.Helper()
	type group struct {
		customer string
		total    decimal.Decimal
	}
	res := Retail{Balances: map[uint64]int64{}}
	fileOf := map[string]string{}
	ten := decimal.NewFromInt(10)
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var order []string
		groups := map[string]*group{}
		for _, rec := range recs[1:] {
			res.Rows++
			id := rec[0]
			g := groups[id]
			if g == nil {
				if other, ok := fileOf[id]; ok {
					t.Fatalf("%s: invoice %s is also in %s", path, id, other)
				}
				fileOf[id] = path
				g = &group{customer: rec[6]}
				groups[id] = g
				order = append(order, id)
			}
			if rec[6] != g.customer {
				t.Fatalf("%s: invoice %s has lines of customers %q and %q", path, id, g.customer, rec[6])
			}
			q, err := decimal.NewFromString(rec[3])
			if err != nil {
				t.Fatalf("%s: invoice %s: Quantity %q: %v", path, id, rec[3], err)
			}
			p, err := decimal.NewFromString(rec[5])
			if err != nil {
				t.Fatalf("%s: invoice %s: UnitPrice %q: %v", path, id, rec[5], err)
			}
			g.total = g.total.Add(q.Mul(p))
		}
		for _, id := range order {
			g := groups[id]
			res.Invoices++
			cancel, adjust := strings.HasPrefix(id, "C"), strings.HasPrefix(id, "A")
			if !adjust && (cancel && g.total.IsPositive() || !cancel && g.total.IsNegative()) {
				t.Fatalf("%s: invoice %s totals %s", path, id, g.total)
			}
			if adjust || g.customer == "" {
				res.Anonymous++
				continue
			}
			whole, frac, _ := strings.Cut(g.customer, ".")
			customer, err := strconv.ParseUint(whole, 10, 64)
			if err != nil || strings.Trim(frac, "0") != "" {
				t.Fatalf("%s: invoice %s: CustomerID %q", path, id, g.customer)
			}
			res.Orders++
			// Round half up on the absolute value: tenths of 5 and more go up.
			q, r := g.total.Abs().QuoRem(ten, 0)
			pts := q.IntPart()
			if r.Mul(decimal.NewFromInt(2)).GreaterThanOrEqual(ten) {
				pts++
			}
			if g.total.IsNegative() {
				pts = -pts
			}
			res.Balances[customer] = max(0, res.Balances[customer]+pts)
		}
	}
	for c, b := range res.Balances {
		if b == 0 {
			delete(res.Balances, c)
		}
	}
	return res
}
