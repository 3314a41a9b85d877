// Package web is the loyalty web page: one HTML page, one script and one
// style sheet, embedded in the binary (no CDN, no build step). The page
// calls the API from the same origin: a customer sees their dashboard (the
// top N with their own line highlighted, their neighbours, the nudge and
// percentile when the API gives them, the season switch when the API has
// seasons) and their points history; staff find a customer by id, see their
// dashboard and history, and add manual points. Without servers (`make run`)
// the page signs in through the API's development sign-in, POST /dev/token;
// elsewhere it takes a bearer token pasted in.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// file is one embedded asset, ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler returns the handler that serves the page at "/" and its files at
// "/app/{name}" (the script and the style sheet); any other path is a 404.
// It is safe for concurrent use. Responses carry an ETag and are
// revalidated on every use (Cache-Control: no-cache), so a new binary's page
// is never mixed with an old script; the Content-Security-Policy allows
// nothing but this origin.
func Handler() (http.Handler, error) {
	files := map[string]file{}
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		return nil, fmt.Errorf("web: read embedded files: %w", err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(static, "static/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: read embedded %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if strings.HasSuffix(e.Name(), ".js") {
			ct = "text/javascript; charset=utf-8" // some systems' mime tables say application/javascript
		}
		f := file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if e.Name() == "index.html" {
			files["/"] = f
		} else {
			files["/app/"+e.Name()] = f
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("ETag", f.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		// Answers 304 to a matching If-None-Match, HEAD and ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	}), nil
}
