package ranker

// The nudges of a dashboard (NextRank, ToTop, TopPercent) come from what the
// dashboard already holds, so they share its snapshot: Me's rank and points,
// Tied, Total and the top N (whose N-th line is the score a customer must
// reach for a rank of at most N).

// toTop returns the fewest points d.Me would add for a rank of at most n,
// from d's Me, Total and Top (the first n in board order).
func toTop(d Dashboard, n int) Gap {
	if n < 1 {
		return Gap{None: true}
	}
	if d.Ranked && d.Me.Rank <= int64(n) {
		return points(0)
	}
	// With s points a customer not counted among the others ranks
	// 1 + (others above s): at most n once s reaches the n-th score.
	if d.Total < int64(n) {
		return points(1) // only an unranked customer gets here: any point is enough
	}
	if len(d.Top) < n {
		return Gap{} // a partial dashboard without its top list
	}
	return points(max(d.Top[n-1].Points-d.Me.Points, 1))
}

// topPercent returns the percentage of the board with at least d.Me's
// points, rounded up to one decimal or to two significant digits below 1%;
// 0 when d.Me is not ranked.
func topPercent(d Dashboard) float64 {
	atLeast := d.Me.Rank - 1 + d.Tied
	if !d.Ranked || d.Total <= 0 || atLeast <= 0 {
		return 0
	}
	// v = 100*atLeast/Total. Below 1%, one more decimal for every factor of
	// ten (two significant digits); integers only, so the rounding is exact.
	num, den := 100*atLeast, d.Total
	decimals, scale := 1, int64(10)
	for num*scale/10 < den && decimals < 15 { // v < 10^-(decimals-1)
		decimals++
		scale *= 10
	}
	up := (num*scale + den - 1) / den
	return float64(up) / float64(scale)
}

// partialNudges sets NextRank and ToTop of a partial dashboard for the top n
// where its top list answers them exactly (they stay unknown otherwise), and
// leaves TopPercent unknown: Tied comes from a second read of Redis, not from
// the snapshot of Me, Total and Top.
func (d *Dashboard) partialNudges(n int) {
	d.ToTop = toTop(*d, n)
	if d.Me.Rank == 1 {
		d.NextRank = Gap{None: true}
		return
	}
	// The Top holds every customer above Me when it holds Rank-1 lines
	// above Me's points; the last of them has the next higher score.
	above := 0
	for above < len(d.Top) && d.Top[above].Points > d.Me.Points {
		above++
	}
	if len(d.Top) > 0 && int64(above) == d.Me.Rank-1 {
		d.NextRank = points(d.Top[above-1].Points - d.Me.Points)
	}
}
