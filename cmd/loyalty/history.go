package main

import (
	"context"

	"github.com/xyz/loyalty/chledger"
)

// lazyLedger is the ClickHouse ledger, connected on first use
// (chledger.Lazy). Its history reads serve the API as they are: a
// ClickHouse that can't be reached is of class ledger.ErrUnavailable, which
// the API answers with 503.
type lazyLedger struct{ *chledger.Lazy }

// get returns the connected ledger (the commands that read it whole).
func (z lazyLedger) get(ctx context.Context) (*chledger.Ledger, error) { return z.Get(ctx) }
