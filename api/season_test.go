package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestSeasonBoardOverHTTP: ?board=season answers the current month's board
// (points earned this month, a refund floored on its own), a kept previous
// month by name, all-time by default; unknown or unkept boards are 404.
func TestSeasonBoardOverHTTP(t *testing.T) {
	t.Parallel()
	e, cal := newSeasonEnv(t)
	ch := e.token(t, "pos-1", "channel")
	now := time.Now().UTC()
	last := cal.Start(now).Add(-time.Hour) // the previous month (London)
	for _, o := range []struct{ id, cust, amount string }{
		{"m1", "501", "300"}, {"m2", "502", "100"},
	} {
		want(t, e.post(t, "/order/"+o.id, ch, orderAt(o.cust, o.amount, "GBP", last.Format(time.RFC3339))), http.StatusCreated)
	}
	for _, o := range []struct{ id, cust, amount string }{
		{"n1", "502", "50"}, {"n2", "501", "20"}, {"n3", "501", "-100"}, // 501: 2 - 10 -> 0 this month
	} {
		want(t, e.post(t, "/order/"+o.id, ch, orderAt(o.cust, o.amount, "GBP", now.Add(-time.Minute).Format(time.RFC3339))), http.StatusCreated)
	}
	me := e.token(t, "501", "customer")
	type dash struct {
		Board string `json:"board"`
		Me    struct {
			Rank   int64 `json:"rank"`
			Points int64 `json:"points"`
		} `json:"me"`
		TotalRanked int64 `json:"totalRanked"`
	}
	get := func(q string, status int) dash {
		t.Helper()
		r := e.get(t, "/loyalty/501"+q, me)
		want(t, r, status)
		var d dash
		if status == http.StatusOK {
			if err := json.Unmarshal(r.Body, &d); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	// All-time: 501 has 30 + 2 - 10 = 22, 502 has 10 + 5 = 15.
	if d := get("", 200); d.Board != "all-time" || d.Me.Points != 22 || d.Me.Rank != 1 || d.TotalRanked != 2 {
		t.Fatalf("all-time: %+v", d)
	}
	// This month: 501 floored at 0 (not ranked), 502 has 5.
	if d := get("?board=season", 200); d.Board != cal.Of(now) || d.Me.Points != 0 || d.Me.Rank != 2 || d.TotalRanked != 1 {
		t.Fatalf("this season: %+v", d)
	}
	if d := get("?board="+cal.Of(last), 200); d.Board != cal.Of(last) || d.Me.Points != 30 || d.Me.Rank != 1 || d.TotalRanked != 2 {
		t.Fatalf("last season: %+v", d)
	}
	get("?board="+cal.Back(now, 3), http.StatusNotFound)
	get("?board=2026-13", http.StatusNotFound)
	get("?board=weekly", http.StatusNotFound)
}
