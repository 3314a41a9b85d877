package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
)

// orderRequest is the body of POST and PUT /order/{orderId}.
type orderRequest struct {
	CustomerID     *customerID     `json:"customerId"`
	Channel        string          `json:"channel"`
	StoreID        string          `json:"storeId"`
	PaymentDetails *paymentDetails `json:"paymentDetails"`
	ItemIDs        []string        `json:"itemIds"`
	PurchasedAt    string          `json:"purchasedAt"`
}

type paymentDetails struct {
	Amount   *string `json:"amount"`
	Currency string  `json:"currency"`
}

// orderResponse answers POST and PUT /order/{orderId}.
type orderResponse struct {
	Status        string `json:"status"`
	OrderID       string `json:"orderId"`
	CustomerID    uint64 `json:"customerId"`
	PointsAwarded int64  `json:"pointsAwarded"`
	Balance       int64  `json:"balance"`
	LedgerSeq     uint64 `json:"ledgerSeq"`
	Replayed      bool   `json:"replayed"`
	// ChangeID is the change id of a correction ("orderId#n"); absent for
	// the order itself.
	ChangeID string `json:"changeId,omitempty"`
}

// customerID is a customer id given as a JSON string or number: a decimal
// integer 1..2^53-1 either way.
type customerID uint64

var customerIDPattern = regexp.MustCompile(`^[1-9][0-9]{0,15}$`)

// parseCustomerID parses a canonical decimal customer id.
func parseCustomerID(s string) (uint64, bool) {
	if !customerIDPattern.MatchString(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n <= ingest.MaxCustomer
}

const customerIDRule = "must be a decimal integer from 1 to 9007199254740991"

func (id *customerID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return &fieldValueError{"customerId", customerIDRule}
		}
	}
	n, ok := parseCustomerID(s)
	if !ok {
		return &fieldValueError{"customerId", customerIDRule}
	}
	*id = customerID(n)
	return nil
}

// amountPattern is the syntax of an amount; ingest.Order.Validate checks its
// value (decimal places, range).
var amountPattern = regexp.MustCompile(`^-?[0-9]{1,20}(\.[0-9]{1,20})?$`)

// postOrder applies a purchase or refund from a channel.
func (s *Server) postOrder(c *gin.Context) {
	s.order(c, s.deps.Writer.ApplyOrder)
}

// putOrder corrects an order applied before with other content: the body is
// the whole corrected order; the difference in points is applied as the
// order's next correction.
func (s *Server) putOrder(c *gin.Context) {
	s.order(c, s.deps.Writer.Correct)
}

// order parses an order and applies it with apply (POST and PUT).
func (s *Server) order(c *gin.Context, apply func(ctx context.Context, o ingest.Order, actor string) (ledger.Outcome, error)) {
	id := c.Param("orderId")
	if !ingest.ValidID(id) || strings.HasPrefix(id, manualPrefix) {
		s.problem(c, problemBadRequest, "The order id in the path is not acceptable.",
			[]FieldIssue{{"orderId", "must be 1-64 letters, digits or . _ : / - starting with a letter or digit, and not start with " + manualPrefix}})
		return
	}
	var req orderRequest
	if !s.decodeBody(c, &req) {
		s.metrics.orders.WithLabelValues("invalid").Inc()
		return
	}
	o, issues := req.order(id)
	if len(issues) > 0 {
		// Also report the fields that parsed but are invalid, in one answer
		// (on this process's clock: the writer validates again on its own
		// before applying anything).
		issues = mergeIssues(issues, o.Validate(time.Now()))
		s.invalidOrder(c, issues)
		return
	}
	out, err := apply(c.Request.Context(), o, principalOf(c).Subject)
	if err == nil {
		err = out.Err
	}
	if issues := mergeIssues(nil, err); len(issues) > 0 {
		s.invalidOrder(c, issues)
		return
	}
	if err != nil {
		switch {
		case errors.Is(err, ledger.ErrConflict):
			s.metrics.orders.WithLabelValues("conflict").Inc()
		case errors.Is(err, ingest.ErrNotFound):
			s.metrics.orders.WithLabelValues("not_found").Inc()
			s.problem(c, problemOrderNotFound, "Order "+id+" was never applied, so there is nothing to correct: send it with POST /order/"+id+".", nil)
			return
		case errors.Is(err, ingest.ErrInvalid):
			s.metrics.orders.WithLabelValues("invalid").Inc()
		default:
			s.metrics.orders.WithLabelValues("failed").Inc()
		}
		if out.Err != nil && !errors.Is(err, ledger.ErrConflict) {
			// The index refused the change itself (a balance limit): the
			// amount is what to fix.
			err = &ingest.FieldError{Field: "paymentDetails.amount", Reason: out.Err.Error()}
		}
		s.fail(c, err)
		return
	}
	status := http.StatusCreated
	if out.Replayed {
		status = http.StatusOK
		s.metrics.orders.WithLabelValues("replayed").Inc()
	} else {
		s.metrics.orders.WithLabelValues("applied").Inc()
		s.metrics.applied(string(out.Cause), out.Delta)
	}
	resp := orderResponse{
		Status: "success", OrderID: id, CustomerID: o.CustomerID, PointsAwarded: out.Delta,
		Balance: out.Balance, LedgerSeq: out.Seq, Replayed: out.Replayed,
	}
	if out.ID != id {
		resp.ChangeID = out.ID
	}
	c.JSON(status, resp)
}

// problemOrderNotFound answers a correction of an order never applied.
var problemOrderNotFound = problemKind{"order-not-found", "Order not found", http.StatusNotFound}

// invalidOrder answers 422 naming every invalid field; nothing was applied.
func (s *Server) invalidOrder(c *gin.Context, issues []FieldIssue) {
	s.metrics.orders.WithLabelValues("invalid").Inc()
	s.problem(c, problemInvalid, invalidDetail("order", issues), issues)
}

// invalidDetail is the detail of a 422 naming every invalid field of what
// (the order, the request).
func invalidDetail(what string, issues []FieldIssue) string {
	detail := make([]string, len(issues))
	for i, fi := range issues {
		detail[i] = fi.Field + " " + fi.Reason
	}
	head := "The " + what + " has an invalid field: "
	if len(issues) > 1 {
		head = fmt.Sprintf("The %s has %d invalid fields: ", what, len(issues))
	}
	return head + strings.Join(detail, "; ") + "."
}

// mergeIssues adds the field errors in err (ingest.FieldErrors from
// ingest.Order.Validate, or one *ingest.FieldError) to issues, skipping the
// fields issues already names and the fields inside them: a field that did
// not parse is zero in the order, and Validate would only repeat that it is
// missing.
func mergeIssues(issues []FieldIssue, err error) []FieldIssue {
	var (
		fes ingest.FieldErrors
		fe  *ingest.FieldError
	)
	switch {
	case errors.As(err, &fes):
	case errors.As(err, &fe):
		fes = ingest.FieldErrors{fe}
	default:
		return issues
	}
	named := map[string]bool{}
	for _, fi := range issues {
		named[fi.Field] = true
	}
	for _, fe := range fes {
		parent, _, _ := strings.Cut(fe.Field, ".")
		if !named[fe.Field] && !named[parent] {
			issues = append(issues, FieldIssue{fe.Field, fe.Reason})
		}
	}
	return issues
}

// order checks the fields the API parses (presence, number and time
// formats) and builds the order; ingest validates the rest.
func (r *orderRequest) order(id string) (ingest.Order, []FieldIssue) {
	var issues []FieldIssue
	bad := func(field, reason string) { issues = append(issues, FieldIssue{field, reason}) }
	o := ingest.Order{ID: id, Channel: ingest.Channel(r.Channel), StoreID: r.StoreID, ItemIDs: r.ItemIDs}
	if r.CustomerID == nil {
		bad("customerId", "is required")
	} else {
		o.CustomerID = uint64(*r.CustomerID)
	}
	if r.Channel == "" {
		bad("channel", "is required: web, app or store")
	}
	switch {
	case r.PaymentDetails == nil:
		bad("paymentDetails", "is required: {\"amount\": \"12.50\", \"currency\": \"GBP\"}")
	default:
		p := r.PaymentDetails
		switch {
		case p.Amount == nil:
			bad("paymentDetails.amount", "is required: a decimal string such as \"12.50\" (negative for a refund)")
		case !amountPattern.MatchString(*p.Amount):
			bad("paymentDetails.amount", fmt.Sprintf("must be a decimal string such as \"12.50\" or \"-3.999\" (at most %d decimal places, at most %s in absolute value)",
				ingest.MaxAmountScale, ingest.MaxAmount))
		default:
			o.Amount = decimal.RequireFromString(*p.Amount)
		}
		o.Currency = p.Currency
	}
	if r.PurchasedAt == "" {
		bad("purchasedAt", "is required: an RFC 3339 time such as 2025-06-01T12:30:00Z")
	} else if t, err := time.Parse(time.RFC3339, r.PurchasedAt); err != nil {
		bad("purchasedAt", "must be an RFC 3339 time such as 2025-06-01T12:30:00Z")
	} else {
		o.PurchasedAt = t
	}
	return o, issues
}
