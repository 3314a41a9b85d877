package testenv

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// workShared is where the development machines mount the shared folder, for
// a clone made elsewhere (a CI checkout in a temporary directory).
const workShared = "/work/shared/data/online-retail"

// RetailData returns the directory of the UCI Online Retail exports:
// $LOYALTY_RETAIL_DATA if set, else the first shared/data/online-retail
// beside the repository or any directory above it, else workShared. Missing
// data fails the test.
func RetailData(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("LOYALTY_RETAIL_DATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if cand := filepath.Join(dir, "shared", "data", "online-retail"); isDir(cand) {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if isDir(workShared) {
		return workShared
	}
	t.Fatal("the retail data (shared/data/online-retail) is not beside the repository, above it, or in " + workShared + ": set LOYALTY_RETAIL_DATA to its directory")
	return ""
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
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
// real data has none.
func ExpectRetail(t testing.TB, files []string) Retail {
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
