package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRejectFilesBeside: by default each input's rejects go beside it as
// FILE.rejects.csv, with a header, a row per reject in the order given;
// standard input's go to stdin.rejects.csv in the current directory, and
// so do those of an input in a read-only directory.
func TestRejectFilesBeside(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(t.TempDir())
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	a, b, c := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv.gz"), filepath.Join(ro, "c.csv")
	r := NewRejectFiles("")
	for _, rej := range []Reject{
		{File: a, Line: 3, OrderID: "o-1", Reason: "bad amount"},
		{File: b, Line: 7, Reason: "no header, \"quoted\""},
		{File: a, Line: 9, OrderID: "o-2", Reason: "unknown currency"},
		{File: "-", Line: 2, OrderID: "o-3", Reason: "missing customer"},
		{File: c, Line: 4, OrderID: "o-4", Reason: "too old"},
	} {
		if err := r.Write(rej); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"c.csv.rejects.csv", a + ".rejects.csv", b + ".rejects.csv", "stdin.rejects.csv"}
	slices.Sort(want)
	if got := r.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	for path, body := range map[string]string{
		a + ".rejects.csv":  "file,line,order_id,reason\n" + a + ",3,o-1,bad amount\n" + a + ",9,o-2,unknown currency\n",
		b + ".rejects.csv":  "file,line,order_id,reason\n" + b + ",7,,\"no header, \"\"quoted\"\"\"\n",
		"stdin.rejects.csv": "file,line,order_id,reason\n-,2,o-3,missing customer\n",
		"c.csv.rejects.csv": "file,line,order_id,reason\n" + c + ",4,o-4,too old\n",
	} {
		if got := readFile(t, path); got != body {
			t.Errorf("%s:\n%s\nwant\n%s", path, got, body)
		}
	}
}

// TestRejectFilesOne: a path given takes every input's rejects.
func TestRejectFilesOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rejects.csv")
	r := NewRejectFiles(path)
	for _, f := range []string{"x.csv", "y.csv"} {
		if err := r.Write(Reject{File: f, Line: 2, Reason: "bad"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, path), "file,line,order_id,reason\nx.csv,2,,bad\ny.csv,2,,bad\n"; got != want {
		t.Fatalf("%s:\n%s\nwant\n%s", path, got, want)
	}
	if got := r.Names(); !slices.Equal(got, []string{path}) {
		t.Fatalf("Names = %v, want [%s]", got, path)
	}
}

// TestRejectFilesErrors: a rejects file that can't be created stops the
// run with advice; one whose writes fail (a full disk) is Close's error,
// not lost.
func TestRejectFilesErrors(t *testing.T) {
	r := NewRejectFiles(filepath.Join(t.TempDir(), "missing", "rejects.csv"))
	err := r.Write(Reject{File: "x.csv", Line: 2, Reason: "bad"})
	if err == nil || !strings.Contains(err.Error(), "cannot write the rejects file (choose one with --rejects)") {
		t.Fatalf("Write into a missing directory = %v, want the advice", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close with no file = %v", err)
	}

	if _, err := os.Stat("/dev/full"); err != nil {
		t.Fatalf("this test writes to /dev/full (a device whose writes fail with ENOSPC): %v", err)
	}
	r = NewRejectFiles("/dev/full")
	if err := r.Write(Reject{File: "x.csv", Line: 2, Reason: "bad"}); err != nil {
		t.Fatalf("Write = %v, want it buffered", err)
	}
	if err := r.Close(); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "/dev/full") {
		t.Fatalf("Close on a full disk = %v, want ENOSPC naming the file", err)
	}
}
