package posfile

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/xyz/loyalty/ingest"
)

// Source is one input of an ingest run (ingest.Source): its orders read
// with a Reader, its bad rows *ingest.Reject. Use it from one goroutine.
type Source struct {
	path string
	f    *File
	rd   *Reader
	prog *Progress // nil: none
}

// OpenSource opens path ("-": standard input) for an ingest run. A store
// id not given in opts is the name of the file's directory ("stdin" for
// standard input). prog, if not nil, counts the file's bytes from now until
// Close.
func OpenSource(path string, opts Options, prog *Progress) (*Source, error) {
	f, err := Open(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if opts.StoreID == "" {
		if abs, err := filepath.Abs(path); err == nil && path != "-" {
			opts.StoreID = filepath.Base(filepath.Dir(abs))
		} else {
			opts.StoreID = "stdin"
		}
	}
	rd, err := NewReader(f, path, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if prog != nil {
		prog.reading(f)
	}
	return &Source{path, f, rd, prog}, nil
}

// Next returns the next order and its line; io.EOF at the end; a
// *ingest.Reject for a bad row or order (reading goes on); any other error
// stops the file (a lines file too large to group, wrapping ErrTooLarge,
// says which flag raises the bound).
func (s *Source) Next() (ingest.Order, int, error) {
	o, line, err := s.rd.Next()
	var re *RecordError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return o, line, err
	case errors.As(err, &re):
		return o, line, &ingest.Reject{File: re.File, Line: re.Line, OrderID: re.OrderID, Reason: re.Reason}
	case errors.Is(err, ErrTooLarge):
		return o, line, fmt.Errorf("ingest: %w (--max-group-mib); nothing of this file was applied, and a re-run counts nothing twice", err)
	default:
		return o, line, fmt.Errorf("ingest %s: %w", s.path, err)
	}
}

// Rows returns the data rows read so far.
func (s *Source) Rows() int64 { return s.rd.Rows() }

// Close closes the file, its bytes counted as read.
func (s *Source) Close() error {
	if s.prog != nil {
		s.prog.read(s.f)
	}
	return s.f.Close()
}
