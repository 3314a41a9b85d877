package ranker

// PartialNudges exposes partialNudges to the external tests.
func PartialNudges(d *Dashboard, n int) { d.partialNudges(n) }

// TopPercent exposes topPercent.
func TopPercent(d Dashboard) float64 { return topPercent(d) }

// SetSeason records a season balance beside b, as the replica does.
func SetSeason(b *Board, name string, id uint64, points int64) {
	b.mu.Lock()
	b.setSeason(name, id, points)
	b.mu.Unlock()
}

// SeasonBoard exposes seasonBoard (what Replica.Leaderboard answers).
func SeasonBoard(b *Board, name string) *Board { return b.seasonBoard(name) }
