package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RetailData returns the directory of the UCI Online Retail exports
// (../shared/data/online-retail beside the repository): $LOYALTY_RETAIL_DATA
// if set, else the first shared/data/online-retail found beside the
// repository or any directory above it. Missing data fails the test.
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
		cand := filepath.Join(dir, "shared", "data", "online-retail")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("the retail data (shared/data/online-retail) is not beside the repository or above it: set LOYALTY_RETAIL_DATA to its directory")
		}
		dir = parent
	}
}
