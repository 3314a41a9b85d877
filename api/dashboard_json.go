package api

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// The dashboard is the one answer on the hot path of the API: it is written
// by hand, with the bytes encoding/json would give for dashboardResponse
// (field order, omitempty and omitzero, null slices, HTML-safe strings;
// TestDashboardJSON compares the two), without reflection and into a
// pooled buffer.

// dashboardBufs holds the buffers dashboards are written into.
var dashboardBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendJSON appends r as encoding/json would marshal it.
func (r *dashboardResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"me":`...)
	b = r.Me.appendJSON(b)
	b = append(b, `,"ranked":`...)
	b = strconv.AppendBool(b, r.Ranked)
	b = append(b, `,"tiedWith":`...)
	b = strconv.AppendInt(b, r.TiedWith, 10)
	b = append(b, `,"totalRanked":`...)
	b = strconv.AppendInt(b, r.TotalRanked, 10)
	b = append(b, `,"top":`...)
	b = appendLines(b, r.Top)
	b = append(b, `,"above":`...)
	b = appendLines(b, r.Above)
	b = append(b, `,"below":`...)
	b = appendLines(b, r.Below)
	b = append(b, `,"asOf":{"seq":`...)
	b = strconv.AppendUint(b, r.AsOf.Seq, 10)
	if r.AsOf.At != nil {
		b = append(b, `,"at":`...)
		b = appendTime(b, *r.AsOf.At)
	}
	b = append(b, `},"stale":`...)
	b = strconv.AppendBool(b, r.Stale)
	b = append(b, `,"partial":`...)
	b = strconv.AppendBool(b, r.Partial)
	b = append(b, `,"board":`...)
	b = appendString(b, r.Board)
	b = append(b, `,"customerId":`...)
	b = appendString(b, r.CustomerID)
	if !r.PointsToNextRank.IsZero() {
		b = append(b, `,"pointsToNextRank":`...)
		b = r.PointsToNextRank.appendJSON(b)
	}
	if !r.PointsToTop.IsZero() {
		b = append(b, `,"pointsToTop":`...)
		b = r.PointsToTop.appendJSON(b)
	}
	if !r.TopPercent.IsZero() {
		b = append(b, `,"topPercent":`...)
		b = r.TopPercent.appendJSON(b)
	}
	return append(b, '}')
}

func (v *rankView) appendJSON(b []byte) []byte {
	b = append(b, `{"rank":`...)
	b = strconv.AppendInt(b, v.Rank, 10)
	b = append(b, `,"proxyName":`...)
	b = appendString(b, v.ProxyName)
	b = append(b, `,"points":`...)
	b = strconv.AppendInt(b, v.Points, 10)
	if v.You {
		b = append(b, `,"you":true`...)
	}
	return append(b, '}')
}

func appendLines(b []byte, vs []rankView) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = vs[i].appendJSON(b)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string: printable ASCII as it is,
// anything else (quotes, backslashes, HTML's <, > and &, control
// characters, non-ASCII) through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with the
// fraction's trailing zeros cut). Dashboards carry UTC times of this
// century, which MarshalJSON always accepts.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func (g gapJSON) appendJSON(b []byte) []byte {
	if !g.OK {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, g.Points, 10)
}

func (p percentJSON) appendJSON(b []byte) []byte {
	if p.null {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, p.v, 'f', -1, 64)
}
