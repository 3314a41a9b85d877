package api

import "github.com/gin-gonic/gin"

// EngineOf exposes the Gin engine to the benchmarks, which add a trivial
// route to it.
func EngineOf(s *Server) *gin.Engine { return s.engine }
