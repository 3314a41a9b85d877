package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/ledger"
)

// lazyLedger is the ClickHouse ledger, connected on first use
// (chledger.Lazy), with its history in the API's terms.
type lazyLedger struct{ *chledger.Lazy }

// get returns the connected ledger (the commands that read it whole).
func (z lazyLedger) get(ctx context.Context) (*chledger.Ledger, error) { return z.Get(ctx) }

// HistoryPage reads one page of a customer's history from the ledger (the
// API's history route): a ClickHouse that can't be reached is
// api.ErrHistoryUnavailable, which the API answers with 503.
func (z lazyLedger) HistoryPage(ctx context.Context, customerID, before uint64, limit int) ([]ledger.Entry, error) {
	es, err := z.Lazy.HistoryPage(ctx, customerID, before, limit)
	if errors.Is(err, chledger.ErrUnavailable) {
		return nil, fmt.Errorf("%w: %w", api.ErrHistoryUnavailable, err)
	}
	return es, err
}
