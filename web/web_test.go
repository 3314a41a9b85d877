package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerServesTheFiles(t *testing.T) {
	h, err := Handler()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/app/app.js" defer></script>`},
		{"/app/app.js", "text/javascript; charset=utf-8", `"use strict";`},
		{"/app/app.css", "text/css; charset=utf-8", ":root"},
	} {
		w := get(t, h, tc.path)
		if w.Code != 200 || w.Header().Get("Content-Type") != tc.ctype || !strings.Contains(w.Body.String(), tc.contains) {
			t.Fatalf("GET %s: %d %q, want 200 %q with %q", tc.path, w.Code, w.Header().Get("Content-Type"), tc.ctype, tc.contains)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
		etag := w.Header().Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", tc.path)
		}
		if w := get(t, h, tc.path, "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Fatalf("GET %s with its ETag: %d, %d bytes; want 304, empty", tc.path, w.Code, w.Body.Len())
		}
	}
	for _, path := range []string{"/app/index.html", "/app/", "/index.html", "/app/../app.js", "/app/nope.js"} {
		if w := get(t, h, path); w.Code != http.StatusNotFound {
			t.Fatalf("GET %s: %d, want 404", path, w.Code)
		}
	}
}

// TestPageIsSelfContained checks the page loads nothing from elsewhere (no
// CDN) and that every form field has a label: the page must work offline
// and with a screen reader.
func TestPageIsSelfContained(t *testing.T) {
	h, err := Handler()
	if err != nil {
		t.Fatal(err)
	}
	page := get(t, h, "/").Body.String()
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if u := m[1]; !strings.HasPrefix(u, "/app/") && !strings.HasPrefix(u, "#") && u != "data:," {
			t.Errorf("the page refers to %q: only its own /app/ files, anchors and the empty icon data:, are allowed", u)
		}
	}
	js := get(t, h, "/app/app.js").Body.String()
	if strings.Contains(js, "innerHTML") || strings.Contains(js, "http://") || strings.Contains(js, "https://") {
		t.Error("app.js uses innerHTML or an absolute URL: write text with textContent and call the API on this origin")
	}
	labels := map[string]bool{}
	for _, m := range regexp.MustCompile(`<label[^>]*for="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		labels[m[1]] = true
	}
	fields := regexp.MustCompile(`<(input|textarea|select)\b[^>]*>`).FindAllString(page, -1)
	if len(fields) < 5 {
		t.Fatalf("found %d form fields; the pattern is broken", len(fields))
	}
	for _, f := range fields {
		if strings.Contains(f, `type="radio"`) {
			continue // wrapped in their label, inside a fieldset with a legend
		}
		id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(f)
		if id == nil || !labels[id[1]] {
			t.Errorf("form field without a <label for>: %s", f)
		}
	}
}
