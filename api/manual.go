package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
)

// Limits of POST /loyalty/{userId}.
const (
	MaxManualPoints = 1_000_000 // the largest |loyalty-points| of one insert
	MaxReasonLen    = 200       // characters
	manualPrefix    = ingest.ManualPrefix
)

var idempotencyKeyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// pointsRequest is the body of POST /loyalty/{userId}.
type pointsRequest struct {
	Points         *int64 `json:"loyalty-points"`
	Reason         string `json:"reason"`
	IdempotencyKey string `json:"idempotencyKey"`
}

// pointsResponse answers POST /loyalty/{userId}.
type pointsResponse struct {
	Status        string `json:"status"`
	LedgerID      uint64 `json:"ledgerId"`
	PointsAwarded int64  `json:"pointsAwarded"`
	Balance       int64  `json:"balance"`
	Replayed      bool   `json:"replayed"`
}

// problemInsufficient answers a manual deduction larger than the balance.
var problemInsufficient = problemKind{"insufficient-points", "Insufficient points", http.StatusConflict}

// postPoints inserts points by hand (staff): an audited, idempotent change.
func (s *Server) postPoints(c *gin.Context) {
	id, ok := s.userID(c)
	if !ok {
		return
	}
	var req pointsRequest
	if !s.decodeBody(c, &req) {
		return
	}
	header := c.GetHeader("Idempotency-Key")
	var issues []FieldIssue
	bad := func(field, reason string) { issues = append(issues, FieldIssue{field, reason}) }
	switch {
	case req.Points == nil:
		bad("loyalty-points", "is required: a non-zero integer")
	case *req.Points == 0 || *req.Points > MaxManualPoints || *req.Points < -MaxManualPoints:
		bad("loyalty-points", fmt.Sprintf("must be a non-zero integer from -%d to %d", MaxManualPoints, MaxManualPoints))
	}
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		bad("reason", "is required: why the points are inserted (1-200 characters)")
	case !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxReasonLen || strings.ContainsFunc(reason, unicode.IsControl):
		bad("reason", "must be 1-200 characters of text, without control characters")
	}
	key := req.IdempotencyKey
	switch {
	case key != "" && header != "" && key != header:
		bad("idempotencyKey", "differs from the Idempotency-Key header; send one, or the same in both")
	case key == "":
		key = header
	}
	if len(issues) == 0 && !idempotencyKeyPattern.MatchString(key) {
		bad("idempotencyKey", "is required (in the body or the Idempotency-Key header): 1-64 letters, digits or . _ : -")
	}
	if len(issues) > 0 {
		s.problem(c, problemInvalid, "The request has invalid fields: "+issues[0].Field+" "+issues[0].Reason+".", issues)
		return
	}
	ch := ledger.Change{
		ID: manualPrefix + key, CustomerID: id, Points: *req.Points, Cause: ledger.CauseManual,
		Reason: reason, Actor: principalOf(c).Subject, OccurredAt: time.Now().UTC().Truncate(time.Second),
	}
	ch.Seal()
	outs, err := s.deps.Writer.Apply(c.Request.Context(), []ledger.Change{ch})
	if err == nil && len(outs) != 1 {
		err = fmt.Errorf("apply manual change %s: %d outcomes for 1 change", ch.ID, len(outs))
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	out := outs[0]
	if errors.Is(out.Err, ledger.ErrInsufficient) {
		s.problem(c, problemInsufficient, fmt.Sprintf("The customer has %d points, fewer than the %d to deduct; nothing was deducted.", out.Balance, -*req.Points),
			[]FieldIssue{{"loyalty-points", fmt.Sprintf("must not deduct more than the balance (%d)", out.Balance)}})
		return
	}
	if out.Err != nil {
		if !errors.Is(out.Err, ledger.ErrConflict) {
			s.problem(c, problemInvalid, "The points can't be applied: "+out.Err.Error()+".", []FieldIssue{{"loyalty-points", out.Err.Error()}})
			return
		}
		s.fail(c, out.Err)
		return
	}
	status := http.StatusCreated
	if out.Replayed {
		status = http.StatusOK
	} else {
		s.metrics.applied(string(ledger.CauseManual), out.Delta)
	}
	c.JSON(status, pointsResponse{Status: "success", LedgerID: out.Seq, PointsAwarded: out.Delta, Balance: out.Balance, Replayed: out.Replayed})
}
