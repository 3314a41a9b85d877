// Package ledger holds the points ledger's vocabulary: a Change asked of a
// balance (an order, a refund, a manual insert), the Entry recorded once it is
// applied, and the Outcome of applying it. Every change of a balance is one
// Entry. The types are plain values, safe to share once built.
package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Cause says why a balance changed.
type Cause string

// The causes of a balance change.
const (
	CauseOrder  Cause = "order"  // a purchase
	CauseRefund Cause = "refund" // a refund or cancellation
	CauseManual Cause = "manual" // points inserted by staff (POST /loyalty/{userId})
	// CauseCorrection: an order applied with wrong content, corrected on
	// purpose (PUT /order/{orderId}): Points is the difference between the
	// corrected order's points and the points the order stood at; the
	// change id is the order id, CorrectionSep and the correction's number
	// (1, 2, ...), and the content is the corrected order's.
	CauseCorrection Cause = "correction"
)

// CorrectionSep joins an order id and a correction's number in the
// correction's change id ("web-1001#1"). Order ids never contain it.
const CorrectionSep = "#"

// CorrectionID returns the change id of the n-th correction of an order.
func CorrectionID(orderID string, n int) string {
	return orderID + CorrectionSep + strconv.Itoa(n)
}

// ErrInsufficient means a strict deduction (a manual one) asked for more
// points than the balance holds: nothing is applied.
var ErrInsufficient = errors.New("insufficient points")

// ErrNotConfirmed means a change was applied on the index's primary but not
// confirmed by enough replicas in time, so it is not acknowledged: a failover
// could still lose it. Sending it again is safe (a replay).
var ErrNotConfirmed = errors.New("change not confirmed by enough replicas")

// ErrConflict means a change id was seen before with different content: the
// change is refused and nothing is applied.
var ErrConflict = errors.New("change id already used with different content")

// Change is one requested change of a customer's balance. ID is unique for
// ever (the order id, or "manual:" + the idempotency key); applying the same
// ID twice changes nothing.
type Change struct {
	ID         string          `json:"id"`
	CustomerID uint64          `json:"customer_id"`
	Points     int64           `json:"points"` // requested: positive earns, negative removes
	Cause      Cause           `json:"cause"`
	Channel    string          `json:"channel,omitempty"`
	StoreID    string          `json:"store_id,omitempty"`
	Amount     decimal.Decimal `json:"amount"`             // as given, signed
	Currency   string          `json:"currency,omitempty"` // of Amount
	AmountGBP  decimal.Decimal `json:"amount_gbp"`         // exact, signed
	ItemIDs    []string        `json:"item_ids,omitempty"` // as given
	Reason     string          `json:"reason,omitempty"`   // manual inserts
	Actor      string          `json:"actor,omitempty"`    // who asked (token subject, file name)
	OccurredAt time.Time       `json:"occurred_at"`        // time of purchase (or of the request)
	Digest     string          `json:"digest"`             // content hash, see Seal
	// Season is the season board the change also moves ("2026-12"; empty
	// without seasons): the season of OccurredAt, set by the write path.
	// Derived, not content: not sealed.
	Season string `json:"season,omitempty"`

	// Checked says the ledger was searched for ID and did not hold it, at a
	// time when every entry up to seq CheckedMark had been shipped to it. An
	// index that no longer remembers whether it applied ID may then apply
	// the change (see Outcome.NeedLedger). Not content: not sealed, not
	// stored.
	Checked     bool   `json:"-"`
	CheckedMark uint64 `json:"-"`
}

// Seal sets Digest from the change's content: everything but Actor (which
// may differ between an original and its retry) and, for a manual insert,
// the time of the request (a retry comes later). Call it once the change is
// built.
func (c *Change) Seal() {
	var b strings.Builder
	at := c.OccurredAt.UTC().Format(time.RFC3339)
	if c.Cause == CauseManual {
		at = ""
	}
	for _, s := range []string{c.ID, strconv.FormatUint(c.CustomerID, 10), strconv.FormatInt(c.Points, 10),
		string(c.Cause), c.Channel, c.StoreID, c.Amount.String(), strings.ToUpper(c.Currency),
		strings.Join(c.ItemIDs, ","), c.Reason, at} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	sum := sha256.Sum256([]byte(b.String()))
	c.Digest = hex.EncodeToString(sum[:8])
}

// TimeBoundsApplication reports whether the change's OccurredAt bounds when
// it can first have been applied: true for orders and refunds (an index
// refuses a change dated too far ahead of its clock, so a change timed T was
// applied no earlier than T minus that margin); false for manual changes,
// whose time is that of the request (a retry comes later).
func (c *Change) TimeBoundsApplication() bool {
	return c.Cause == CauseOrder || c.Cause == CauseRefund
}

// Entry is one row of the ledger: an applied change.
type Entry struct {
	Change
	Seq        uint64    `json:"seq"`     // global order of application, from 1, no gaps per index
	Delta      int64     `json:"delta"`   // applied change: Points, limited so the balance stays >= 0
	Balance    int64     `json:"balance"` // balance after
	RecordedAt time.Time `json:"recorded_at"`
	// SeasonDelta and SeasonBalance are the change applied to the season
	// board of Change.Season and that board's balance after (floored at
	// zero on its own).
	SeasonDelta   int64 `json:"season_delta,omitempty"`
	SeasonBalance int64 `json:"season_balance,omitempty"`
}

// Outcome is the result of applying one Change.
type Outcome struct {
	Entry          // the entry (for a replay: the original entry's Seq, Delta, Balance)
	Replayed bool  // the change id was applied before with the same content; nothing changed
	Err      error // ErrConflict, ErrInsufficient (wrapped), another refusal, or nil

	// NeedLedger: the index no longer remembers whether it applied this
	// change id (it was possibly applied before the index's memory window),
	// so nothing was applied: look the id up in the ledger, and if it is not
	// there, send the change again with Checked set and CheckedMark = Mark.
	// An index answers nothing for the changes after this one in the call.
	NeedLedger bool
	Mark       uint64 // the shipped mark to use with NeedLedger
}
