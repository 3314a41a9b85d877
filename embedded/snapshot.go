package embedded

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

// ReadBoard returns the board of the data directory dir as its ledger file
// holds it now, without taking the directory's lock: it works while a
// server owns the directory (`loyalty balances`). A last line still being
// written is left out; a directory with no ledger gives an empty board.
func ReadBoard(dir string) (*ranker.Board, error) {
	b := ranker.NewBoard()
	path := filepath.Join(dir, "ledger.jsonl")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		l, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return b, nil // a line without its newline is not complete yet
		}
		if err != nil {
			return nil, fmt.Errorf("read ledger: %w", err)
		}
		var e ledger.Entry
		if err := json.Unmarshal(l, &e); err != nil {
			return nil, fmt.Errorf("ledger %s line %d: %w", path, line, err)
		}
		b.Set(e.CustomerID, e.Balance, e.Seq)
	}
}
