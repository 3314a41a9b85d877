package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIDKey = "loyalty.requestId"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID takes the caller's X-Request-ID when it is sane, or makes one,
// and echoes it on the response.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !requestIDPattern.MatchString(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

// observe logs each request once it is answered and records its latency by
// route template and status.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	took := time.Since(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	method := methodLabel(c.Request.Method)
	s.metrics.latency.WithLabelValues(method, route, strconv.Itoa(status)).Observe(took.Seconds())
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(c.Request.Context(), level, "http request",
		slog.String("requestId", c.GetString(requestIDKey)), slog.String("method", method),
		slog.String("route", route), slog.String("path", c.Request.URL.Path), slog.Int("status", status),
		slog.Int("bytes", c.Writer.Size()), slog.Duration("took", took), slog.String("remote", c.ClientIP()))
}

// methodLabel bounds the method label of the metrics (and the logs): a
// method outside the standard set is "other", so made-up methods can't add
// series (/metrics needs no token).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// recover turns a panic into a 500 problem, logging it with its stack.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("request panicked", "requestId", c.GetString(requestIDKey), "route", c.FullPath(),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			s.problem(c, problemInternal, "Something went wrong on our side. Quote the request id if you report it.", nil)
		}
	}()
	c.Next()
}

// timeout bounds the request's context; dependencies that honour it give up
// in time and the request answers 503.
func (s *Server) timeout(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
