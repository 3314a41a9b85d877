package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xyz/loyalty/internal/testenv"
)

// runEmbedded runs the binary in work with the embedded store in work/data
// and returns its standard output and exit code.
func runEmbedded(t *testing.T, work string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = work
	cmd.Env = cleanEnv("LOYALTY_DATA_DIR="+filepath.Join(work, "data"), "LOYALTY_REDIS_ADDR=", "LOYALTY_LOG_LEVEL=warn")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Logf("%s: stderr:\n%s", args[0], errOut.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestIngestEmbeddedRetail ingests the whole real export (305 files) on the
// embedded store, the way a newcomer would: no row is rejected, every
// balance equals testenv.ExpectRetail's independent computation (each
// invoice one order wherever its lines are in its file), and a second run
// applies nothing.
func TestIngestEmbeddedRetail(t *testing.T) {
	t.Parallel()
	files := retailFiles(t)
	if len(files) != 305 {
		t.Fatalf("%d retail files, want 305", len(files))
	}
	want := testenv.ExpectRetail(t, files)
	work := t.TempDir()
	rejects := filepath.Join(work, "rejects.csv")
	args := append([]string{"ingest", "--format", "lines", "--store-id", "LDN-1", "--rejects", rejects}, files...)
	balances := func() map[uint64]int64 {
		t.Helper()
		out, code := runEmbedded(t, work, "balances")
		if code != 0 {
			t.Fatalf("balances: exit %d\n%s", code, out)
		}
		got := map[uint64]int64{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			id, p, _ := strings.Cut(l, ",")
			c, err1 := strconv.ParseUint(id, 10, 64)
			n, err2 := strconv.ParseInt(p, 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("balances: bad line %q", l)
			}
			got[c] = n
		}
		return got
	}

	out, code := runEmbedded(t, work, args...)
	t.Logf("first run (exit %d):\n%s", code, out)
	summary := fmt.Sprintf("rows %d, orders applied %d, skipped (anonymous) %d, rejected 0, duplicates 0\n", want.Rows, want.Orders, want.Anonymous)
	if code != 0 || !strings.Contains(out, summary) {
		t.Fatalf("first run: exit %d, want 0 and the summary %q", code, summary)
	}
	if _, err := os.Stat(rejects); !errors.Is(err, fs.ErrNotExist) {
		data, _ := os.ReadFile(rejects)
		t.Fatalf("a rejects file was written (%v):\n%.2000s", err, data)
	}
	compareBalances(t, balances(), want.Balances)

	out, code = runEmbedded(t, work, args...)
	t.Logf("second run (exit %d):\n%s", code, out)
	summary = fmt.Sprintf("orders applied 0, skipped (anonymous) %d, rejected 0, duplicates %d\n", want.Anonymous, want.Orders)
	if code != 0 || !strings.Contains(out, summary) || !strings.Contains(out, "points awarded 0, deducted 0,") {
		t.Fatalf("second run: exit %d, want 0 and the summary %q with no points", code, summary)
	}
	compareBalances(t, balances(), want.Balances)
}

// TestIngestEmbeddedRejects ingests a small file on the embedded store: good
// rows apply, the bad row (and the invoice it stops: two lines) goes to the
// rejects file beside the input, or to the current directory when the
// input's directory is read-only.
func TestIngestEmbeddedRejects(t *testing.T) {
	t.Parallel()
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
		run := func(args ...string) (string, int) { return runEmbedded(t, work, args...) }
		out, code := run("ingest", "--format", "lines", "--store-id", "LDN-1", src)
		if code != exitRejected || !strings.Contains(out, "orders applied 2,") || !strings.Contains(out, "rejected 2,") {
			t.Fatalf("read-only=%v: exit %d\n%s", readOnly, code, out)
		}
		rej, err := os.ReadFile(want)
		if err != nil {
			t.Fatalf("read-only=%v: rejects file: %v", readOnly, err)
		}
		if !strings.Contains(string(rej), "day.csv,4,536366,") || !strings.Contains(string(rej), "Quantity") {
			t.Fatalf("rejects file:\n%s", rej)
		}
		bal, code := run("balances")
		// 17850: 6*2.55 + 6*3.39 = 35.64 -> 4 points; 13047: 32*1.69 = 54.08 -> 5.
		if code != 0 || !strings.Contains(bal, "17850,4\n") || !strings.Contains(bal, "13047,5\n") {
			t.Fatalf("balances (exit %d):\n%s", code, bal)
		}
	}
}

// TestIngestCorrections: `ingest --corrections` applies the difference of
// each corrected order once, keeps both in the ledger file, and rejects an
// order never applied; a plain ingest of the corrected file conflicts.
func TestIngestCorrections(t *testing.T) {
	t.Parallel()
	const orders = `order_id,customer_id,channel,store_id,amount,currency,item_ids,purchased_at
S1-1,17850,store,LDN-01,100.00,GBP,85123A,2010-12-01T08:26:00Z
S1-2,13047,store,LDN-01,40.00,GBP,71053,2010-12-01T08:28:00Z
`
	const fixed = `order_id,customer_id,channel,store_id,amount,currency,item_ids,purchased_at
S1-1,17850,store,LDN-01,150.00,GBP,85123A,2010-12-01T08:26:00Z
S1-9,13047,store,LDN-01,10.00,GBP,71053,2010-12-01T08:29:00Z
`
	in, work := t.TempDir(), t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(in, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	day, corr := write("day.csv", orders), write("fix.csv", fixed)
	run := func(args ...string) (string, int) { return runEmbedded(t, work, args...) }
	if out, code := run("ingest", day); code != 0 {
		t.Fatalf("ingest: exit %d\n%s", code, out)
	}
	if out, code := run("ingest", corr); code != exitRejected || !strings.Contains(out, "orders applied 1,") || !strings.Contains(out, "rejected 1,") {
		t.Fatalf("a plain ingest of corrected content: exit %d, want S1-1 a conflict and S1-9 applied\n%s", code, out)
	}
	out, code := run("ingest", "--corrections", corr)
	if code != 0 || !strings.Contains(out, "orders applied 1,") || !strings.Contains(out, "duplicates 1") || !strings.Contains(out, "points awarded 5,") {
		t.Fatalf("corrections: exit %d, want S1-1 corrected (+5) and S1-9 unchanged (it has that content)\n%s", code, out)
	}
	out, code = run("ingest", "--corrections", corr)
	if code != 0 || !strings.Contains(out, "orders applied 0,") || !strings.Contains(out, "duplicates 2") {
		t.Fatalf("corrections again: exit %d, want nothing applied\n%s", code, out)
	}
	never := write("never.csv", strings.Replace(fixed, "S1-9", "S1-7", 1))
	out, code = run("ingest", "--corrections", never)
	if code != exitRejected || !strings.Contains(out, "rejected 1,") {
		t.Fatalf("a correction of an order never applied: exit %d\n%s", code, out)
	}
	if rej, err := os.ReadFile(never + ".rejects.csv"); err != nil || !strings.Contains(string(rej), "S1-7 was never applied") {
		t.Fatalf("rejects: %s, %v", rej, err)
	}
	bal, _ := run("balances")
	// 17850: 10 + 5; 13047: 4 (S1-2) + 1 (S1-9).
	if !strings.Contains(bal, "17850,15\n") || !strings.Contains(bal, "13047,5\n") {
		t.Fatalf("balances:\n%s", bal)
	}
	ledgerFile, err := os.ReadFile(filepath.Join(work, "data", "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ledgerFile), `"id":"S1-1#1"`) || !strings.Contains(string(ledgerFile), `"cause":"correction"`) {
		t.Fatalf("the ledger lacks the correction:\n%s", ledgerFile)
	}
}
