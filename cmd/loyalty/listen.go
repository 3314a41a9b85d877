package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/xyz/loyalty/ingest"
)

// listener is one HTTP server of serve: the API, or the admin listener.
type listener struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

// listen binds addr for handler; the caller logs "serving" once every
// listener is bound, so a probe that reads the log never races the bind.
func listen(name, addr string, handler http.Handler) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	return &listener{name: name, ln: ln, srv: &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second, IdleTimeout: 120 * time.Second}}, nil
}

// serveUntil serves every listener until ctx ends or one fails, then
// drains them within drain: in-flight requests finish, new connections are
// refused. afterDrain runs with what is left of the drain (the shipper's
// last round); it returns what went wrong, logged here.
func serveUntil(ctx context.Context, log *slog.Logger, drain time.Duration, ls []*listener, afterDrain func(ctx context.Context)) error {
	errc := make(chan error, len(ls))
	attrs := []any{}
	for _, l := range ls {
		go func() { errc <- fmt.Errorf("serve %s on %s: %w", l.name, l.ln.Addr(), l.srv.Serve(l.ln)) }()
		attrs = append(attrs, l.name, l.ln.Addr().String())
	}
	log.Info("serving", attrs...)
	var failed error
	select {
	case failed = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests", "timeout", drain)
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var errs []error
	for _, l := range ls {
		if err := l.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("shutdown %s: %w", l.name, err))
		}
	}
	if afterDrain != nil {
		afterDrain(sctx)
	}
	log.Info("stopped", "took", time.Since(start))
	return errors.Join(append([]error{failed}, errs...)...)
}

// drainLedger runs the shipper's last round within ctx and logs what it
// shipped and the backlog left (shipped by the next process that holds the
// shipper lease: nothing is lost).
func drainLedger(ctx context.Context, log *slog.Logger, s *ingest.Shipper) {
	n, err := s.Drain(ctx)
	attrs := []any{"shipped", n, "backlog", s.Backlog()}
	if err != nil {
		log.Warn("ledger not fully shipped at shutdown: the backlog stays in Redis's change log for the next shipper", append(attrs, "err", err)...)
		return
	}
	log.Info("ledger shipped at shutdown", attrs...)
}

// loopback reports whether the listen address addr is reachable from this
// host only (127.0.0.1, ::1, localhost).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
