package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestEmbeddedRejects ingests a small file on the embedded store: good
// rows apply, the bad row (and the invoice it stops: two lines) goes to the
// rejects file beside the input, or to the current directory when the
// input's directory is read-only.
func TestIngestEmbeddedRejects(t *testing.T) {
	const file = `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,22633,WARMER,six,2010-12-01 08:28:00,1.85,17850.0,United Kingdom
536367,84879,BIRD,32,2010-12-01 08:34:00,1.69,13047.0,United Kingdom
`
	for _, readOnly := range []bool{false, true} {
		in, work := t.TempDir(), t.TempDir()
		src := filepath.Join(in, "day.csv")
		if err := os.WriteFile(src, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(in, "day.csv.rejects.csv")
		if readOnly {
			os.Chmod(in, 0o555)
			t.Cleanup(func() { os.Chmod(in, 0o755) })
			want = filepath.Join(work, "day.csv.rejects.csv")
		}
		run := func(args ...string) (string, int) {
			cmd := exec.Command(bin, args...)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "LOYALTY_DATA_DIR="+filepath.Join(work, "data"), "LOYALTY_REDIS_ADDR=", "LOYALTY_LOG_LEVEL=warn")
			var out bytes.Buffer
			cmd.Stdout = &out
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			return out.String(), cmd.ProcessState.ExitCode()
		}
		out, code := run("ingest", "--format", "lines", "--store-id", "LDN-1", src)
		if code != exitRejected || !strings.Contains(out, "orders applied 2,") || !strings.Contains(out, "rejected 2,") {
			t.Fatalf("read-only=%v: exit %d\n%s", readOnly, code, out)
		}
		rej, err := os.ReadFile(want)
		if err != nil {
			t.Fatalf("read-only=%v: rejects file: %v", readOnly, err)
		}
		if !strings.Contains(string(rej), "day.csv,4,") || !strings.Contains(string(rej), "Quantity") {
			t.Fatalf("rejects file:\n%s", rej)
		}
		bal, code := run("balances")
		// 17850: 6*2.55 + 6*3.39 = 35.64 -> 4 points; 13047: 32*1.69 = 54.08 -> 5.
		if code != 0 || !strings.Contains(bal, "17850,4\n") || !strings.Contains(bal, "13047,5\n") {
			t.Fatalf("balances (exit %d):\n%s", code, bal)
		}
	}
}
