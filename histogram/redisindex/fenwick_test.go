package redisindex_test

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/internal/oracle"
	"github.com/xyz/loyalty/internal/testenv"
)

// checkTrees compares the Fenwick trees the Lua scripts wrote for board
// (e.g. "{P}:g1") with histogram.Counts built from the oracle's balances,
// cell for cell: the Lua arithmetic and the Go arithmetic are one.
func checkTrees(t *testing.T, rdb *redis.Client, board string, o *oracle.Oracle) {
	t.Helper()
	ctx := testenv.Context(t)
	want := histogram.NewCounts()
	for _, p := range o.Bal {
		if p > 0 {
			want.Add(p, 1)
		}
	}
	seen := map[string]bool{}
	err := want.Trees(func(b int, cells []int32) error {
		key := board + ":h1"
		if b > 0 {
			key = board + ":h2:" + strconv.Itoa(b)
		}
		seen[key] = true
		got, err := rdb.Get(ctx, key).Bytes()
		if err != nil && err != redis.Nil {
			return err
		}
		exp := make([]byte, 4*len(cells))
		for i, c := range cells {
			binary.BigEndian.PutUint32(exp[4*i:], uint32(c))
		}
		// BITFIELD grows a string only as far as its highest cell written.
		got = append(got, make([]byte, max(0, len(exp)-len(got)))...)
		if !bytes.Equal(got, exp) {
			for i := 0; i < len(cells); i++ {
				if g := int32(binary.BigEndian.Uint32(got[4*i:])); g != cells[i] {
					t.Fatalf("%s: cell %d is %d in Redis, %d in histogram.Counts", key, i+1, g, cells[i])
				}
			}
			t.Fatalf("%s: %d bytes in Redis, %d in histogram.Counts", key, len(got), len(exp))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A score tree Counts doesn't have must be all zeros (a bucket emptied).
	keys, err := rdb.Keys(ctx, strings.ReplaceAll(board, "{", "\\{")+":h2:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		v, err := rdb.Get(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.Trim(v, "\x00")) != 0 {
			t.Fatalf("%s: a score tree with customers Redis has and histogram.Counts does not", k)
		}
	}
}
