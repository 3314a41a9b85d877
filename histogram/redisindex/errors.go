package redisindex

import (
	"errors"
	"fmt"
)

// ErrUnavailable wraps every failure to reach Redis.
var ErrUnavailable = errors.New("redis unavailable")

func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
}

// ErrEvicting means Redis may evict keys under memory pressure: remembered
// order ids (which expire) and balances could vanish silently, and replays
// would count again. The index refuses to run on it.
var ErrEvicting = errors.New("redis may evict keys")
