package redisindex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/ledger"
)

// ErrUnavailable wraps every failure to reach Redis, or of Redis to take a
// command now: it is of the class ledger.ErrUnavailable (sending the same
// request again is safe, and may pass).
var ErrUnavailable = ledger.NewError(ledger.ErrUnavailable, "redis unavailable")

// unavailable translates err, go-redis's error of op, into the package's
// own, once for every call site: ErrUnavailable when Redis was not reached
// or could not take the command now (see transient); otherwise an error of
// no class, a fault (a script error, a wrong type, a reply that is not what
// the command returns), which sending again would not cure. The driver's
// text is kept, its types are not (nothing outside the package depends on
// them).
func unavailable(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case transient(err):
		return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %v", op, err)
}

// transient reports whether err means Redis was not reached or not able to
// take the command now: the network (refused, reset, timed out), the
// client's pool or a closed client, the caller's context, go-redis's own
// untyped connection errors (a desynchronised connection, no sentinel
// reachable), or a reply saying to come back (LOADING, READONLY after a
// failover, MASTERDOWN, TRYAGAIN, CLUSTERDOWN, NOREPLICAS, OOM from a full
// Redis under noeviction, max clients, BUSY with a slow script).
func transient(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsMasterDownError(err), redis.IsTryAgainError(err),
		redis.IsClusterDownError(err), redis.IsNoReplicasError(err), redis.IsOOMError(err), redis.IsMaxClientsError(err),
		redis.HasErrorPrefix(err, "BUSY "):
		return true
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return false
	}
	// go-redis reports these without a type; its message is all there is.
	msg := err.Error()
	return strings.HasPrefix(msg, "redis: connection") || strings.HasPrefix(msg, "redis: all sentinels")
}

// ErrEvicting means Redis may evict keys under memory pressure: remembered
// order ids (which expire) and balances could vanish silently, and replays
// would count again. The index refuses to run on it.
var ErrEvicting = errors.New("redis may evict keys")
