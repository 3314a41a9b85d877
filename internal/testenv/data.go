package testenv

import (
	"os"
	"path/filepath"
	"testing"
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
