package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xyz/loyalty/ranker"
)

// Leaderboards gives the in-memory boards staff page through and describe
// (ranker.Replica, ranker.Local). A Ranker that is also a Leaderboards gets
// the routes GET /leaderboard and GET /leaderboard/distribution.
type Leaderboards interface {
	// Leaderboard returns the all-time board (season "") or the board of
	// season name; ranker.ErrNotReady while no board is loaded.
	Leaderboard(season string) (*ranker.Board, error)
}

// Paging and distribution limits.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
	maxOffset        = 1_000_000_000_000
	defaultBuckets   = 20
	maxBuckets       = 100
)

// staffLine is one line of the board as staff see it: the customer id too,
// so that customer service can open the dashboard or add points.
type staffLine struct {
	Rank       int64  `json:"rank"`
	ProxyName  string `json:"proxyName"`
	Points     int64  `json:"points"`
	CustomerID string `json:"customerId"`
}

// leaderboardResponse answers GET /leaderboard.
type leaderboardResponse struct {
	Board       string      `json:"board"`
	Offset      int64       `json:"offset"`
	Limit       int         `json:"limit"`
	TotalRanked int64       `json:"totalRanked"`
	Entries     []staffLine `json:"entries"`
	// NextOffset is the offset of the next page, null on the last.
	NextOffset *int64 `json:"nextOffset"`
	AsOf       asOf   `json:"asOf"`
}

// bucketView is one score range of a distribution.
type bucketView struct {
	From  int64 `json:"from"`
	To    int64 `json:"to"`
	Count int64 `json:"count"`
}

// distributionResponse answers GET /leaderboard/distribution.
type distributionResponse struct {
	Board       string           `json:"board"`
	TotalRanked int64            `json:"totalRanked"`
	Min         int64            `json:"min"`
	Max         int64            `json:"max"`
	Buckets     []bucketView     `json:"buckets"`
	Quantiles   map[string]int64 `json:"quantiles"`
	AsOf        asOf             `json:"asOf"`
}

// quantileName names ranker.Quantiles in answers.
func quantileName(q float64) string {
	perTenThousand := math.Round(q * 10_000)
	return "p" + strconv.FormatFloat(perTenThousand/100, 'f', -1, 64)
}

// leaderboard reads ?board= and returns that board; on failure it has
// answered (404 for an unknown board, 503 while no board is loaded).
func (s *Server) leaderboard(c *gin.Context, lb Leaderboards) (string, *ranker.Board, bool) {
	name, ok := s.board(c)
	if !ok {
		return "", nil, false
	}
	season := name
	if name == allTime {
		season = ""
	}
	b, err := lb.Leaderboard(season)
	if err != nil {
		s.fail(c, err)
		return "", nil, false
	}
	return name, b, true
}

// getLeaderboard pages through a board (staff): ?offset= (from 0) and
// ?limit= (1 to 1,000) lines in board order.
func (s *Server) getLeaderboard(lb Leaderboards) gin.HandlerFunc {
	return func(c *gin.Context) {
		offset, ok := s.queryOffset(c)
		if !ok {
			return
		}
		limit, ok := s.queryInt(c, "limit", defaultPageLimit, 1, maxPageLimit)
		if !ok {
			return
		}
		name, b, ok := s.leaderboard(c, lb)
		if !ok {
			return
		}
		pg := b.Page(offset, limit)
		r := leaderboardResponse{Board: name, Offset: offset, Limit: limit, TotalRanked: pg.Total,
			Entries: make([]staffLine, len(pg.Entries)), AsOf: asOfView(pg.Seq, pg.At)}
		for i, e := range pg.Entries {
			r.Entries[i] = staffLine{Rank: e.Rank, ProxyName: s.names.Name(e.CustomerID), Points: e.Points,
				CustomerID: strconv.FormatUint(e.CustomerID, 10)}
		}
		if next := offset + int64(len(pg.Entries)); len(pg.Entries) == limit && next < pg.Total {
			r.NextOffset = &next
		}
		c.Header("Cache-Control", "private, no-store")
		c.JSON(http.StatusOK, r)
	}
}

// getDistribution describes a board (staff): counts per log-spaced score
// range (?buckets=, 1 to 100) and the quantiles.
func (s *Server) getDistribution(lb Leaderboards) gin.HandlerFunc {
	return func(c *gin.Context) {
		buckets, ok := s.queryInt(c, "buckets", defaultBuckets, 1, maxBuckets)
		if !ok {
			return
		}
		name, b, ok := s.leaderboard(c, lb)
		if !ok {
			return
		}
		d := b.Distribution(buckets)
		r := distributionResponse{Board: name, TotalRanked: d.Total, Min: d.Min, Max: d.Max,
			Buckets: make([]bucketView, len(d.Buckets)), Quantiles: make(map[string]int64, len(d.Quantiles)), AsOf: asOfView(d.Seq, d.At)}
		for i, bk := range d.Buckets {
			r.Buckets[i] = bucketView{From: bk.Lo, To: bk.Hi, Count: bk.Count}
		}
		for _, q := range d.Quantiles {
			r.Quantiles[quantileName(q.Q)] = q.Points
		}
		c.Header("Cache-Control", "private, no-store")
		c.JSON(http.StatusOK, r)
	}
}

// queryOffset reads ?offset=, an integer from 0 (the first line); on
// failure it has answered 400.
func (s *Server) queryOffset(c *gin.Context) (int64, bool) {
	v, present := c.GetQuery("offset")
	if !present {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxOffset || v == "" || v[0] == '+' {
		reason := fmt.Sprintf("must be an integer from 0 (the first line) to %d", int64(maxOffset))
		s.problem(c, problemBadRequest, "Query parameter offset "+reason+".", []FieldIssue{{"offset", reason}})
		return 0, false
	}
	return n, true
}

// asOfView names the last change a snapshot includes.
func asOfView(seq uint64, at time.Time) asOf {
	v := asOf{Seq: seq}
	if !at.IsZero() {
		t := at.UTC().Truncate(time.Millisecond)
		v.At = &t
	}
	return v
}
