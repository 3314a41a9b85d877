package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

// problemBase prefixes every problem type URI.
const problemBase = "https://loyalty.xyz.com/problems/"

// Problem is an RFC 9457 problem details body (application/problem+json).
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldIssue `json:"errors,omitempty"`
}

// FieldIssue names one field of a request and what is wrong with it.
type FieldIssue struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

type problemKind struct {
	slug   string
	title  string
	status int
}

var (
	problemBadRequest   = problemKind{"bad-request", "Malformed request", http.StatusBadRequest}
	problemUnauthorized = problemKind{"unauthorized", "Authentication required", http.StatusUnauthorized}
	problemForbidden    = problemKind{"forbidden", "Forbidden", http.StatusForbidden}
	problemNotFound     = problemKind{"not-found", "No such resource", http.StatusNotFound}
	problemMethod       = problemKind{"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed}
	problemConflict     = problemKind{"conflict", "Conflicting replay", http.StatusConflict}
	problemTooLarge     = problemKind{"too-large", "Request body too large", http.StatusRequestEntityTooLarge}
	problemMediaType    = problemKind{"unsupported-media-type", "Unsupported media type", http.StatusUnsupportedMediaType}
	problemInvalid      = problemKind{"invalid-field", "Invalid field", http.StatusUnprocessableEntity}
	problemInternal     = problemKind{"internal", "Internal error", http.StatusInternalServerError}
	problemUnavailable  = problemKind{"unavailable", "Temporarily unavailable", http.StatusServiceUnavailable}
	problemUnconfirmed  = problemKind{"not-confirmed", "Not confirmed", http.StatusServiceUnavailable}
)

// problem writes a problem+json response and stops the chain.
func (s *Server) problem(c *gin.Context, k problemKind, detail string, issues []FieldIssue) {
	p := Problem{
		Type: problemBase + k.slug, Title: k.title, Status: k.status, Detail: detail,
		Instance: c.Request.URL.Path, RequestID: c.GetString(requestIDKey), Errors: issues,
	}
	if k.status == http.StatusServiceUnavailable {
		c.Header("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds())))
	}
	c.Header("Cache-Control", "no-store")
	c.Render(k.status, problemRender{p})
	c.Abort()
}

// fail answers an error from a dependency by its class (see the ledger
// package's vocabulary): domain errors become 4xx problems that say what to
// fix; outages (ledger.ErrUnavailable, which ingest.ErrUnavailable,
// ranker.ErrUnavailable and the stores' own outage errors are) and a ranker
// not ready become 503, and everything else (a fault: a bad reply, an
// encoding error) 500, both with generic bodies, the cause logged here,
// once, with the request id.
func (s *Server) fail(c *gin.Context, err error) {
	var fe *ingest.FieldError
	switch {
	case errors.Is(err, ledger.ErrConflict):
		s.problem(c, problemConflict, "This id was already used with different content; nothing was applied. Use a new id for a new request.", nil)
	case errors.As(err, &fe):
		s.problem(c, problemInvalid, "The request has an invalid field: "+fe.Error()+".", []FieldIssue{{fe.Field, fe.Reason}})
	case errors.Is(err, ledger.ErrNotConfirmed):
		s.log.Warn("request failed: change not confirmed by the replicas", "requestId", c.GetString(requestIDKey), "route", c.FullPath(), "err", err)
		s.problem(c, problemUnconfirmed, "The change was not confirmed by enough Redis replicas in time, so it is not acknowledged (a failover could lose it). Retry the same request after Retry-After: retrying is safe, it is never counted twice.", nil)
	case errors.Is(err, ledger.ErrUnavailable), errors.Is(err, ranker.ErrNotReady),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		s.log.Warn("request failed: dependency unavailable", "requestId", c.GetString(requestIDKey), "route", c.FullPath(), "err", err)
		s.problem(c, problemUnavailable, "The service is temporarily unavailable. Retry later with the same request: it is never counted twice.", nil)
	default:
		s.log.Error("request failed", "requestId", c.GetString(requestIDKey), "route", c.FullPath(), "err", err)
		s.problem(c, problemInternal, "Something went wrong on our side. Quote the request id if you report it.", nil)
	}
}

// problemRender renders a Problem with its media type.
type problemRender struct{ p Problem }

func (r problemRender) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return writeJSON(w, r.p)
}

func (r problemRender) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
}
