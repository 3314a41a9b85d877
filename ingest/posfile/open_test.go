package posfile

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOpen(t *testing.T) {
	t.Parallel()
	plain, err := os.ReadFile("testdata/example-orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(path string) []byte {
		t.Helper()
		rc, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"plain.csv", plain},
		{"gzip.csv.gz", gzipped(t, plain)},
		{"gzip-named-plain.csv", gzipped(t, plain)}, // the magic bytes decide, not the name
		{"plain-named.gz", plain},
		{"empty.csv", nil},
	} {
		want := plain
		if tc.data == nil {
			want = nil
		}
		if got := read(write(tc.name, tc.data)); !bytes.Equal(got, want) {
			t.Errorf("%s: read %d bytes, want %d", tc.name, len(got), len(want))
		}
	}

	if _, err := Open(filepath.Join(dir, "missing.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := Open(write("bad.gz", []byte{0x1f, 0x8b, 0, 0})); err == nil {
		t.Error("Open(broken gzip header): no error")
	}
}

func TestOpenStdin(t *testing.T) {
	t.Parallel()
	plain, err := os.ReadFile("testdata/example-orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"plain": plain, "gzip": gzipped(t, plain)} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "stdin")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			saved := os.Stdin
			os.Stdin = f
			t.Cleanup(func() { os.Stdin = saved })

			rc, err := Open("-")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Errorf("read %d bytes from stdin, want %d", len(got), len(plain))
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Errorf("Close closed standard input: %v", err)
			}
		})
	}
}

// TestTruncatedGzip checks that a read error is fatal and sticky, not a
// reject.
func TestTruncatedGzip(t *testing.T) {
	t.Parallel()
	plain, err := os.ReadFile("testdata/lines-toomany.csv") // larger than the header read-ahead
	if err != nil {
		t.Fatal(err)
	}
	z := gzipped(t, plain)
	p := filepath.Join(t.TempDir(), "cut.csv.gz")
	if err := os.WriteFile(p, z[:len(z)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r, err := NewReader(rc, "cut.csv.gz", defaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := r.Next()
		var re *RecordError
		switch {
		case err == nil || errors.As(err, &re):
			continue
		case err == io.EOF:
			t.Fatal("Next reached io.EOF on a truncated gzip file")
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Next = %v, want io.ErrUnexpectedEOF", err)
		}
		if _, _, again := r.Next(); again != err {
			t.Errorf("Next after a fatal error = %v, want %v again", again, err)
		}
		return
	}
}

// TestOpenConsumed: progress counts the bytes of the file as stored, so a
// gzip file's progress ends at its (compressed) size, not at the size of
// its decompressed data ("161.3 MB of 39.3 MB").
func TestOpenConsumed(t *testing.T) {
	t.Parallel()
	// Larger than the read buffer, and compressible.
	plain := bytes.Repeat([]byte("536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"), 20_000)
	dir := t.TempDir()
	for name, data := range map[string][]byte{"plain.csv": plain, "day.csv.gz": gzipped(t, plain)} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := f.Consumed(); n <= 0 || n > bufSize {
			t.Errorf("%s: %d bytes consumed after Open, want the first read buffer at most", name, n)
		}
		got, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("%s: read %d bytes, want %d", name, len(got), len(plain))
		}
		if n := f.Consumed(); n != int64(len(data)) {
			t.Errorf("%s: %d bytes consumed at the end, want the file's size %d", name, n, len(data))
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
