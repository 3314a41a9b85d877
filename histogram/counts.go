package histogram

// Bucket math shared by the Redis index and its in-memory mirror.
const (
	// BucketBits is log2 of the bucket width: a bucket holds 4096 scores.
	BucketBits = 12
	// BucketWidth is the number of scores in a bucket.
	BucketWidth = 1 << BucketBits
	// MaxPoints is the largest balance the index holds (2^31 - 1).
	MaxPoints = 1<<31 - 1
	// Buckets is the number of buckets: scores 0..MaxPoints.
	Buckets = (MaxPoints + 1) / BucketWidth
)

// bucketOf returns the 1-based Fenwick index of score s's bucket and the
// 1-based index of s inside it.
func bucketOf(s int64) (b, j int) {
	return int(s>>BucketBits) + 1, int(s&(BucketWidth-1)) + 1
}

// Counts is the in-memory form of the two-level histogram: a Fenwick tree of
// per-bucket counts and, for each non-empty bucket, a Fenwick tree of
// per-score counts. It answers "how many customers have at most s points" in
// about 19+12 additions. Not safe for concurrent use.
type Counts struct {
	l1    []int32 // 1-based Fenwick over buckets; l1[0] unused
	l2    map[int][]int32
	total int64
}

// NewCounts returns an empty histogram (2 MB for the bucket tree).
func NewCounts() *Counts {
	return &Counts{l1: make([]int32, Buckets+1), l2: make(map[int][]int32)}
}

// Add adds d (may be negative) customers at score s (s >= 1).
func (c *Counts) Add(s int64, d int32) {
	b, j := bucketOf(s)
	for i := b; i <= Buckets; i += i & -i {
		c.l1[i] += d
	}
	t := c.l2[b]
	if t == nil {
		t = make([]int32, BucketWidth+1)
		c.l2[b] = t
	}
	for i := j; i <= BucketWidth; i += i & -i {
		t[i] += d
	}
	c.total += int64(d)
}

// AtMost returns the number of customers with at most s points (s >= 0).
func (c *Counts) AtMost(s int64) int64 {
	if s > MaxPoints {
		return c.total
	}
	b, j := bucketOf(s)
	var n int64
	for i := b - 1; i > 0; i -= i & -i {
		n += int64(c.l1[i])
	}
	if t := c.l2[b]; t != nil {
		for i := j; i > 0; i -= i & -i {
			n += int64(t[i])
		}
	}
	return n
}

// Above returns the number of customers with strictly more than s points.
func (c *Counts) Above(s int64) int64 { return c.total - c.AtMost(s) }

// Total returns the number of customers counted.
func (c *Counts) Total() int64 { return c.total }

// Trees calls fn with the bucket tree (bucket 0) and then each non-empty
// bucket's score tree (bucket b = Fenwick index, 1-based), as Fenwick cells:
// cells[i-1] holds index i. This is the layout the Redis adapter stores (one
// big-endian i32 a cell), so a store built from Counts answers exactly as
// Counts does. The slices are Counts' own: read them, don't keep them.
func (c *Counts) Trees(fn func(bucket int, cells []int32) error) error {
	if err := fn(0, c.l1[1:]); err != nil {
		return err
	}
	for b, t := range c.l2 {
		if err := fn(b, t[1:]); err != nil {
			return err
		}
	}
	return nil
}
