package embedded

import (
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
	_, _, err := readLedger(filepath.Join(dir, "ledger.jsonl"), func(e ledger.Entry) { b.Set(e.CustomerID, e.Balance, e.Seq) })
	if err != nil {
		return nil, err
	}
	return b, nil
}
