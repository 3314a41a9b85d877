package embedded

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/xyz/loyalty/ledger"
)

// HistoryPage returns up to limit of one customer's entries with a seq below
// before (before 0: no bound), newest first, read from the ledger file.
//
// It reads the file from the start on every call (the store keeps no index
// by customer): fine for the demo data sets the embedded store is for, about
// 0.2 s per million entries (BenchmarkHistoryPage). Writes are not held up: the file is read up
// to its length when the call starts, which only ever ends on a whole line.
func (s *Store) HistoryPage(ctx context.Context, customerID, before uint64, limit int) ([]ledger.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	size := s.size
	s.mu.Unlock()
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("history of customer %d: %w", customerID, err)
	}
	defer f.Close()
	// Entries are encoded by encoding/json with customer_id after id, so
	// this marks the customer's lines (a string value would hold \" instead
	// of "); each candidate is decoded and checked.
	mark := []byte(`"customer_id":` + strconv.FormatUint(customerID, 10) + `,`)
	var ring []ledger.Entry // the latest limit entries below before, oldest first
	r := bufio.NewReaderSize(io.LimitReader(f, size), 1<<20)
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("history of customer %d: %w", customerID, ctx.Err())
		}
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			var long []byte
			long, err = r.ReadBytes('\n')
			line = append(bytes.Clone(line), long...)
		}
		if len(line) > 0 && bytes.Contains(line, mark) {
			var e ledger.Entry
			if jerr := json.Unmarshal(line, &e); jerr != nil {
				return nil, fmt.Errorf("history of customer %d: ledger %s: %w", customerID, s.path, jerr)
			}
			if e.CustomerID == customerID && (before == 0 || e.Seq < before) {
				if len(ring) == limit {
					ring = append(ring[:0], ring[1:]...)
				}
				ring = append(ring, e)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("history of customer %d: read ledger: %w", customerID, err)
		}
	}
	out := make([]ledger.Entry, len(ring))
	for i, e := range ring {
		out[len(ring)-1-i] = e
	}
	return out, nil
}
