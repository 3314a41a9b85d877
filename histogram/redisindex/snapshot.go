package redisindex

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Reading a board's balances in bulk (Scan, ScanSeason) is what a ranker
// replica's cold start waits for, so it is built for speed:
//   - one SCAN lists the board's balance hashes (key names only, cheap), and
//     their bucket numbers (customer id >> 7) are sorted;
//   - snapshotReaders connections read the hashes in batches of snapshotBatch
//     with pipelined DUMP: Redis copies each hash's listpack out as it is
//     (about 8 us of Redis CPU for 128 customers, against 20 us for HGETALL,
//     which formats 256 replies), and the listpack is decoded here;
//   - a hash whose DUMP is not a listpack hash (another Redis version or
//     encoding) or does not decode is read with HGETALL instead, so the
//     result never depends on the DUMP format;
//   - the batches are handed to fn in bucket order, each hash's customers
//     sorted: fn sees every customer once, in ascending id order, which lets
//     the ranker build its board in bulk.
const (
	snapshotReaders = 4
	snapshotBatch   = 64 // hashes per pipeline (8,192 customers)
)

// rdbTypeHashListpack is the RDB type byte of a hash kept as a listpack
// (Redis 7.0 and later).
const rdbTypeHashListpack = 16

// snapshotBuckets returns the bucket numbers of the balance hashes of board
// g, ascending and each once (SCAN may return a key twice).
func (x *Index) snapshotBuckets(ctx context.Context, g board) ([]uint64, error) {
	prefix := g.balancePrefix()
	var out []uint64
	var cursor uint64
	for {
		keys, next, err := x.rdb.Scan(ctx, cursor, prefix+"*", 10_000).Result()
		if err != nil {
			return nil, unavailable("scan balances", err)
		}
		for _, k := range keys {
			b, err := strconv.ParseUint(strings.TrimPrefix(k, prefix), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("balance hash %q: not %s<id/%d>: %w", k, prefix, balancesPerHash, err)
			}
			out = append(out, b)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// balance is one customer's balance read from a hash.
type balance struct {
	id     uint64
	points int64
}

// snapshotBatchResult is one batch's balances, in ascending id order.
type snapshotBatchResult struct {
	bals []balance
	err  error
}

// scanBoard calls fn for every balance of board g, in ascending customer id
// order, each customer once; not a snapshot (a change during the read may or
// may not be seen). fn runs on the caller's goroutine.
func (x *Index) scanBoard(ctx context.Context, g board, fn func(id uint64, points int64) error) error {
	buckets, err := x.snapshotBuckets(ctx, g)
	if err != nil {
		return err
	}
	nb := (len(buckets) + snapshotBatch - 1) / snapshotBatch
	if nb == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	results := make([]chan snapshotBatchResult, nb)
	for i := range results {
		results[i] = make(chan snapshotBatchResult, 1)
	}
	// A reader takes a token before it takes a batch, and the consumer hands
	// it back once it has used that batch: at most 2*snapshotReaders batches
	// are decoded ahead of fn, and the oldest outstanding batch always has a
	// reader.
	tokens := make(chan struct{}, 2*snapshotReaders)
	// Used batches' slices go back to the readers (a load would otherwise
	// allocate 16 bytes per customer more, at 50M 800 MB of garbage).
	free := make(chan []balance, 3*snapshotReaders)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(snapshotReaders, nb) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := snapshotReader{x: x, board: g}
			for {
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
				i := int(next.Add(1) - 1)
				if i >= nb {
					<-tokens
					return
				}
				var bals []balance
				select {
				case bals = <-free:
				default:
				}
				bals, err := rd.read(ctx, bals[:0], buckets[i*snapshotBatch:min((i+1)*snapshotBatch, len(buckets))])
				results[i] <- snapshotBatchResult{bals, err}
			}
		}()
	}
	// On the way out, stop the readers first (one may wait for a token the
	// consumer will never hand back), then wait for them.
	defer func() { cancel(); wg.Wait() }()
	for i := range nb {
		var r snapshotBatchResult
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		for _, b := range r.bals {
			if err := fn(b.id, b.points); err != nil {
				return err
			}
		}
		select {
		case free <- r.bals:
		default:
		}
		<-tokens
	}
	return nil
}

// snapshotReader reads batches of balance hashes on one pipeline. Not safe
// for concurrent use.
type snapshotReader struct {
	x     *Index
	board board
	buf   []byte // decompressed listpack
}

// read appends to out the balances of the hashes of buckets (ascending), in
// ascending id order. Hashes whose DUMP is refused or does not decode are
// read with one pipeline of HGETALLs and merged in their place.
func (rd *snapshotReader) read(ctx context.Context, out []balance, buckets []uint64) ([]balance, error) {
	keys := make([]string, len(buckets))
	pipe := rd.x.rdb.Pipeline()
	dumps := make([]*redis.StringCmd, len(buckets))
	for i, b := range buckets {
		keys[i] = rd.board.balanceKey(b)
		dumps[i] = pipe.Dump(ctx, keys[i])
	}
	if _, err := pipe.Exec(ctx); err != nil && !refused(err) {
		return nil, unavailable("read balances", err)
	}
	base := len(out)
	out = slices.Grow(out, len(buckets)*balancesPerHash)
	ends := make([]int, len(buckets)) // where each hash's balances end in out
	var failed []int                  // hashes to read with HGETALL
	for i, c := range dumps {
		payload, err := c.Result()
		start := len(out)
		switch {
		case errors.Is(err, redis.Nil):
			// Deleted since the SCAN: every balance in it went to 0.
		case refused(err): // DUMP not allowed (an ACL, a managed service)
			failed = append(failed, i)
		case err != nil:
			return nil, unavailable("read balances", err)
		default:
			if out, err = rd.decode(out, payload, buckets[i]); err != nil {
				out = out[:start]
				failed = append(failed, i)
			}
			sortByID(out[start:])
		}
		ends[i] = len(out)
	}
	if len(failed) == 0 {
		return out, nil
	}
	pipe = rd.x.rdb.Pipeline()
	all := make([]*redis.MapStringStringCmd, len(failed))
	for j, i := range failed {
		all[j] = pipe.HGetAll(ctx, keys[i])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable("read balances", err)
	}
	merged := make([]balance, 0, len(out)-base+len(failed)*balancesPerHash)
	prev, j := base, 0
	for i := range buckets {
		merged = append(merged, out[prev:ends[i]]...)
		prev = ends[i]
		if j < len(failed) && failed[j] == i {
			start := len(merged)
			var err error
			if merged, err = appendFields(merged, all[j].Val(), keys[i], buckets[i]); err != nil {
				return nil, err
			}
			sortByID(merged[start:])
			j++
		}
	}
	return append(out[:base], merged...), nil
}

func sortByID(bs []balance) {
	if !slices.IsSortedFunc(bs, byID) {
		slices.SortFunc(bs, byID)
	}
}

func byID(a, b balance) int { return cmp.Compare(a.id, b.id) }

// refused reports an error reply of Redis itself (a command it refused), or
// a nil reply, rather than a failure to reach it.
func refused(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// appendFields appends the balances of one hash read with HGETALL.
func appendFields(out []balance, m map[string]string, key string, bucket uint64) ([]balance, error) {
	for f, v := range m {
		id, e1 := strconv.ParseUint(f, 10, 64)
		p, e2 := strconv.ParseInt(v, 10, 64)
		if err := errors.Join(e1, e2); err != nil {
			return nil, fmt.Errorf("balance %q=%q in %s: %w", f, v, key, err)
		}
		if id>>balanceShift != bucket {
			return nil, fmt.Errorf("balance of customer %d in %s, the hash of customers %d to %d", id, key, bucket<<balanceShift, bucket<<balanceShift+balancesPerHash-1)
		}
		out = append(out, balance{id, p})
	}
	return out, nil
}

var errNotListpack = errors.New("not a listpack hash")

// decode appends the balances of one hash from its DUMP payload: the RDB
// type byte, the listpack as an RDB string (LZF-compressed or not), the RDB
// version (2 bytes) and a CRC64 (8 bytes). Anything else, or a listpack that
// does not hold customer ids of bucket with their points, is an error.
func (rd *snapshotReader) decode(out []balance, payload string, bucket uint64) ([]balance, error) {
	if len(payload) < 1+10 || payload[0] != rdbTypeHashListpack {
		return out, errNotListpack
	}
	lp, rest, err := rd.rdbString(payload[1 : len(payload)-10])
	if err != nil || len(rest) != 0 {
		return out, errors.Join(errNotListpack, err)
	}
	return decodeListpack(out, lp, bucket)
}

// rdbString decodes an RDB string at the start of s (a plain length or LZF;
// not the integer encodings, which a listpack never gets) and returns it and
// what follows it.
func (rd *snapshotReader) rdbString(s string) ([]byte, string, error) {
	n, s, enc, err := rdbLen(s)
	if err != nil {
		return nil, "", err
	}
	if !enc {
		if uint64(len(s)) < n {
			return nil, "", errors.New("string longer than the payload")
		}
		rd.buf = append(rd.buf[:0], s[:n]...)
		return rd.buf, s[n:], nil
	}
	if n != 3 { // RDB_ENC_LZF
		return nil, "", fmt.Errorf("string encoding %d", n)
	}
	clen, s, enc1, err := rdbLen(s)
	if err != nil {
		return nil, "", err
	}
	ulen, s, enc2, err := rdbLen(s)
	if err != nil || enc1 || enc2 || uint64(len(s)) < clen || ulen > 1<<30 {
		return nil, "", errors.Join(errors.New("bad LZF header"), err)
	}
	if rd.buf, err = lzfDecompress(rd.buf[:0], s[:clen], int(ulen)); err != nil {
		return nil, "", err
	}
	return rd.buf, s[clen:], nil
}

// rdbLen decodes an RDB length; enc reports a special encoding, whose number
// is n.
func rdbLen(s string) (n uint64, rest string, enc bool, err error) {
	if len(s) == 0 {
		return 0, "", false, errors.New("truncated length")
	}
	switch b := s[0]; b >> 6 {
	case 0:
		return uint64(b & 0x3f), s[1:], false, nil
	case 1:
		if len(s) < 2 {
			return 0, "", false, errors.New("truncated length")
		}
		return uint64(b&0x3f)<<8 | uint64(s[1]), s[2:], false, nil
	case 3:
		return uint64(b & 0x3f), s[1:], true, nil
	}
	switch {
	case s[0] == 0x80 && len(s) >= 5:
		return uint64(binary.BigEndian.Uint32([]byte(s[1:5]))), s[5:], false, nil
	case s[0] == 0x81 && len(s) >= 9:
		return binary.BigEndian.Uint64([]byte(s[1:9])), s[9:], false, nil
	}
	return 0, "", false, errors.New("bad length")
}

// lzfDecompress appends to dst the LZF data in (liblzf's format, as Redis
// writes it) that decompresses to exactly n bytes.
func lzfDecompress(dst []byte, in string, n int) ([]byte, error) {
	dst = slices.Grow(dst, n)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // a literal run of ctrl+1 bytes
			ctrl++
			if i+ctrl > len(in) || len(dst)+ctrl > n {
				return nil, errors.New("LZF literal overruns")
			}
			dst = append(dst, in[i:i+ctrl]...)
			i += ctrl
			continue
		}
		l := ctrl >> 5 // a back reference of l+2 bytes
		if l == 7 {
			if i >= len(in) {
				return nil, errors.New("LZF truncated")
			}
			l += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, errors.New("LZF truncated")
		}
		ref := len(dst) - (ctrl&0x1f)<<8 - 1 - int(in[i])
		i++
		l += 2
		if ref < 0 || len(dst)+l > n {
			return nil, errors.New("LZF reference out of range")
		}
		if ref+l <= len(dst) {
			dst = append(dst, dst[ref:ref+l]...)
			continue
		}
		for k := range l { // overlaps what it appends
			dst = append(dst, dst[ref+k])
		}
	}
	if len(dst) != n {
		return nil, fmt.Errorf("LZF gave %d bytes, not %d", len(dst), n)
	}
	return dst, nil
}

// decodeListpack appends the field/value pairs of a hash's listpack as
// balances: every field a customer id of bucket, every value its points.
func decodeListpack(out []balance, lp []byte, bucket uint64) ([]balance, error) {
	if len(lp) < 7 || int(binary.LittleEndian.Uint32(lp)) != len(lp) || lp[len(lp)-1] != 0xff {
		return out, errors.New("listpack: bad header")
	}
	count := int(binary.LittleEndian.Uint16(lp[4:]))
	p := lp[6 : len(lp)-1]
	seen := 0
	var id uint64
	for len(p) > 0 {
		v, isInt, s, size, err := listpackEntry(p)
		if err != nil {
			return out, err
		}
		p = p[size:]
		if seen%2 == 0 {
			switch {
			case isInt && v >= 0:
				id = uint64(v)
			case isInt:
				return out, fmt.Errorf("listpack: customer id %d", v)
			default:
				if id, err = strconv.ParseUint(string(s), 10, 64); err != nil {
					return out, fmt.Errorf("listpack: customer id %q is not a number", s)
				}
			}
			if id>>balanceShift != bucket {
				return out, fmt.Errorf("listpack: customer %d is not in bucket %d", id, bucket)
			}
		} else {
			if !isInt {
				if v, err = strconv.ParseInt(string(s), 10, 64); err != nil {
					return out, fmt.Errorf("listpack: balance %q is not a number", s)
				}
			}
			out = append(out, balance{id, v})
		}
		seen++
	}
	if seen%2 != 0 || (count != 0xffff && count != seen) {
		return out, fmt.Errorf("listpack: %d entries, header says %d", seen, count)
	}
	return out, nil
}

// listpackEntry decodes the entry at the start of p: an integer (isInt) or a
// string s, and the entry's size including its back-length.
func listpackEntry(p []byte) (v int64, isInt bool, s []byte, size int, err error) {
	b := p[0]
	var n int // encoding + data
	switch {
	case b < 0x80: // 7-bit unsigned
		v, isInt, n = int64(b), true, 1
	case b < 0xc0: // 6-bit string length
		n = 1 + int(b&0x3f)
		if n <= len(p) {
			s = p[1:n]
		}
	case b < 0xe0: // 13-bit signed
		if len(p) >= 2 {
			v = int64(b&0x1f)<<8 | int64(p[1])
			if v >= 1<<12 {
				v -= 1 << 13
			}
		}
		isInt, n = true, 2
	case b < 0xf0: // 12-bit string length
		if len(p) >= 2 {
			n = 2 + (int(b&0x0f)<<8 | int(p[1]))
			if n <= len(p) {
				s = p[2:n]
			}
		} else {
			n = 2
		}
	case b == 0xf0: // 32-bit string length
		if len(p) >= 5 {
			l := binary.LittleEndian.Uint32(p[1:])
			if l > uint32(len(p)) {
				return 0, false, nil, 0, errors.New("listpack: string overruns")
			}
			n = 5 + int(l)
			if n <= len(p) {
				s = p[5:n]
			}
		} else {
			n = 5
		}
	case b == 0xf1 && len(p) >= 3:
		v, isInt, n = int64(int16(binary.LittleEndian.Uint16(p[1:]))), true, 3
	case b == 0xf2 && len(p) >= 4:
		v, isInt, n = int64(int32(uint32(p[1])|uint32(p[2])<<8|uint32(p[3])<<16)<<8)>>8, true, 4
	case b == 0xf3 && len(p) >= 5:
		v, isInt, n = int64(int32(binary.LittleEndian.Uint32(p[1:]))), true, 5
	case b == 0xf4 && len(p) >= 9:
		v, isInt, n = int64(binary.LittleEndian.Uint64(p[1:])), true, 9
	default:
		return 0, false, nil, 0, fmt.Errorf("listpack: encoding byte %#x", b)
	}
	size = n + backlenSize(n)
	if size > len(p) {
		return 0, false, nil, 0, errors.New("listpack: entry overruns")
	}
	return v, isInt, s, size, nil
}

// backlenSize is how many bytes a listpack entry's back-length takes for an
// entry of n bytes.
func backlenSize(n int) int {
	switch {
	case n < 1<<7:
		return 1
	case n < 1<<14:
		return 2
	case n < 1<<21:
		return 3
	case n < 1<<28:
		return 4
	}
	return 5
}
