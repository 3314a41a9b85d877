package redisindex

import "strconv"

// The key layout. What each key holds is in doc.go ("Key layout"); this
// file is the one place the Go code spells the names, one helper per family
// ({P} is Index.p, "{" + Config.Prefix + "}"):
//
//	{P}:gen                genKey
//	{P}:seq                seqKey
//	{P}:log                logKey
//	{P}:shipped            shippedKey
//	{P}:clock              clockKey
//	{P}:format             formatKey
//	{P}:o:ahead            aheadKey
//	{P}:o:<day>:<part>     idsKey
//	{P}:rebuilding         rebuildingKey
//	{P}:probe              probeKey
//	{P}:lease:<name>       leaseKey
//	{P}:dead               deadKey
//	{P}:dead:dropped       droppedKey
//	{P}:g<G>               genBoard, genBoardOf: generation G's all-time board
//	<board>:s:<season>     board.season: a season board (of an all-time board)
//	<board>:b:<id/128>     board.balanceKey, board.balancePrefix
//	<board>:h1             board.h1Key
//	<board>:h2:<b>         board.h2Key, board.h2Prefix
//	<board>:n              board.rankedKey
//	<board>:top            board.topKey
//	<board>:topmin         board.topMinKey
//	<board>:*              board.pattern: every key of a board (SCAN MATCH)
//
// The scripts in lua/ get their keys in KEYS, but derive the names they ask
// for or check from KEYS[1] ({P}:gen) in Lua (lua/prelude.lua and the
// scripts after it): a name changed here must change there too.

func (x *Index) genKey() string        { return x.p + ":gen" }
func (x *Index) seqKey() string        { return x.p + ":seq" }
func (x *Index) logKey() string        { return x.p + ":log" }
func (x *Index) shippedKey() string    { return x.p + ":shipped" }
func (x *Index) clockKey() string      { return x.p + ":clock" }
func (x *Index) formatKey() string     { return x.p + ":format" }
func (x *Index) aheadKey() string      { return x.p + ":o:ahead" }
func (x *Index) rebuildingKey() string { return x.p + ":rebuilding" }
func (x *Index) probeKey() string      { return x.p + ":probe" }
func (x *Index) deadKey() string       { return x.p + ":dead" }
func (x *Index) droppedKey() string    { return x.p + ":dead:dropped" }

func (x *Index) leaseKey(name string) string { return x.p + ":lease:" + name }

// idsKey is the hash of the change ids remembered on day (days since the
// epoch) in dedupe part part (the decimal of Index.part).
func (x *Index) idsKey(day int64, part string) string {
	return x.p + ":o:" + strconv.FormatInt(day, 10) + ":" + part
}

// board is the key prefix of one board: a generation's all-time board
// ({P}:g<G>) or a season board ({P}:g<G>:s:<season>). Both have the same
// keys under it.
type board string

// genBoard returns the all-time board of generation gen, as the scripts
// report it ("1" until the first rebuild).
func (x *Index) genBoard(gen string) board { return board(x.p + ":g" + gen) }

// genBoardOf returns the all-time board of generation gen.
func (x *Index) genBoardOf(gen uint64) board { return x.genBoard(strconv.FormatUint(gen, 10)) }

// season returns the board of season name ("2026-12") beside all-time
// board g.
func (g board) season(name string) board { return g + ":s:" + board(name) }

// balanceKey is the hash of the balances of the customers whose id >>
// balanceShift is bucket.
func (g board) balanceKey(bucket uint64) string {
	return string(g) + ":b:" + strconv.FormatUint(bucket, 10)
}

// balancePrefix is what every balance hash's name starts with, before the
// bucket.
func (g board) balancePrefix() string { return string(g) + ":b:" }

// h1Key is the Fenwick tree over the score buckets.
func (g board) h1Key() string { return string(g) + ":h1" }

// h2Key is the Fenwick tree over the scores of score bucket b (its Fenwick
// index: score/BucketWidth + 1).
func (g board) h2Key(b int) string { return string(g) + ":h2:" + strconv.Itoa(b) }

// h2Prefix is what every h2Key starts with, before the bucket.
func (g board) h2Prefix() string { return string(g) + ":h2:" }

func (g board) rankedKey() string { return string(g) + ":n" }
func (g board) topKey() string    { return string(g) + ":top" }
func (g board) topMinKey() string { return string(g) + ":topmin" }

// pattern matches every key of the board (and of its season boards, for an
// all-time board), for SCAN.
func (g board) pattern() string { return string(g) + ":*" }
