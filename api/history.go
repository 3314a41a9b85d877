package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xyz/loyalty/ledger"
)

// Limits of GET /loyalty/{userId}/history.
const (
	HistoryDefaultLimit = 20  // entries per page when the request gives no limit
	HistoryMaxLimit     = 100 // the largest limit a request may ask
)

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -source=history.go -destination=mocks/history.go -package=mocks

// HistoryReader reads customers' ledger entries: the ClickHouse ledger
// (chledger.Ledger, behind serve's connection) or the embedded store.
type HistoryReader interface {
	// HistoryPage returns up to limit of the customer's entries with a seq
	// below before (0: no bound), newest first. An error of the class
	// ledger.ErrUnavailable (ErrHistoryUnavailable is one) means the ledger
	// can't be reached now.
	HistoryPage(ctx context.Context, customerID, before uint64, limit int) ([]ledger.Entry, error)
}

// ErrHistoryUnavailable is what a HistoryReader's error may wrap when the
// ledger can't be reached (any error of the class ledger.ErrUnavailable
// does as well): the history answers 503 (dashboards, which don't read the
// ledger, are unaffected).
var ErrHistoryUnavailable = ledger.NewError(ledger.ErrUnavailable, "history unavailable")

// historyEntry is one line of a customer's history.
type historyEntry struct {
	Seq  uint64       `json:"seq"`
	Kind ledger.Cause `json:"kind"` // order, refund, manual or correction
	// Points is the change of the balance (a refund never takes it below
	// zero, so it may be less than the order's points).
	Points   int64  `json:"points"`
	Balance  int64  `json:"balance"` // after the change
	Channel  string `json:"channel,omitempty"`
	StoreID  string `json:"storeId,omitempty"`
	OrderID  string `json:"orderId,omitempty"` // orders, refunds and corrections
	Amount   string `json:"amount,omitempty"`  // of the order, as sent
	Currency string `json:"currency,omitempty"`
	Reason   string `json:"reason,omitempty"` // manual points
	// At is when the purchase happened (orders) or the points were inserted.
	At time.Time `json:"at"`
	// RecordedAt is when the change was applied.
	RecordedAt time.Time `json:"recordedAt"`
}

// historyResponse answers GET /loyalty/{userId}/history.
type historyResponse struct {
	Entries []historyEntry `json:"entries"`
	// NextBefore is the before of the next (older) page; absent on the last.
	NextBefore *uint64 `json:"nextBefore,omitempty"`
}

// beforeRule says what a before query parameter must be.
const beforeRule = "must be the nextBefore of a previous page: an integer from 1 to 18446744073709551615"

// getHistory answers a customer's ledger entries, newest first, a page at a
// time: the customer themself or staff.
func (s *Server) getHistory(c *gin.Context) {
	id, ok := s.readableUserID(c)
	if !ok {
		return
	}
	limit, ok := s.queryInt(c, "limit", HistoryDefaultLimit, 1, HistoryMaxLimit)
	if !ok {
		return
	}
	var before uint64
	if v, present := c.GetQuery("before"); present {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 || len(v) > 20 {
			s.problem(c, problemBadRequest, "Query parameter before "+beforeRule+".", []FieldIssue{{"before", beforeRule}})
			return
		}
		before = n
	}
	// One more than asked says whether there is an older page.
	es, err := s.deps.History.HistoryPage(c.Request.Context(), id, before, limit+1)
	if errors.Is(err, ledger.ErrUnavailable) {
		s.log.Warn("request failed: history unavailable", "requestId", c.GetString(requestIDKey), "route", c.FullPath(), "err", err)
		s.problem(c, problemUnavailable, "The points history is temporarily unavailable (the ledger can't be reached); the dashboard is not affected. Retry after Retry-After.", nil)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	r := historyResponse{Entries: make([]historyEntry, 0, min(len(es), limit))}
	if len(es) > limit {
		es = es[:limit]
		next := es[limit-1].Seq
		r.NextBefore = &next
	}
	for _, e := range es {
		h := historyEntry{
			Seq: e.Seq, Kind: e.Cause, Points: e.Delta, Balance: e.Balance, Channel: e.Channel, StoreID: e.StoreID,
			At: e.OccurredAt.UTC(), RecordedAt: e.RecordedAt.UTC(),
		}
		switch e.Cause {
		case ledger.CauseManual:
			h.Reason = e.Reason
		default:
			h.OrderID, _, _ = strings.Cut(e.ID, ledger.CorrectionSep)
			h.Amount, h.Currency = e.Amount.String(), e.Currency
		}
		r.Entries = append(r.Entries, h)
	}
	c.Header("Cache-Control", "private, no-store")
	c.JSON(http.StatusOK, r)
}
