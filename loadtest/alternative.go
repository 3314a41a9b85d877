package loadtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/api"
)

// alternative is the user's alternative over HTTP: the dashboard served by
// a plain Gin route straight from the bench's sorted set, as a team without
// the ranking index would write it. It answers what GET /loyalty/{id} of
// `loyalty serve` answers (the customer's points and competition rank, the
// tie count and board size, the top N, K above and below with their ranks,
// the nudges), names customers with the product's proxy names (api.ProxyNamer,
// HMAC-SHA256 of the id) and checks no token. Safe for concurrent use.
type alternative struct {
	rdb       *redis.Client
	zkey      string
	names     *api.ProxyNamer
	maxTop    int
	maxAround int
}

// newAlternative returns the alternative over the sorted set zkey, with a
// random proxy-name key.
func newAlternative(rdb *redis.Client, zkey string) *alternative {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &alternative{rdb: rdb, zkey: zkey, names: api.NewProxyNamer(key), maxTop: 100, maxAround: 10}
}

// altLine is one line of the alternative's dashboard.
type altLine struct {
	Rank      int64  `json:"rank"`
	ProxyName string `json:"proxyName"`
	Points    int64  `json:"points"`
}

// altDashboard is the alternative's answer, in the product's field names;
// a nudge that does not exist is null.
type altDashboard struct {
	Me               altLine   `json:"me"`
	Ranked           bool      `json:"ranked"`
	TiedWith         int64     `json:"tiedWith"`
	TotalRanked      int64     `json:"totalRanked"`
	Top              []altLine `json:"top"`
	Above            []altLine `json:"above"`
	Below            []altLine `json:"below"`
	PointsToNextRank *int64    `json:"pointsToNextRank"`
	PointsToTop      *int64    `json:"pointsToTop"`
	TopPercent       *float64  `json:"topPercent"`
}

// handler returns the alternative's Gin engine: GET /loyalty/{id}?top=N&around=K
// and GET /readyz (a constant answer: the ceiling of this server).
func (a *alternative) handler() http.Handler {
	e := gin.New()
	e.Use(gin.Recovery())
	e.GET("/readyz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/loyalty/:userId", func(c *gin.Context) {
		id, err := strconv.ParseUint(c.Param("userId"), 10, 64)
		if err != nil || id == 0 {
			c.JSON(http.StatusBadRequest, gin.H{"error": "the user id must be a positive decimal integer"})
			return
		}
		n, err1 := queryInt(c, "top", 10, 1, a.maxTop)
		k, err2 := queryInt(c, "around", 2, 0, a.maxAround)
		if err := errors.Join(err1, err2); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		d, err := a.dashboard(c.Request.Context(), id, n, k)
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the leaderboard is unavailable"})
			return
		}
		c.JSON(http.StatusOK, d)
	})
	return e
}

func queryInt(c *gin.Context, name string, def, lo, hi int) (int, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// serve starts the alternative on a free loopback port and returns its
// base URL and how to stop it.
func (a *alternative) serve() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("alternative server: %w", err)
	}
	srv := &http.Server{Handler: a.handler()}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { srv.Close(); <-done }, nil
}

// dashboard answers customer id's dashboard with the top n and k
// neighbours on each side from the sorted set: one pipeline for the
// customer's score and position, the top n and the board size; a second
// for the competition rank (ZCOUNT of higher scores, + 1), the tie count,
// the next higher score and the K above and below; and, only when those
// neighbours hold scores other than the customer's and the top's, a third
// for their ranks. Ties are ordered by member, not by id as ours are, so
// the neighbours' names may differ from ours; their points and ranks don't.
func (a *alternative) dashboard(ctx context.Context, id uint64, n, k int) (altDashboard, error) {
	m := strconv.FormatUint(id, 10)
	p := a.rdb.Pipeline()
	scoreCmd := p.ZScore(ctx, a.zkey, m)
	posCmd := p.ZRevRank(ctx, a.zkey, m)
	topCmd := p.ZRevRangeWithScores(ctx, a.zkey, 0, int64(n)-1)
	cardCmd := p.ZCard(ctx, a.zkey)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return altDashboard{}, err
	}
	ranked := scoreCmd.Err() == nil
	s, pos, total := int64(scoreCmd.Val()), posCmd.Val(), cardCmd.Val()
	d := altDashboard{Ranked: ranked, TotalRanked: total}
	rankOf := map[int64]int64{} // competition rank by score
	for i, z := range topCmd.Val() {
		pts := int64(z.Score)
		if _, ok := rankOf[pts]; !ok {
			rankOf[pts] = int64(i) + 1
		}
		d.Top = append(d.Top, altLine{Rank: rankOf[pts], ProxyName: a.names.Name(member(z)), Points: pts})
	}

	p = a.rdb.Pipeline()
	var higherCmd, tiedCmd *redis.IntCmd
	var nextCmd, windowCmd *redis.ZSliceCmd
	ss := strconv.FormatInt(s, 10)
	if ranked {
		higherCmd = p.ZCount(ctx, a.zkey, "("+ss, "+inf")
		tiedCmd = p.ZCount(ctx, a.zkey, ss, ss)
		nextCmd = p.ZRangeByScoreWithScores(ctx, a.zkey, &redis.ZRangeBy{Min: "(" + ss, Max: "+inf", Count: 1})
		windowCmd = p.ZRevRangeWithScores(ctx, a.zkey, max(0, pos-int64(k)), pos+int64(k))
	} else {
		nextCmd = p.ZRangeWithScores(ctx, a.zkey, 0, 0) // the lowest score on the board
		if k > 0 {
			windowCmd = p.ZRevRangeWithScores(ctx, a.zkey, -int64(k), -1) // the bottom of the board
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		return altDashboard{}, err
	}
	higher := total
	if ranked {
		higher = higherCmd.Val()
		d.TiedWith = tiedCmd.Val() - 1
		rankOf[s] = higher + 1
	}
	d.Me = altLine{Rank: higher + 1, ProxyName: a.names.Name(id), Points: s}
	var window []redis.Z
	if windowCmd != nil {
		window = windowCmd.Val()
	}
	var unknown []int64
	for _, z := range window {
		if _, ok := rankOf[int64(z.Score)]; !ok {
			unknown = append(unknown, int64(z.Score))
			rankOf[int64(z.Score)] = 0
		}
	}
	if len(unknown) > 0 {
		p = a.rdb.Pipeline()
		counts := make([]*redis.IntCmd, len(unknown))
		for i, u := range unknown {
			counts[i] = p.ZCount(ctx, a.zkey, "("+strconv.FormatInt(u, 10), "+inf")
		}
		if _, err := p.Exec(ctx); err != nil {
			return altDashboard{}, err
		}
		for i, u := range unknown {
			rankOf[u] = counts[i].Val() + 1
		}
	}
	split := len(window) // unranked: the whole window is above
	if ranked {
		split = int(pos - max(0, pos-int64(k)))
	}
	for i, z := range window {
		l := altLine{Rank: rankOf[int64(z.Score)], ProxyName: a.names.Name(member(z)), Points: int64(z.Score)}
		switch {
		case i < split:
			d.Above = append(d.Above, l)
		case i > split:
			d.Below = append(d.Below, l)
		}
	}

	// The nudges, by the product's rules (ranker/nudge.go).
	if d.Me.Rank > 1 {
		if next := nextCmd.Val(); len(next) > 0 {
			gap := int64(next[0].Score) - s
			d.PointsToNextRank = &gap
		}
	}
	var toTop int64
	switch {
	case ranked && d.Me.Rank <= int64(n):
	case total < int64(n):
		toTop = 1
	default:
		toTop = max(d.Top[n-1].Points-s, 1)
	}
	d.PointsToTop = &toTop
	if ranked {
		pct := percentile(higher+d.TiedWith+1, total)
		d.TopPercent = &pct
	}
	return d, nil
}

// member returns a sorted-set member's customer id (0 if it is not one).
func member(z redis.Z) uint64 {
	s, _ := z.Member.(string)
	id, _ := strconv.ParseUint(s, 10, 64)
	return id
}

// percentile is 100*atLeast/total rounded up to one decimal, or to two
// significant digits below 1%: the product's topPercent.
func percentile(atLeast, total int64) float64 {
	num, den := 100*atLeast, total
	decimals, scale := 1, int64(10)
	for num*scale/10 < den && decimals < 15 {
		decimals++
		scale *= 10
	}
	return float64((num*scale+den-1)/den) / float64(scale)
}
