package histogram

// LogEntry is one applied change as a store's change log gives it to the
// ranker: enough to move a customer on the boards.
type LogEntry struct {
	Seq        uint64
	CustomerID uint64
	Balance    int64 // after the change
	Delta      int64 // applied
	// Season, SeasonBalance and SeasonDelta: the season board the change
	// moved ("" for none), its balance there after the change, and the
	// change applied there.
	Season        string
	SeasonBalance int64
	SeasonDelta   int64
}

// Place is a customer's place from a store's histogram alone (no board in
// memory): exact points and rank, and the top list, but no neighbours.
type Place struct {
	Points  int64
	Above   int64 // customers with strictly more points
	Ranked  int64 // customers with more than 0 points
	Top     []TopEntry
	TopFull bool // Top holds every customer down to the lowest points in it, and at least as many as asked
}

// TopEntry is one customer of the top list.
type TopEntry struct {
	CustomerID uint64
	Points     int64
}
