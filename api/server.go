package api

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/gin-gonic/gin"
)

// Server is the HTTP API. Build it with New; it is safe for concurrent use.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	auth    *authenticator
	names   *ProxyNamer
	metrics *metrics
	engine  *gin.Engine
}

// New validates cfg and returns the API over deps. It uses Gin in whatever
// mode the process set (gin.SetMode(gin.ReleaseMode) in production).
func New(cfg Config, deps Deps, log *slog.Logger) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Ranker == nil || deps.Writer == nil {
		return nil, errors.New("api: Deps.Ranker and Deps.Writer are required")
	}
	auth, err := newAuthenticator(cfg.Auth)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, deps: deps, log: log, auth: auth, names: NewProxyNamer(cfg.ProxyKey)}
	s.metrics = newMetrics(deps)
	s.engine = s.routes()
	return s, nil
}

// Handler returns the HTTP handler serving every route (/metrics too,
// unless Config.AdminOnlyMetrics).
func (s *Server) Handler() http.Handler { return s.engine }

// AdminHandler returns the handler of the admin listener: /metrics, the
// probes and Go's pprof under /debug/pprof/. Serve it on an address only
// operators reach.
func (s *Server) AdminHandler() http.Handler {
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.ContextWithFallback = true
	e.Use(s.requestID, s.recover)
	e.NoRoute(func(c *gin.Context) {
		s.problem(c, problemNotFound, "The admin listener serves /metrics, /livez, /readyz, /healthz and /debug/pprof/.", nil)
	})
	e.GET("/metrics", s.metricsHandler())
	e.GET("/livez", s.livez)
	e.GET("/readyz", s.readyz)
	e.GET("/healthz", s.healthz)
	e.GET("/debug/pprof/*name", gin.WrapF(pprofHandler))
	return e
}

// pprofHandler serves net/http/pprof's index and profiles.
func pprofHandler(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}

func (s *Server) routes() *gin.Engine {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.UseRawPath = true // percent-encoded slashes stay inside an order id
	e.UnescapePathValues = true
	e.ContextWithFallback = true
	_ = e.SetTrustedProxies(nil)
	e.Use(s.requestID, s.observe, s.recover, s.timeout)
	e.NoRoute(func(c *gin.Context) {
		s.problem(c, problemNotFound, "There is no such route; see /openapi.json.", nil)
	})
	e.NoMethod(func(c *gin.Context) {
		m := c.Request.Method
		if methodLabel(m) == "other" {
			m = "this method" // a made-up method is not echoed back, whatever its length
		}
		s.problem(c, problemMethod, "This route does not accept "+m+"; see the Allow header.", nil)
	})

	e.POST("/order/:orderId", s.authenticate(RoleChannel), s.postOrder)
	e.PUT("/order/:orderId", s.authenticate(RoleChannel, RoleStaff), s.putOrder)
	e.GET("/loyalty/:userId", s.authenticate(RoleCustomer, RoleStaff), s.getDashboard)
	e.POST("/loyalty/:userId", s.authenticate(RoleStaff), s.postPoints)
	if lb, ok := s.deps.Ranker.(Leaderboards); ok {
		e.GET("/leaderboard", s.authenticate(RoleStaff), s.getLeaderboard(lb))
		e.GET("/leaderboard/distribution", s.authenticate(RoleStaff), s.getDistribution(lb))
	}
	e.GET("/livez", s.livez)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if !s.cfg.AdminOnlyMetrics {
		e.GET("/metrics", s.metricsHandler())
	}
	e.GET("/openapi.json", s.openapi)
	if s.deps.History != nil {
		e.GET("/loyalty/:userId/history", s.authenticate(RoleCustomer, RoleStaff), s.getHistory)
	}
	if s.cfg.DevSignIn {
		e.GET("/dev/token", s.getDevToken)
		e.POST("/dev/token", s.postDevToken)
	}
	if s.deps.Page != nil {
		page := gin.WrapH(s.deps.Page)
		e.GET("/", page)
		e.GET("/app/*file", page)
	}
	return e
}
