package main

import (
	"strings"
	"testing"
)

// TestIndexFormat: `loyalty index-format` shows a fresh board at compact
// and a board an earlier version wrote at text; `compact` switches it and
// says what that rules out; `text` (a rollback) says from when an earlier
// version may run; a wrong argument and the embedded store are refused
// with what to do.
func TestIndexFormat(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	want := func(args []string, code int, parts ...string) {
		t.Helper()
		stdout, stderr, got := runBin(t, s.env, args...)
		if got != code {
			t.Fatalf("loyalty %v: exit %d, want %d; stdout %q, stderr %q", args, got, code, stdout, stderr)
		}
		for _, p := range parts {
			if !strings.Contains(stdout+stderr, p) {
				t.Errorf("loyalty %v: %q lacks %q", args, stdout+stderr, p)
			}
		}
	}
	want([]string{"index-format"}, 0, "index format: compact (2): nothing is written yet")
	if err := s.rdb.Set(t.Context(), "{"+s.prefix+"}:seq", 3, 0).Err(); err != nil {
		t.Fatal(err)
	}
	want([]string{"index-format"}, 0, "index format: text (1)", "rolling upgrade or rollback is safe")
	want([]string{"index-format", "compact"}, 0, "index format: compact (was text)", "needs `loyalty index-format text` first")
	if v, err := s.rdb.Get(t.Context(), "{"+s.prefix+"}:format").Result(); err != nil || v != "2" {
		t.Fatalf("format key after compact: %q, %v", v, err)
	}
	want([]string{"index-format", "text"}, 0, "index format: text (was compact)", "may run from ")
	want([]string{"index-format", "bogus"}, 1, `"bogus" is not a format: give compact or text`)
	if _, stderr, code := runBin(t, cleanEnv(), "index-format"); code != 1 || !strings.Contains(stderr, "the embedded store has no such format") {
		t.Errorf("embedded mode: exit %d, %q", code, stderr)
	}
}
