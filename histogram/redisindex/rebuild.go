package redisindex

import (
	"container/heap"
	"context"
	"slices"

	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/ledger"
)

// Rebuild recreates the index in a new generation while the current one
// keeps serving: load must put every customer's balance as of ledger seq upTo
// (the sum of their deltas); Rebuild then adds the deltas of the change log
// after upTo and switches generations in
// one script, so no change is lost or applied twice. The old generation is
// deleted afterwards. It returns the new generation. Only one rebuild may run
// at a time (a lock key guards it).
func (x *Index) Rebuild(ctx context.Context, upTo uint64, load func(put func(id uint64, points int64) error) error, seasons []SeasonLoad) (uint64, error) {
	ok, err := x.rdb.SetNX(ctx, x.rebuildingKey(), time.Now().Unix(), 6*time.Hour).Result()
	if err != nil {
		return 0, unavailable("lock rebuild", err)
	}
	if !ok {
		return 0, fmt.Errorf("another rebuild is running (key %s); wait for it, or delete the key if it died", x.rebuildingKey())
	}
	defer x.rdb.Del(context.WithoutCancel(ctx), x.rebuildingKey())
	old, err := x.Generation(ctx)
	if err != nil {
		return 0, err
	}
	gen := old + 1
	if err := x.dropGeneration(ctx, gen); err != nil {
		return 0, err
	}
	first, err := x.FirstLogSeq(ctx)
	if err != nil {
		return 0, err
	}
	if first > upTo+1 {
		return 0, fmt.Errorf("rebuild: the change log starts at seq %d but the ledger ends at %d: changes in between are in neither; ship the log to the ledger first", first, upTo)
	}
	g := strconv.FormatUint(gen, 10)
	gp := x.genBoard(g)
	if err := x.bulkLoad(ctx, gp, load); err != nil {
		return 0, fmt.Errorf("rebuild generation %d: %w", gen, err)
	}
	for _, sl := range seasons {
		sb := gp.season(sl.Season)
		if err := x.bulkLoad(ctx, sb, sl.Load); err != nil {
			return 0, fmt.Errorf("rebuild generation %d, season %s: %w", gen, sl.Season, err)
		}
		if err := x.expireBoard(ctx, sb, sl.Season); err != nil {
			return 0, err
		}
	}
	args := []any{g, "add"}
	var keys []string
	flush := func() error {
		if len(args) == 2 {
			return nil
		}
		_, err := x.run(ctx, setScript, append(keys, x.histKeys(g, nil)...), false, args...)
		args, keys = args[:2], keys[:0]
		return unavailable("catch up", err)
	}
	entryKeys := func(ks []string, e histogram.LogEntry) []string {
		ks = append(ks, gp.balanceKey(e.CustomerID>>balanceShift))
		if e.Season != "" {
			sb := gp.season(e.Season)
			ks = append(append(ks, sb.balanceKey(e.CustomerID>>balanceShift)), x.boardKeys(sb, nil)...)
		}
		return ks
	}
	last := upTo
	for {
		entries, err := x.ReadLog(ctx, last, 5000, 0)
		if err != nil {
			return 0, err
		}
		if len(entries) < logCatchUp {
			ks := append([]string{x.seqKey(), x.shippedKey(), x.logKey()}, x.histKeys(g, nil)...)
			for _, e := range entries {
				ks = entryKeys(ks, e)
			}
			v, err := x.run(ctx, switchScript, ks, false, g, last, upTo, logCatchUp)
			if err != nil {
				return 0, unavailable("switch generation", err)
			}
			if replyString(v, 1) == "0" {
				break
			}
		}
		for _, e := range entries {
			args = append(args, e.CustomerID, e.CustomerID>>balanceShift, e.Delta, e.Season, e.SeasonDelta)
			keys = entryKeys(keys, e)
			last = e.Seq
		}
		if err := flush(); err != nil {
			return 0, err
		}
	}
	return gen, x.dropGeneration(ctx, old)
}

// SeasonLoad loads one season board in a rebuild: Load must put every
// customer's balance on the board of Season as of the rebuild's seq.
type SeasonLoad struct {
	Season string
	Load   func(put func(id uint64, points int64) error) error
}

// expireBoard sets the expiry of the season board with key prefix sb, as
// writes do (Config.Seasons, Config.SeasonsKept).
func (x *Index) expireBoard(ctx context.Context, sb board, name string) error {
	start, ok := x.cfg.Seasons.StartOf(name)
	if !ok {
		return fmt.Errorf("season %q is not a %s season of the configured calendar", name, x.cfg.Seasons.Period())
	}
	at := x.cfg.Seasons.ExpiresAt(start, x.cfg.SeasonsKept)
	var cursor uint64
	for {
		keys, next, err := x.rdb.Scan(ctx, cursor, sb.pattern(), 5000).Result()
		if err != nil {
			return unavailable("scan season board", err)
		}
		pipe := x.rdb.Pipeline()
		for _, k := range keys {
			pipe.ExpireAt(ctx, k, at)
		}
		if len(keys) > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return unavailable("expire season board", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// dropGeneration deletes every key of generation gen.
func (x *Index) dropGeneration(ctx context.Context, gen uint64) error {
	match := x.genBoardOf(gen).pattern()
	var cursor uint64
	for {
		keys, next, err := x.rdb.Scan(ctx, cursor, match, 5000).Result()
		if err != nil {
			return unavailable("scan generation", err)
		}
		if len(keys) > 0 {
			if err := x.rdb.Unlink(ctx, keys...).Err(); err != nil {
				return unavailable("drop generation", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Remember restores the memory of change ids applied within the dedupe
// window, from ledger entries: after Redis lost its data, rebuild the
// balances and then call Remember with the ledger's recent entries, so a
// retry of a recent order is still recognised.
func (x *Index) Remember(ctx context.Context, entries []ledger.Entry) error {
	args := make([]any, 0, 1+11*len(entries))
	args = append(args, x.cfg.DedupeDays)
	keys := []string{x.clockKey(), x.formatKey(), x.seqKey()}
	for _, e := range entries {
		// The memory day, as the apply script chose it.
		at := e.RecordedAt
		if e.TimeBoundsApplication() && e.OccurredAt.After(at) {
			at = e.OccurredAt
		}
		day := at.Unix() / daySeconds
		part := x.part(e.ID)
		args = append(args, e.ID, idField(e.ID), part, day, e.Digest, packDigest(e.Digest), e.Seq, e.Delta, e.Balance, e.RecordedAt.Unix(), e.Points)
		keys = append(keys, x.idsKey(day, strconv.FormatUint(uint64(part), 10)))
	}
	_, err := x.run(ctx, rememberScript, keys, false, args...)
	return unavailable("remember change ids", err)
}

// bulkLoad writes the balances load puts into board g of a generation
// nobody reads yet: balances with pipelined HSETs (one per run of customers
// sharing a hash), the histogram built in memory and written as whole
// strings.
func (x *Index) bulkLoad(ctx context.Context, g board, load func(put func(id uint64, points int64) error) error) error {
	counts := map[int64]int32{}
	top := &topHeap{}
	pipe := x.rdb.Pipeline()
	queued := 0
	var key string
	var fields []any
	send := func() error {
		if len(fields) > 0 {
			pipe.HSet(ctx, key, fields...)
			queued++
			fields = fields[:0]
		}
		if queued < 256 {
			return nil
		}
		queued = 0
		_, err := pipe.Exec(ctx)
		return unavailable("load balances", err)
	}
	err := load(func(id uint64, points int64) error {
		if points < 0 || points > histogram.MaxPoints {
			return fmt.Errorf("customer %d: balance %d out of range", id, points)
		}
		if points == 0 {
			return nil
		}
		k := g.balanceKey(id >> balanceShift)
		if k != key {
			if err := send(); err != nil {
				return err
			}
			key = k
		}
		fields = append(fields, id, points)
		top.add(id, points)
		counts[points]++
		return nil
	})
	if err != nil {
		return err
	}
	queued = 256
	if err := send(); err != nil {
		return err
	}
	// The histogram: the same Fenwick trees as histogram.Counts, one
	// big-endian i32 a cell (BITFIELD's layout).
	hist := histogram.NewCounts()
	for s, n := range counts {
		hist.Add(s, n)
	}
	min, members := top.list(counts)
	pipe.Set(ctx, g.topMinKey(), min, 0)
	if len(members) > 0 {
		pipe.ZAdd(ctx, g.topKey(), members...)
	}
	if err := hist.Trees(func(b int, cells []int32) error {
		key := g.h1Key()
		if b > 0 {
			key = g.h2Key(b)
		}
		pipe.Set(ctx, key, cellBytes(cells), 0)
		return nil
	}); err != nil {
		return err
	}
	pipe.Set(ctx, g.rankedKey(), hist.Total(), 0)
	_, err = pipe.Exec(ctx)
	return unavailable("load histogram", err)
}

// cellBytes encodes Fenwick cells as BITFIELD reads them: big-endian i32,
// cell i-1 holding index i.
func cellBytes(cells []int32) []byte {
	out := make([]byte, 4*len(cells))
	for i, c := range cells {
		binary.BigEndian.PutUint32(out[4*i:], uint32(c))
	}
	return out
}

// topHeap keeps the TopCap highest balances seen (a min-heap), for the top
// list a bulk load writes.
type topHeap []redis.Z

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return h[i].Score < h[j].Score }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(v any)        { *h = append(*h, v.(redis.Z)) }
func (h *topHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

func (h *topHeap) add(id uint64, points int64) {
	if h.Len() < TopCap {
		heap.Push(h, redis.Z{Score: float64(points), Member: id})
	} else if float64(points) > (*h)[0].Score {
		(*h)[0] = redis.Z{Score: float64(points), Member: id}
		heap.Fix(h, 0)
	}
}

// list returns the top list's minimum and members: the lowest score min such
// that at most TopCap customers have min points or more (counts: customers
// per score), and those customers, all in the heap.
func (h *topHeap) list(counts map[int64]int32) (int64, []redis.Z) {
	scores := make([]int64, 0, len(counts))
	for s := range counts {
		scores = append(scores, s)
	}
	slices.Sort(scores)
	min, n := int64(1), 0
	for i := len(scores) - 1; i >= 0; i-- {
		if n+int(counts[scores[i]]) > TopCap {
			min = scores[i] + 1
			break
		}
		n += int(counts[scores[i]])
	}
	var members []redis.Z
	for _, z := range *h {
		if int64(z.Score) >= min {
			members = append(members, z)
		}
	}
	return min, members
}
