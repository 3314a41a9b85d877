package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xyz/loyalty/ranker"
)

// rankView is one dashboard line as a customer sees it.
type rankView struct {
	Rank      int64  `json:"rank"`
	ProxyName string `json:"proxyName"`
	Points    int64  `json:"points"`
	You       bool   `json:"you,omitempty"`
}

// dashboardResponse answers GET /loyalty/{userId}.
type dashboardResponse struct {
	Me          rankView   `json:"me"`
	Ranked      bool       `json:"ranked"`
	TiedWith    int64      `json:"tiedWith"`
	TotalRanked int64      `json:"totalRanked"`
	Top         []rankView `json:"top"`
	Above       []rankView `json:"above"`
	Below       []rankView `json:"below"`
	AsOf        asOf       `json:"asOf"`
	// Stale is true when the latest change could not be confirmed in time
	// (the Redis primary is down or failing over): the dashboard is what this
	// process had applied as of AsOf, and may miss later changes.
	Stale bool `json:"stale"`
	// Partial is true while the serving process is still loading its board:
	// me, tiedWith, totalRanked and top come from the Redis index, exact;
	// above and below are empty until the board is loaded.
	Partial bool `json:"partial"`
	// Board is the board answered: "all-time", or a season's name
	// ("2026-12").
	Board string `json:"board"`
	// CustomerID is whose dashboard it is (the id in the path): a staff
	// reader sees it here, as lines say "you" only to the customer.
	CustomerID string `json:"customerId"`
	// PointsToNextRank is the fewest points to add for a better rank (null
	// at rank 1); PointsToTop the fewest for a rank of at most N, the top
	// asked for (0 when there); TopPercent the percentage of the board with
	// at least the customer's points (null without points). On a partial
	// dashboard a value the Redis index can't give exactly is left out.
	PointsToNextRank gapJSON     `json:"pointsToNextRank,omitzero"`
	PointsToTop      gapJSON     `json:"pointsToTop,omitzero"`
	TopPercent       percentJSON `json:"topPercent,omitzero"`

	at time.Time // what AsOf.At points to
}

// gapJSON writes a ranker.Gap: a number, null (there is no such gap) or,
// with omitzero, nothing (unknown: a partial dashboard).
type gapJSON ranker.Gap

// IsZero reports an unknown gap.
func (g gapJSON) IsZero() bool { return !g.OK && !g.None }

// MarshalJSON writes the number or null.
func (g gapJSON) MarshalJSON() ([]byte, error) { return g.appendJSON(nil), nil }

// percentJSON writes topPercent: a number (never in exponent form), null
// (the customer has no points) or, with omitzero, nothing (unknown).
type percentJSON struct {
	v    float64
	null bool
}

// IsZero reports an unknown percentage.
func (p percentJSON) IsZero() bool { return p.v == 0 && !p.null }

// MarshalJSON writes the number or null.
func (p percentJSON) MarshalJSON() ([]byte, error) { return p.appendJSON(nil), nil }

// allTime names the all-time board in ?board= and in answers.
const allTime = "all-time"

// asOf names the last change a dashboard includes.
type asOf struct {
	Seq uint64 `json:"seq"`
	// At is when the serving process applied that change (RFC 3339, UTC);
	// absent before any change.
	At *time.Time `json:"at,omitempty"`
}

// staleHeader says "true" on a dashboard answered from memory without
// confirming the latest change (see dashboardResponse.Stale), else "false".
const staleHeader = "Loyalty-Stale"

// userID reads and checks the {userId} path parameter; on failure it has
// answered 400.
func (s *Server) userID(c *gin.Context) (uint64, bool) {
	id, ok := parseCustomerID(c.Param("userId"))
	if !ok {
		s.problem(c, problemBadRequest, "The user id in the path is not acceptable.", []FieldIssue{{"userId", customerIDRule}})
	}
	return id, ok
}

// readableUserID is userID for a route the customer themself or staff may
// read: another customer's id is answered 403.
func (s *Server) readableUserID(c *gin.Context) (uint64, bool) {
	id, ok := s.userID(c)
	if !ok {
		return 0, false
	}
	if p := principalOf(c); p.Role == RoleCustomer && p.Subject != c.Param("userId") {
		s.forbidden(c)
		return 0, false
	}
	return id, true
}

// queryInt reads an optional integer query parameter within [lo, hi]; on
// failure it has answered 400 naming the allowed range.
func (s *Server) queryInt(c *gin.Context, name string, def, lo, hi int) (int, bool) {
	v, present := c.GetQuery(name)
	if !present {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi || len(v) > 4 {
		s.problem(c, problemBadRequest, fmt.Sprintf("Query parameter %s must be an integer from %d to %d.", name, lo, hi),
			[]FieldIssue{{name, fmt.Sprintf("must be an integer from %d to %d", lo, hi)}})
		return 0, false
	}
	return n, true
}

// getDashboard answers the dashboard: a customer reads their own, staff
// anyone's.
func (s *Server) getDashboard(c *gin.Context) {
	id, ok := s.readableUserID(c)
	if !ok {
		return
	}
	n, ok := s.queryInt(c, "top", s.cfg.DefaultTop, 1, s.cfg.MaxTop)
	if !ok {
		return
	}
	k, ok := s.queryInt(c, "around", s.cfg.DefaultAround, 0, s.cfg.MaxAround)
	if !ok {
		return
	}
	board, ok := s.board(c)
	if !ok {
		return
	}
	var d ranker.Dashboard
	var err error
	if board == allTime {
		d, err = s.deps.Ranker.Dashboard(c.Request.Context(), id, n, k)
	} else {
		d, err = s.deps.Ranker.SeasonDashboard(c.Request.Context(), board, id, n, k)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h["Cache-Control"] = privateNoStore
	h[staleHeader] = staleValues[d.Stale]
	h["Content-Type"] = jsonUTF8
	v := dashboardViews.Get().(*dashboardResponse)
	s.view(v, d, principalOf(c).Role == RoleCustomer)
	v.Board = board
	v.CustomerID = c.Param("userId")
	buf := dashboardBufs.Get().(*[]byte)
	*buf = v.appendJSON((*buf)[:0])
	dashboardViews.Put(v)
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(*buf)
	dashboardBufs.Put(buf)
}

// The dashboard's header values, shared by every answer (never modified).
var (
	privateNoStore = []string{"private, no-store"}
	jsonUTF8       = []string{"application/json; charset=utf-8"}
	staleValues    = map[bool][]string{false: {"false"}, true: {"true"}}
)

// board reads ?board=: all-time (the default), season (the current season)
// or a kept season's name; on failure it has answered 404 saying which
// boards there are.
func (s *Server) board(c *gin.Context) (string, bool) {
	b := c.Query("board")
	if b == "" || b == allTime {
		return allTime, true
	}
	cal := s.deps.Seasons.Calendar
	if !cal.Enabled() {
		s.problem(c, problemBoardNotFound, "There are no season boards (seasons are off): use board=all-time.", []FieldIssue{{"board", "must be all-time"}})
		return "", false
	}
	now := time.Now()
	if b == "season" {
		return cal.Of(now), true
	}
	oldest, current := cal.Back(now, s.deps.Seasons.Kept), cal.Of(now)
	if !cal.Valid(b) || b < oldest || b > current {
		s.problem(c, problemBoardNotFound, fmt.Sprintf("No board %q: use all-time, season (now %s) or a season from %s to %s.", cutQuery(b), current, oldest, current),
			[]FieldIssue{{"board", fmt.Sprintf("must be all-time, season or a season from %s to %s", oldest, current)}})
		return "", false
	}
	return b, true
}

// problemBoardNotFound answers a dashboard of a board that does not exist.
var problemBoardNotFound = problemKind{"board-not-found", "Board not found", http.StatusNotFound}

func cutQuery(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// dashboardViews holds the dashboardResponses answers are built in.
var dashboardViews = sync.Pool{New: func() any { return new(dashboardResponse) }}

// view sets r to what the customer may see of d: proxy names, never ids.
// The customer's own lines say "you" when the reader is that customer
// (own, not a staff reader). It reuses r's line slices.
func (s *Server) view(r *dashboardResponse, d ranker.Dashboard, own bool) {
	me := d.Me.CustomerID
	line := func(e ranker.Entry) rankView {
		return rankView{Rank: e.Rank, ProxyName: s.names.Name(e.CustomerID), Points: e.Points, You: own && e.CustomerID == me}
	}
	lines := func(out []rankView, es []ranker.Entry) []rankView {
		if out == nil {
			out = make([]rankView, 0, len(es)) // never nil: no lines is [], not null
		}
		out = out[:0]
		for _, e := range es {
			out = append(out, line(e))
		}
		return out
	}
	top := r.Top[:0]
	if top == nil {
		top = make([]rankView, 0, len(d.Top))
	}
	for i, name := range s.names.topNames(d.Top) {
		e := d.Top[i]
		top = append(top, rankView{Rank: e.Rank, ProxyName: name, Points: e.Points, You: own && e.CustomerID == me})
	}
	tied := d.Tied
	if d.Ranked {
		tied-- // others with the same points
	}
	*r = dashboardResponse{
		Me: line(d.Me), Ranked: d.Ranked, TiedWith: tied, TotalRanked: d.Total,
		Top: top, Above: lines(r.Above, d.Above), Below: lines(r.Below, d.Below), AsOf: asOf{Seq: d.Seq}, Stale: d.Stale, Partial: d.Partial,
		PointsToNextRank: gapJSON(d.NextRank), PointsToTop: gapJSON(d.ToTop), TopPercent: percentJSON{v: d.TopPercent, null: !d.Ranked},
	}
	if !d.At.IsZero() {
		r.at = d.At.UTC().Truncate(time.Millisecond)
		r.AsOf.At = &r.at
	}
	r.Me.You = own
}
