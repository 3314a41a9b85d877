package api_test

import (
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// openAPI is the part of an OpenAPI 3.0 document the checker reads: the
// operations' responses and the schemas, enough to check that a response's
// route, status and media type are documented and that its body has the
// documented types, required properties and enums.
type openAPI struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas   map[string]*schema   `json:"schemas"`
		Responses map[string]*respSpec `json:"responses"`
	} `json:"components"`
}

type operation struct {
	Responses map[string]*respSpec `json:"responses"`
}

type respSpec struct {
	Ref     string `json:"$ref"`
	Content map[string]struct {
		Schema *schema `json:"schema"`
	} `json:"content"`
	Headers map[string]any `json:"headers"`
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	Enum                 []any              `json:"enum"`
	OneOf                []*schema          `json:"oneOf"`
	Pattern              string             `json:"pattern"`
	Minimum              *float64           `json:"minimum"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Nullable             bool               `json:"nullable"`
}

var (
	specOnce sync.Once
	spec     *openAPI
	specErr  error
)

func loadOpenAPI(t testing.TB) *openAPI {
	t.Helper()
	specOnce.Do(func() {
		b, err := os.ReadFile("openapi.json")
		if err != nil {
			specErr = err
			return
		}
		spec = &openAPI{}
		specErr = json.Unmarshal(b, spec)
	})
	if specErr != nil {
		t.Fatalf("load openapi.json: %v", specErr)
	}
	return spec
}

// route finds the documented path template matching a request path.
func (d *openAPI) route(path string) (string, bool) {
	segs := strings.Split(path, "/")
	for tmpl := range d.Paths {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") {
				ok = ok && segs[i] != ""
			} else {
				ok = ok && ts[i] == segs[i]
			}
		}
		if ok {
			return tmpl, true
		}
	}
	return "", false
}

// check says how a response departs from the document (nil: it doesn't).
func (d *openAPI) check(method, path string, r *response) error {
	var rs *respSpec
	tmpl, found := d.route(path)
	op, hasOp := d.Paths[tmpl][strings.ToLower(method)]
	switch {
	case !found && r.Status == 404:
		rs = d.Components.Responses["NotFound"]
	case found && !hasOp && r.Status == 405:
		rs = d.Components.Responses["MethodNotAllowed"]
		if r.Header.Get("Allow") == "" {
			return fmt.Errorf("405 without Allow")
		}
	case !found || !hasOp:
		return fmt.Errorf("%s %s is not documented", method, path)
	default:
		rs = op.Responses[strconv.Itoa(r.Status)]
		if rs == nil {
			return fmt.Errorf("status %d is not documented for %s %s", r.Status, method, tmpl)
		}
	}
	if rs.Ref != "" {
		rs = d.Components.Responses[strings.TrimPrefix(rs.Ref, "#/components/responses/")]
		if rs == nil {
			return fmt.Errorf("dangling response ref")
		}
	}
	for h := range rs.Headers {
		if r.Header.Get(h) == "" {
			return fmt.Errorf("documented header %s missing", h)
		}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("content type %q: %v", r.Header.Get("Content-Type"), err)
	}
	c, ok := rs.Content[mt]
	if !ok {
		return fmt.Errorf("media type %s not documented (have %v)", mt, keys(rs.Content))
	}
	if mt != "application/json" && mt != "application/problem+json" {
		return nil
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	return d.validate(c.Schema, v, "body")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validate checks v against s: type, required properties, enum, pattern,
// minimum, items, oneOf, nullable, recursively.
func (d *openAPI) validate(s *schema, v any, at string) error {
	if s == nil {
		return nil
	}
	if s.Ref != "" {
		return d.validate(d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], v, at)
	}
	if v == nil && s.Nullable {
		return nil
	}
	if len(s.OneOf) > 0 {
		n := 0
		for _, o := range s.OneOf {
			if d.validate(o, v, at) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf", at, n)
		}
		return nil
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, v)
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, r)
			}
		}
		for k, pv := range m {
			ps, ok := s.Properties[k]
			if !ok {
				if s.Properties != nil {
					return fmt.Errorf("%s: undocumented property %q", at, k)
				}
				continue
			}
			if err := d.validate(ps, pv, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, v)
		}
		for i, e := range a {
			if err := d.validate(s.Items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", at, v)
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", at, str, s.Pattern)
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok || (s.Type == "integer" && f != float64(int64(f))) {
			return fmt.Errorf("%s: want an %s, got %v", at, s.Type, v)
		}
		if s.Minimum != nil && f < *s.Minimum {
			return fmt.Errorf("%s: %v below minimum %v", at, f, *s.Minimum)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, v)
		}
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		return fmt.Errorf("%s: %v not in %v", at, v, s.Enum)
	}
	return nil
}

// TestOpenAPIDocument checks the document itself: served as embedded, every
// reference resolves, every operation documents 401/403 when it needs a
// token.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	e := newEmbeddedEnv(t)
	r := e.get(t, "/openapi.json", "")
	want(t, r, 200)
	file, _ := os.ReadFile("openapi.json")
	if string(r.Body) != string(file) {
		t.Fatal("served document differs from api/openapi.json")
	}
	var raw map[string]any
	if err := json.Unmarshal(file, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["openapi"] != "3.0.3" {
		t.Fatalf("openapi version %v", raw["openapi"])
	}
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "$ref" {
					refs = append(refs, c.(string))
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(raw)
	for _, ref := range refs {
		p := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		var cur any = raw
		for _, s := range p {
			m, _ := cur.(map[string]any)
			cur = m[s]
		}
		if cur == nil {
			t.Errorf("dangling $ref %s", ref)
		}
	}
	for path, ops := range e.spec.Paths {
		for method, op := range ops {
			protected := strings.HasPrefix(path, "/order") || strings.HasPrefix(path, "/loyalty")
			for _, st := range []string{"401", "403"} {
				if _, ok := op.Responses[st]; protected && !ok {
					t.Errorf("%s %s does not document %s", method, path, st)
				}
			}
		}
	}
}
