package redisindex

import (
	"slices"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/internal/testenv"
)

// dumpCases are balance hashes as Redis DUMPs them: small ones (stored
// plain) and full ones (LZF-compressed), ids and points of every integer
// width a listpack uses, and a field Redis keeps as a string ("0099").
var dumpCases = []struct {
	bucket uint64
	bals   map[string]int64
}{
	{0, map[string]int64{"1": 5}},
	{0, map[string]int64{"3": 1, "127": 100, "0099": 7}},
	{1, map[string]int64{"128": -4000, "200": 4000, "255": 32767}},
	{1 << 13, map[string]int64{strconv.FormatUint(1<<20, 10): 1 << 23, strconv.FormatUint(1<<20+5, 10): 1 << 30}},
	{1 << 33, map[string]int64{strconv.FormatUint(1<<40+1, 10): histogram.MaxPoints}},
	{1<<57 - 1, map[string]int64{strconv.FormatUint(1<<64-1, 10): 1}},
	{1000, full(1000, 1)},
	{77, full(77, 1_000_003)},
	{5000, full(5000, 0)}, // the same points for all: compresses
}

// full returns a hash of all 128 customers of bucket, points from mul.
func full(bucket uint64, mul int64) map[string]int64 {
	m := map[string]int64{}
	for i := range uint64(balancesPerHash) {
		m[strconv.FormatUint(bucket<<balanceShift+i, 10)] = (int64(i)*mul)%(histogram.MaxPoints-1) + 1
	}
	return m
}

// dumps writes the cases to a real Redis and returns their DUMP payloads.
func dumps(t testing.TB) []string {
	t.Helper()
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := testenv.Context(t)
	var out []string
	for i, c := range dumpCases {
		key := "b" + strconv.Itoa(i)
		for f, v := range c.bals {
			if err := rdb.HSet(ctx, key, f, v).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if enc := rdb.ObjectEncoding(ctx, key).Val(); enc != "listpack" {
			t.Fatalf("case %d is a %s, not a listpack", i, enc)
		}
		d, err := rdb.Dump(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestDecodeDump: every DUMP payload of a listpack hash decodes to its
// balances, compressed or not, so Scan reads them without HGETALL.
func TestDecodeDump(t *testing.T) {
	t.Parallel()
	var rd snapshotReader
	compressed := 0
	for i, d := range dumps(t) {
		if d[1] == 0xc3 {
			compressed++
		}
		c := dumpCases[i]
		got, err := rd.decode(nil, d, c.bucket)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var want []balance
		for f, v := range c.bals {
			id, _ := strconv.ParseUint(f, 10, 64)
			want = append(want, balance{id, v})
		}
		slices.SortFunc(want, byID)
		slices.SortFunc(got, byID)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: got %v, want %v", i, got, want)
		}
		// Another bucket's hash is refused, not misread.
		if _, err := rd.decode(nil, d, c.bucket+1); err == nil {
			t.Fatalf("case %d: decoded as bucket %d", i, c.bucket+1)
		}
	}
	if compressed == 0 {
		t.Fatal("no case was LZF-compressed")
	}
}

// FuzzDecodeDump: any payload either decodes to customers of the bucket or
// is refused (and read with HGETALL); it never panics.
func FuzzDecodeDump(f *testing.F) {
	for _, c := range []string{"", "\x10", "\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(c, uint64(0))
	}
	for i, d := range dumps(f) {
		f.Add(d, dumpCases[i].bucket)
	}
	f.Fuzz(func(t *testing.T, payload string, bucket uint64) {
		var rd snapshotReader
		got, err := rd.decode(nil, payload, bucket)
		if err != nil {
			return
		}
		for _, b := range got {
			if b.id>>balanceShift != bucket {
				t.Fatalf("customer %d decoded in bucket %d", b.id, bucket)
			}
		}
	})
}
