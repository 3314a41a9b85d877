package api

import (
	"encoding/json"
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

// pointsRequest is the body of POST /loyalty/{userId}. The fields are read
// raw, so that a field of the wrong type is reported with every other
// invalid field in one 422.
type pointsRequest struct {
	Points         json.RawMessage `json:"loyalty-points"`
	Reason         json.RawMessage `json:"reason"`
	IdempotencyKey json.RawMessage `json:"idempotencyKey"`
}

// pointsResponse answers POST /loyalty/{userId}. LedgerSeq is the ledger
// entry's seq, named as in the order responses; LedgerID is the same value
// under its first name, kept for the clients written against it.
type pointsResponse struct {
	Status        string `json:"status"`
	LedgerSeq     uint64 `json:"ledgerSeq"`
	LedgerID      uint64 `json:"ledgerId"`
	PointsAwarded int64  `json:"pointsAwarded"`
	Balance       int64  `json:"balance"`
	Replayed      bool   `json:"replayed"`
}

// rawString decodes an optional JSON string field; ok is false when the
// field holds something else.
func rawString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	return s, json.Unmarshal(raw, &s) == nil
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
	var pts int64
	pointsRule := fmt.Sprintf("must be a non-zero integer from -%d to %d", MaxManualPoints, MaxManualPoints)
	switch {
	case len(req.Points) == 0 || string(req.Points) == "null":
		bad("loyalty-points", "is required: a non-zero integer")
	case json.Unmarshal(req.Points, &pts) != nil || pts == 0 || pts > MaxManualPoints || pts < -MaxManualPoints:
		bad("loyalty-points", pointsRule)
	}
	reason, ok := rawString(req.Reason)
	reason = strings.TrimSpace(reason)
	switch {
	case !ok:
		bad("reason", "must be a string: why the points are inserted (1-200 characters)")
	case reason == "":
		bad("reason", "is required: why the points are inserted (1-200 characters)")
	case !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxReasonLen || strings.ContainsFunc(reason, unicode.IsControl):
		bad("reason", "must be 1-200 characters of text, without control characters")
	}
	key, ok := rawString(req.IdempotencyKey)
	switch {
	case !ok:
		bad("idempotencyKey", "must be a string: 1-64 letters, digits or . _ : -")
	case key != "" && header != "" && key != header:
		bad("idempotencyKey", "differs from the Idempotency-Key header; send one, or the same in both")
	case key == "":
		key = header
		fallthrough
	default:
		if !idempotencyKeyPattern.MatchString(key) {
			bad("idempotencyKey", "is required (in the body or the Idempotency-Key header): 1-64 letters, digits or . _ : -")
		}
	}
	if len(issues) > 0 {
		s.problem(c, problemInvalid, invalidDetail("request", issues), issues)
		return
	}
	ch := ledger.Change{
		ID: manualPrefix + key, CustomerID: id, Points: pts, Cause: ledger.CauseManual,
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
		s.problem(c, problemInsufficient, fmt.Sprintf("The customer has %d points, fewer than the %d to deduct; nothing was deducted.", out.Balance, -pts),
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
	c.JSON(status, pointsResponse{Status: "success", LedgerSeq: out.Seq, LedgerID: out.Seq, PointsAwarded: out.Delta, Balance: out.Balance, Replayed: out.Replayed})
}
