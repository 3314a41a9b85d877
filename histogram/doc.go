// Package histogram is the score histogram every ranking store shares: the
// bucket constants, MaxPoints, and Counts, the two-level Fenwick tree that
// answers "how many customers have at most s points" in about 31 additions.
// It also holds the values the stores hand to the ranker (LogEntry, Place).
// It imports no storage driver: the Redis adapter (package
// histogram/redisindex) keeps the same trees as BITFIELD strings, written
// by its Lua scripts and tested equal, cell for cell, to Counts; the ranker
// and the embedded store keep them in memory.
//
// # Bucket math
//
// Scores run from 0 to MaxPoints (2^31-1). Score s is in bucket
// b = s/BucketWidth (Fenwick index b+1) at offset j = s mod BucketWidth
// (index j+1). "Customers with at most s points" is the prefix sum of the
// bucket tree over the buckets before b (at most 19 cells: the approximate
// rank, exact to the bucket) plus the prefix sum of bucket b's score tree up
// to j (at most 12 cells: exact). The rank is 1 + (ranked - atMost(s)).
package histogram
