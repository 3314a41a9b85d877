package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/xyz/loyalty/internal/testenv"
)

// TestColdStartPartial starts `loyalty serve` on an index of 1M customers
// and reads dashboards from the moment its port listens: every one is
// answered 200, partial (exact points, rank, ties and the top 3 from the
// Redis index) until the board is loaded, full afterwards. It prints how soon
// after the port listened the first partial and the first full dashboards
// came.
func TestColdStartPartial(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	st := s.inProcess(t)
	const customers = 1_000_000
	pointsOf := func(id uint64) int64 { return int64(id*7919%1000) + 1 }
	var count [1002]int64 // customers by points
	for id := uint64(1); id <= customers; id++ {
		count[pointsOf(id)]++
	}
	start := time.Now()
	if _, err := st.index.Rebuild(t.Context(), 0, func(put func(uint64, int64) error) error {
		for id := uint64(1); id <= customers; id++ {
			if err := put(id, pointsOf(id)); err != nil {
				return err
			}
		}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d customers in %s", customers, time.Since(start).Round(time.Millisecond))

	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	logs := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(s.env, "LOYALTY_HTTP_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs)
			t.Logf("serve's log:\n%s", b)
		}
	})
	tok := testToken(t, "4242", "customer")
	const me = 4242
	p := pointsOf(me)
	var above int64
	for q := p + 1; q < int64(len(count)); q++ {
		above += count[q]
	}
	client := &http.Client{Timeout: 5 * time.Second}
	var listening, firstPartial, firstFull time.Time
	partials := 0
	for end := time.Now().Add(60 * time.Second); firstFull.IsZero(); {
		if time.Now().After(end) {
			t.Fatalf("no full dashboard 60s after start (%d partial)", partials)
		}
		req, _ := http.NewRequest("GET", "http://"+addr+"/loyalty/4242?top=3&around=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			if !listening.IsZero() {
				t.Fatalf("dashboard after the port listened: %v", err)
			}
			time.Sleep(2 * time.Millisecond)
			continue
		}
		at := time.Now()
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if listening.IsZero() {
			listening = at
		}
		if res.StatusCode != 200 {
			t.Fatalf("dashboard %s after the port listened: %d %s", at.Sub(listening), res.StatusCode, b)
		}
		var d struct {
			Me struct {
				Rank, Points int64
			}
			TiedWith, TotalRanked int64
			Top                   []json.RawMessage
			Partial               bool
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if d.Me.Points != p || d.Me.Rank != above+1 || d.TiedWith != count[p]-1 || d.TotalRanked != customers {
			t.Fatalf("dashboard (partial %v): %s; want %d points, rank %d, %d tied, %d ranked", d.Partial, b, p, above+1, count[p]-1, customers)
		}
		if len(d.Top) != 3 {
			t.Fatalf("dashboard (partial %v) without its top 3: %s", d.Partial, b)
		}
		if d.Partial {
			partials++
			if firstPartial.IsZero() {
				firstPartial = at
			}
			continue
		}
		firstFull = at
	}
	since := func(at time.Time) string {
		if at.IsZero() {
			return "never"
		}
		return fmt.Sprint(at.Sub(listening).Round(time.Millisecond))
	}
	t.Logf("board of %d customers: first dashboard answered on the port listening, first partial at +%s, %d partial dashboards, first full at +%s",
		customers, since(firstPartial), partials, since(firstFull))
}
