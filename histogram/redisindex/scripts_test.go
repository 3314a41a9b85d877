package redisindex_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/internal/testenv"
)

// TestScriptsLoad loads every script into a real Redis: each compiles.
func TestScriptsLoad(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t).Addr})
	t.Cleanup(func() { rdb.Close() })
	for name, s := range redisindex.Scripts() {
		if err := s.Load(testenv.Context(t), rdb).Err(); err != nil {
			t.Errorf("script %s: %v", name, err)
		}
	}
}
