package ranker

// PartialNudges exposes partialNudges to the external tests.
func PartialNudges(d *Dashboard, n int) { d.partialNudges(n) }

// TopPercent exposes topPercent.
func TopPercent(d Dashboard) float64 { return topPercent(d) }
