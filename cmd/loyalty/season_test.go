package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/writecontract"
)

// TestSeasonsRebuildReconcile: orders across a month boundary land on their
// season boards; reconcile compares the season boards with the ledger too
// (a season balance changed behind its back is reported, with its season),
// and rebuild recreates them from the ledger.
func TestSeasonsRebuildReconcile(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	cal := writecontract.Calendar()
	now := time.Now()
	this, last := cal.Start(now).Add(time.Minute), cal.Start(now).Add(-time.Hour)
	if this.After(now) {
		this = now
	}
	rows := []struct {
		id, cust, amount string
		at               time.Time
	}{
		{"S-1", "801", "300", last}, {"S-2", "802", "120", last},
		{"S-3", "801", "50", this}, {"S-4", "802", "200", this}, {"S-5", "801", "-90", this}, // 801 this season: 5 - 9 -> 0
	}
	var b strings.Builder
	b.WriteString("order_id,customer_id,channel,store_id,amount,currency,item_ids,purchased_at\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,store,LDN-01,%s,GBP,85123A,%s\n", r.id, r.cust, r.amount, r.at.UTC().Format(time.RFC3339))
	}
	file := filepath.Join(t.TempDir(), "orders.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := s.run(t, "ingest", file); code != 0 {
		t.Fatalf("ingest: exit %d\n%s", code, out)
	}
	out, code := s.run(t, "reconcile")
	if code != 0 || !strings.Contains(out, "2 season boards") {
		t.Fatalf("reconcile: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	seasonKey := func(gen int, season string) string {
		return fmt.Sprintf("{%s}:g%d:s:%s:b:%d", s.prefix, gen, season, 801>>7)
	}
	want := map[string]string{cal.Of(last): "30", cal.Of(this): ""} // 801 is off this season's board (0)
	for season, w := range want {
		got, _ := s.rdb.HGet(ctx, seasonKey(1, season), "801").Result()
		if got != w {
			t.Fatalf("801 on %s: %q, want %q", season, got, w)
		}
	}
	if err := s.rdb.HSet(ctx, seasonKey(1, cal.Of(last)), "801", 999).Err(); err != nil {
		t.Fatal(err)
	}
	out, code = s.run(t, "reconcile")
	if code != 3 || !strings.Contains(out, cal.Of(last)+",801,999,30") {
		t.Fatalf("reconcile with a season balance changed: exit %d, want 3 naming %s,801\n%s", code, cal.Of(last), out)
	}
	if out, code := s.run(t, "rebuild"); code != 0 || !strings.Contains(out, "2 season boards") {
		t.Fatalf("rebuild: exit %d\n%s", code, out)
	}
	if out, code := s.run(t, "reconcile"); code != 0 {
		t.Fatalf("reconcile after rebuild: exit %d\n%s", code, out)
	}
	for season, w := range want {
		got, _ := s.rdb.HGet(ctx, seasonKey(2, season), "801").Result()
		if got != w {
			t.Fatalf("after rebuild, 801 on %s: %q, want %q", season, got, w)
		}
	}
}
