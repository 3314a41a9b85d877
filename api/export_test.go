package api

import (
	"time"

	"github.com/gin-gonic/gin"
)

// EngineOf exposes the Gin engine to the benchmarks, which add a trivial
// route to it.
func EngineOf(s *Server) *gin.Engine { return s.engine }

// SetClock replaces the clock s checks token expiry with, so a test moves
// time instead of sleeping. Call it before s serves a request.
func SetClock(s *Server, now func() time.Time) { s.auth.now = now }
