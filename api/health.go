package api

import (
	"context"
	_ "embed"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

//go:embed openapi.json
var openapiDoc []byte

// healthResponse answers /healthz and /readyz.
type healthResponse struct {
	Status string        `json:"status"` // "ok" or "unavailable"
	Checks []checkResult `json:"checks"`
}

type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "up" or "down"
}

// livez answers 200 while the process serves HTTP at all: the liveness
// probe. It checks no dependency, so an outage of Redis or ClickHouse never
// gets a process restarted.
func (s *Server) livez(c *gin.Context) {
	s.health(c, []checkResult{{Name: "process", Status: "up"}})
}

// healthz reports the process and each dependency; 503 when one is down.
// It is for monitoring (which dependency is down), not a liveness probe
// (/livez) nor a readiness probe (/readyz). The reasons are logged, not
// shown.
func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), min(s.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	res := make([]checkResult, 1+len(s.deps.Checks))
	res[0] = checkResult{Name: "process", Status: "up"}
	var wg sync.WaitGroup
	for i, ch := range s.deps.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i+1] = checkResult{Name: ch.Name, Status: "up"}
			if err := ch.Check(ctx); err != nil {
				res[i+1].Status = "down"
				s.log.Warn("health check failed", "requestId", c.GetString(requestIDKey), "dependency", ch.Name, "err", err)
			}
		}()
	}
	wg.Wait()
	s.health(c, res)
}

// readyz answers 200 once the ranker can serve dashboards and no
// dependency is configured unsafely (Deps.Settings: a Redis that may evict
// keys). It depends on nothing else: dashboards keep answering while the ledger is down, and
// while the Redis primary is (marked stale, as long as the board is younger
// than the ranker's staleness limit).
func (s *Server) readyz(c *gin.Context) {
	r := checkResult{Name: "ranker", Status: "up"}
	if !s.deps.Ranker.Ready() {
		r.Status = "down"
	}
	res := []checkResult{r}
	if s.deps.Settings != nil {
		st := checkResult{Name: "settings", Status: "up"}
		if s.deps.Settings() != nil {
			st.Status = "down"
		}
		res = append(res, st)
	}
	s.health(c, res)
}

func (s *Server) health(c *gin.Context, res []checkResult) {
	h := healthResponse{Status: "ok", Checks: res}
	status := http.StatusOK
	for _, r := range res {
		if r.Status != "up" {
			h.Status, status = "unavailable", http.StatusServiceUnavailable
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(status, h)
}

// openapi serves the API description.
func (s *Server) openapi(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", openapiDoc)
}
