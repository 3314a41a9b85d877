package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/xyz/loyalty/api"
	"github.com/xyz/loyalty/chledger"
	"github.com/xyz/loyalty/ledger"
)

// HistoryPage reads one page of a customer's history from the ledger (the
// API's history route): a ClickHouse that can't be reached is
// api.ErrHistoryUnavailable, which the API answers with 503.
func (z *lazyLedger) HistoryPage(ctx context.Context, customerID, before uint64, limit int) ([]ledger.Entry, error) {
	l, err := z.get(ctx)
	var es []ledger.Entry
	if err == nil {
		es, err = l.HistoryPage(ctx, customerID, before, limit)
	}
	if errors.Is(err, chledger.ErrUnavailable) {
		return nil, fmt.Errorf("%w: %w", api.ErrHistoryUnavailable, err)
	}
	return es, err
}
