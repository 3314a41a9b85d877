package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// RejectFiles writes a run's rejects as CSV (file, line, order_id,
// reason), created on the first reject of each. The default file of an
// input is FILE.rejects.csv beside it, or in the current directory when the
// input's directory is read-only (and stdin.rejects.csv for standard input,
// "-"); a path given to NewRejectFiles is the one file of every input. Not
// safe for concurrent use (Run calls Write from one goroutine).
type RejectFiles struct {
	path  string // "": beside each input
	files map[string]*rejectFile
}

type rejectFile struct {
	f *os.File
	w *csv.Writer
}

// NewRejectFiles returns the rejects files of a run: path, or ("") one
// beside each input.
func NewRejectFiles(path string) *RejectFiles {
	return &RejectFiles{path: path, files: map[string]*rejectFile{}}
}

// Write records a bad row in the rejects file of its input. A rejects file
// that can't be written stops the run (Run stops at the error): a reject
// must not be lost.
func (r *RejectFiles) Write(rej Reject) error {
	path := r.path
	if path == "" {
		path = rejectsBeside(rej.File)
	}
	rf := r.files[path]
	if rf == nil {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("ingest: cannot write the rejects file (choose one with --rejects): %w", err)
		}
		rf = &rejectFile{f, csv.NewWriter(f)}
		r.files[path] = rf
		if err := rf.w.Write([]string{"file", "line", "order_id", "reason"}); err != nil {
			return fmt.Errorf("ingest: rejects file %s: %w", path, err)
		}
	}
	if err := rf.w.Write([]string{rej.File, strconv.Itoa(rej.Line), rej.OrderID, rej.Reason}); err != nil {
		return fmt.Errorf("ingest: rejects file %s: %w", path, err)
	}
	return nil
}

// Close writes what is buffered and closes every rejects file; it returns
// what failed (a full disk shows here), each with its file.
func (r *RejectFiles) Close() error {
	var errs []error
	for _, p := range r.Names() {
		rf := r.files[p]
		rf.w.Flush()
		err := rf.w.Error()
		if cerr := rf.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("ingest: rejects file %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Names returns the rejects files written, sorted.
func (r *RejectFiles) Names() []string {
	names := make([]string, 0, len(r.files))
	for p := range r.files {
		names = append(names, p)
	}
	slices.Sort(names)
	return names
}

// rejectsBeside is the default rejects file of an input.
func rejectsBeside(file string) string {
	if file == "-" {
		return "stdin.rejects.csv"
	}
	base := filepath.Base(file) + ".rejects.csv"
	if st, err := os.Stat(filepath.Dir(file)); err == nil && st.Mode().Perm()&0o222 != 0 {
		return filepath.Join(filepath.Dir(file), base)
	}
	return base
}
