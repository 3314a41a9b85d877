package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// demo is `loyalty serve` on the embedded store, as `make run` starts it,
// with a fresh data directory.
type demo struct {
	*server
	env []string
}

func startDemo(t *testing.T) *demo {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOYALTY_") {
			env = append(env, kv)
		}
	}
	env = append(env, "LOYALTY_DATA_DIR="+t.TempDir(), "LOYALTY_LOG_LEVEL=warn")
	d := &demo{server: startServe(t, env), env: env}
	d.waitReady(t, 15*time.Second)
	return d
}

// browser is a headless Chromium tab for one test. On failure it keeps a
// screenshot of the page and names it in the failure message.
type browser struct {
	t    *testing.T
	ctx  context.Context
	shot string
	mu   sync.Mutex
	errs []string // uncaught exceptions, console errors and CSP refusals of the page
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found on PATH: install Debian's chromium (scripts/test.sh, which `make test` runs, installs it)")
	}
	// Chromium leaves an org.chromium.Chromium.* directory in its TMPDIR:
	// the test's own, removed when it ends.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true), chromedp.Env("TMPDIR="+t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shot: filepath.Join(os.TempDir(), "loyalty-browser-"+regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")+".png")}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx only
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A refused request is the page's business (it shows the
			// problem); a script error or a refused resource is not.
			if m.IsException() || (m.Type == "error" && m.Source != "network") {
				b.mu.Lock()
				b.errs = append(b.errs, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
				b.mu.Unlock()
			}
		}
	}()
	os.Remove(b.shot)
	return b
}

// fatalf fails the test after saving a screenshot of the page.
func (b *browser) fatalf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil && os.WriteFile(b.shot, png, 0o644) == nil {
		msg += "\nscreenshot of the page: " + b.shot
	} else {
		msg += fmt.Sprintf("\n(no screenshot: %v)", err)
	}
	b.t.Fatal(msg)
}

// do runs steps, failing the test (with a screenshot) on error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text returns the trimmed text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "<no %s>").trim()`, sel, sel))
}

// waitText waits until the element's text is want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	expr := fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").trim() === %q`, sel, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		b.fatalf("%s shows %q, want %q (%v)", sel, b.text(sel), want, err)
	}
}

// waitTrue waits until the expression is true.
func (b *browser) waitTrue(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		b.fatalf("%s: %s is not true (%v)", what, expr, err)
	}
}

// pageErrors fails the test if the page threw or logged an error.
func (b *browser) pageErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		b.fatalf("the page logged errors:\n%s", strings.Join(b.errs, "\n"))
	}
}

func jsonInt(m map[string]any, path ...string) int64 {
	var v any = m
	for _, k := range path {
		o, _ := v.(map[string]any)
		v = o[k]
	}
	f, _ := v.(float64)
	return int64(f)
}

// TestBrowserDemo drives the page in headless Chromium against `loyalty
// serve` on the embedded store: a customer signs in with the keyboard and
// sees the rank, points and history the API gives; the season switch is
// used when the API has season boards (hidden before); staff find the
// customer and add points; the customer's rank changes; and the page fits a
// phone's screen.
func TestBrowserDemo(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	mint := exec.Command(bin, "token", "pos-1", "--role", "channel")
	mint.Env = d.env
	out, err := mint.Output()
	if err != nil {
		t.Fatalf("loyalty token: %v", err)
	}
	channel := strings.TrimSpace(string(out))
	_, tok := d.call(t, "POST", "/dev/token", "", `{"role":"staff","subject":"seeder"}`)
	seeder, _ := tok["token"].(string)
	for i := 1; i <= 12; i++ {
		if code, m := d.call(t, "POST", fmt.Sprintf("/loyalty/%d", 100+i), seeder,
			fmt.Sprintf(`{"loyalty-points":%d,"reason":"seed","idempotencyKey":"seed-%d"}`, 10*i, i)); code != 201 {
			t.Fatalf("seed customer %d: %d %v", 100+i, code, m)
		}
	}
	// Customer 42: 12 orders, more than the page's first page of history.
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	orders := map[string]string{
		"web-1": `{"customerId":"42","channel":"web","paymentDetails":{"amount":"100.00","currency":"GBP"},"purchasedAt":"` + at + `"}`,
		"pos-2": `{"customerId":"42","channel":"store","storeId":"S-12","paymentDetails":{"amount":"-54.99","currency":"GBP"},"purchasedAt":"` + at + `"}`,
	}
	for i := range 10 {
		orders[fmt.Sprintf("app-%d", i)] = `{"customerId":"42","channel":"app","paymentDetails":{"amount":"10.00","currency":"GBP"},"purchasedAt":"` + at + `"}`
	}
	for id, body := range orders {
		if code, m := d.call(t, "POST", "/order/"+id, channel, body); code != 201 {
			t.Fatalf("order %s: %d %v", id, code, m)
		}
	}
	_, tok = d.call(t, "POST", "/dev/token", "", `{"role":"customer","subject":"42"}`)
	me, _ := tok["token"].(string)
	dashboard := func(board string) (int, map[string]any) {
		q := "?top=10&around=2"
		if board != "" {
			q += "&board=" + board
		}
		return d.call(t, "GET", "/loyalty/42"+q, me, "")
	}
	historyLen := func() int { // all of it: fewer than 100 entries
		_, h := d.call(t, "GET", "/loyalty/42/history?limit=100", me, "")
		es, _ := h["entries"].([]any)
		return len(es)
	}
	const historyPage = 10 // the page's

	b := newBrowser(t)
	b.do("open the page", chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(chromedp.CSS("#dev-form")))

	// A customer signs in with the keyboard: the id, then Enter.
	b.do("sign in as customer 42", chromedp.Focus(chromedp.CSS("#subject")), chromedp.SendKeys(chromedp.CSS("#subject"), "42\r"))
	b.waitText("#who", "Customer 42")
	b.waitTrue("the dashboard is shown", `!document.getElementById("dash").hidden && document.getElementById("me-rank").textContent !== "-"`)
	_, dash := dashboard("")
	b.waitText("#me-rank", strconv.FormatInt(jsonInt(dash, "me", "rank"), 10))
	b.waitText("#me-points", strconv.FormatInt(jsonInt(dash, "me", "points"), 10))
	// Focus moves to the dashboard's heading once the dashboard is shown
	// (a script's later step: wait for it, as for the texts).
	b.waitTrue("focus after sign-in on the dashboard's heading #dash-h", `document.activeElement !== null && document.activeElement.id === "dash-h"`)
	name, _ := dash["me"].(map[string]any)["proxyName"].(string)
	if got := b.text("#around-table tr.me td:nth-child(2)"); !strings.HasPrefix(got, name) || !strings.HasSuffix(got, "you") {
		b.fatalf("the highlighted line around the customer is %q, want %q marked you", got, name)
	}
	// The nudge and the percentile, once the API gives them.
	if pct, ok := dash["topPercent"].(float64); ok {
		t.Logf("the API gives topPercent (%v): the page must show it", pct)
		b.waitTrue("the percentile is shown", `document.getElementById("pct-card").offsetParent !== null && document.getElementById("me-pct").textContent.startsWith("Top ")`)
	} else if !eval[bool](b, `document.getElementById("pct-card").offsetParent === null`) {
		b.fatalf("a percentile is shown, but the API gives none: %v", dash["topPercent"])
	}
	if gap, ok := dash["pointsToNextRank"].(float64); ok {
		t.Logf("the API gives pointsToNextRank (%v): the page must show the nudge", gap)
		b.waitTrue("the nudge is shown", fmt.Sprintf(`document.getElementById("nudges").textContent.includes(%q)`, fmt.Sprintf("%d more point", int64(gap))))
	}
	if n := eval[int](b, `document.querySelectorAll("#top-table tbody tr").length`); n != 10 {
		b.fatalf("the top table has %d lines, want 10", n)
	}
	all := historyLen()
	if all <= historyPage {
		t.Fatalf("customer 42 has %d history entries, want more than a page", all)
	}
	b.waitTrue("the first page of history is shown", fmt.Sprintf(`document.querySelectorAll("#history-table tbody tr").length === %d`, historyPage))
	b.do("show older entries", chromedp.Click(chromedp.CSS("#history-more")))
	b.waitTrue("the whole history is shown", fmt.Sprintf(`document.querySelectorAll("#history-table tbody tr").length === %d`, all))
	b.waitTrue("no older entries", `document.getElementById("history-more").hidden`)

	// The season board, once the API has one; before, the switch is hidden.
	code, season := dashboard("season")
	seasonName, _ := season["board"].(string)
	switch {
	case code == 200 && seasonName != "" && seasonName != "all-time":
		t.Logf("the API has season boards: switching to the season board %s", seasonName)
		b.do("switch to the season board", chromedp.Click(chromedp.CSS(`input[name="board"][value="season"]`)))
		b.waitText("#board-name", "Season "+seasonName)
		b.waitText("#me-rank", strconv.FormatInt(jsonInt(season, "me", "rank"), 10))
		b.waitText("#me-points", strconv.FormatInt(jsonInt(season, "me", "points"), 10))
		b.do("back to the all-time board", chromedp.Click(chromedp.CSS(`input[name="board"][value="all-time"]`)))
		b.waitText("#me-rank", strconv.FormatInt(jsonInt(dash, "me", "rank"), 10))
	case code == 400 || code == 404 || (code == 200 && seasonName == ""):
		t.Logf("the API has no season boards yet (board=season: %d, board %q): the switch must be hidden", code, seasonName)
		if !eval[bool](b, `document.getElementById("board-switch").offsetParent === null`) {
			b.fatalf("the season switch is shown, but the API has no season board (%d, board %q)", code, seasonName)
		}
	default:
		t.Fatalf("GET /loyalty/42?board=season: %d %v", code, season)
	}

	// Staff find customer 42 and add enough points to lead the board.
	top, _ := dash["top"].([]any)
	if len(top) == 0 {
		t.Fatalf("the dashboard has no top: %v", dash)
	}
	add := int64(top[0].(map[string]any)["points"].(float64)) - jsonInt(dash, "me", "points") + 25
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#dev-form")))
	b.do("sign in as staff",
		chromedp.Click(chromedp.CSS(`input[name="role"][value="staff"]`)),
		chromedp.SendKeys(chromedp.CSS("#subject"), "alice\r"),
		chromedp.WaitVisible(chromedp.CSS("#find-id")))
	b.waitText("#who", "Staff: alice")
	b.do("find customer 42", chromedp.SendKeys(chromedp.CSS("#find-id"), "42\r"), chromedp.WaitVisible(chromedp.CSS("#points-form")))
	b.waitText("#me-rank", strconv.FormatInt(jsonInt(dash, "me", "rank"), 10))
	b.do("add points",
		chromedp.SendKeys(chromedp.CSS("#points"), strconv.FormatInt(add, 10)),
		chromedp.SendKeys(chromedp.CSS("#reason"), "browser test goodwill"),
		chromedp.Click(chromedp.CSS("#points-submit")))
	b.waitTrue("the points are added", `document.getElementById("points-result").textContent.includes("balance is now")`)
	_, after := dashboard("")
	if jsonInt(after, "me", "rank") != 1 || jsonInt(after, "me", "points") != jsonInt(dash, "me", "points")+add {
		t.Fatalf("the API's dashboard after adding %d points: %v", add, after)
	}
	b.waitText("#me-rank", "1")

	// The customer sees the new rank and the points in their history.
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#dev-form")))
	b.do("sign in as customer 42 again",
		chromedp.Click(chromedp.CSS(`input[name="role"][value="customer"]`)),
		chromedp.SendKeys(chromedp.CSS("#subject"), "42\r"))
	b.waitText("#who", "Customer 42")
	b.waitText("#me-rank", "1")
	b.waitText("#me-points", strconv.FormatInt(jsonInt(after, "me", "points"), 10))
	if historyLen() != all+1 {
		t.Fatalf("the API's history has %d entries after adding points, want %d", historyLen(), all+1)
	}
	b.waitTrue("the first page of history is shown", fmt.Sprintf(`document.querySelectorAll("#history-table tbody tr").length === %d`, historyPage))
	if got := b.text("#history-table tbody tr:first-child td:nth-child(3)"); got != "+"+strconv.FormatInt(add, 10) {
		b.fatalf("the newest history line shows %q points, want +%d", got, add)
	}

	// On a phone's screen nothing is wider than the screen.
	b.do("a phone's screen", chromedp.EmulateViewport(390, 844))
	b.waitTrue("the page fits 390 px", `document.documentElement.scrollWidth <= window.innerWidth`)
	b.pageErrors()
}
