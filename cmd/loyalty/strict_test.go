package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cleanEnv is the environment without any LOYALTY_* variable, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOYALTY_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runBin runs the loyalty binary with env and returns its stdout, stderr
// and exit status.
func runBin(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	if ee != nil {
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// TestMisconfiguration: each misconfiguration stops `loyalty serve` with
// exit status 1 before it listens, and a message naming the key as the user
// writes it (file key and variable) and the bad value, or the nearest known
// key.
func TestMisconfiguration(t *testing.T) {
	t.Parallel()
	prod := []string{"LOYALTY_REDIS_ADDR=127.0.0.1:1", "LOYALTY_CLICKHOUSE_ADDR=127.0.0.1:1"}
	key := "LOYALTY_AUTH_HS256_KEY=0123456789abcdef0123456789abcdef"
	proxy := "LOYALTY_PROXY_KEY=0123456789abcdef0123456789abcdef"
	cases := []struct {
		name string
		file string // YAML config file, if any
		env  []string
		want []string
	}{
		{"typo in the file", "ranking:\n  max_tpo: 50\n", nil,
			[]string{"unknown key ranking.max_tpo: did you mean ranking.max_top?"}},
		{"unknown section in the file", "metrics:\n  enabled: true\n", nil,
			[]string{"unknown key metrics.enabled"}},
		{"typo in a variable", "", []string{"LOYALTY_LOG_LEVL=debug"},
			[]string{"unknown environment variable LOYALTY_LOG_LEVL: did you mean LOYALTY_LOG_LEVEL?"}},
		{"bad log level", "", []string{"LOYALTY_LOG_LEVEL=verbose"},
			[]string{`log.level (LOYALTY_LOG_LEVEL) is "verbose": want one of debug, info, warn, error`}},
		{"bad log format", "log:\n  format: xml\n", nil,
			[]string{`log.format (LOYALTY_LOG_FORMAT) is "xml": want text or json`}},
		{"duration without a unit in the file", "http:\n  shutdown_timeout: 15\n", nil,
			[]string{"http.shutdown_timeout (LOYALTY_HTTP_SHUTDOWN_TIMEOUT): 15 has no unit", `"15s"`}},
		{"duration without a unit in a variable", "", []string{"LOYALTY_HTTP_SHUTDOWN_TIMEOUT=15"},
			[]string{`http.shutdown_timeout (LOYALTY_HTTP_SHUTDOWN_TIMEOUT): "15" has no unit`, "15s"}},
		{"not a duration", "", []string{"LOYALTY_RANKING_HEAD_TIMEOUT=soon"},
			[]string{`ranking.head_timeout (LOYALTY_RANKING_HEAD_TIMEOUT): "soon" is not a duration`}},
		{"negative max_top", "ranking:\n  max_top: -5\n", nil,
			[]string{"ranking.max_top (LOYALTY_RANKING_MAX_TOP) is -5: want 1 to 1000"}},
		{"default_top above max_top", "", []string{"LOYALTY_RANKING_MAX_TOP=20", "LOYALTY_RANKING_DEFAULT_TOP=50"},
			[]string{"ranking.default_top (LOYALTY_RANKING_DEFAULT_TOP) is 50: want 1 to ranking.max_top (20)"}},
		{"not a number", "", []string{"LOYALTY_REDIS_POOL_SIZE=lots"},
			[]string{`redis.pool_size (LOYALTY_REDIS_POOL_SIZE): "lots" is not a whole number`}},
		{"bad listen address", "", []string{"LOYALTY_HTTP_ADDR=8080"},
			[]string{`http.addr (LOYALTY_HTTP_ADDR, --http-addr) is "8080": not host:port`}},
		{"bad admin address", "", []string{"LOYALTY_HTTP_ADMIN_ADDR=localhost:99999"},
			[]string{`http.admin_addr (LOYALTY_HTTP_ADMIN_ADDR) is "localhost:99999": its port is not a number`}},
		{"bad redis address", "", []string{"LOYALTY_REDIS_ADDR=redis"},
			[]string{`redis.addr (LOYALTY_REDIS_ADDR, --redis-addr) is "redis": not host:port`}},
		{"bad rate", "", []string{"LOYALTY_POINTS_EUR_TO_GBP=0.8512345"},
			[]string{`points.eur_to_gbp (LOYALTY_POINTS_EUR_TO_GBP) is "0.8512345": want a rate above 0 and below 10 with at most 6 decimal places`}},
		{"clickhouse without redis", "", []string{"LOYALTY_CLICKHOUSE_ADDR=127.0.0.1:9000"},
			[]string{"clickhouse.addr (LOYALTY_CLICKHOUSE_ADDR, --clickhouse-addr) is set but no Redis is", "set redis.addr (LOYALTY_REDIS_ADDR, --redis-addr)"}},
		{"no auth key with redis", "", append([]string{proxy}, prod...),
			[]string{"no token key: set auth.hs256_key (LOYALTY_AUTH_HS256_KEY)"}},
		{"no proxy key with redis", "", append([]string{key}, prod...),
			[]string{"no proxy-name key: set proxy.key (LOYALTY_PROXY_KEY)"}},
		{"short auth key", "", append([]string{"LOYALTY_AUTH_HS256_KEY=secret", proxy}, prod...),
			[]string{"auth.hs256_key (LOYALTY_AUTH_HS256_KEY) is 6 bytes: a signing key needs at least 32 random bytes"}},
		{"short proxy key", "", []string{"LOYALTY_PROXY_KEY=0123456789abcdef"},
			[]string{"proxy.key (LOYALTY_PROXY_KEY) is 16 bytes: the proxy-name key needs at least 32 random bytes"}},
		{"every error at once", "ranking:\n  max_tpo: 50\n", []string{"LOYALTY_LOG_LEVEL=verbose", "LOYALTY_HTTP_SHUTDOWN_TIMEOUT=15", "LOYALTY_RANKING_MAX_TOP=-5"},
			[]string{"did you mean ranking.max_top?", "has no unit", `log.level (LOYALTY_LOG_LEVEL) is "verbose"`, "ranking.max_top (LOYALTY_RANKING_MAX_TOP) is -5"}},
		{"a value refused once", "", []string{"LOYALTY_REDIS_ADDR=r:6379", "LOYALTY_REDIS_MIN_REPLICAS_ACK=1", "LOYALTY_REDIS_WAIT_TIMEOUT=100"},
			[]string{`redis.wait_timeout (LOYALTY_REDIS_WAIT_TIMEOUT): "100" has no unit`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := cleanEnv(append([]string{"LOYALTY_DATA_DIR=" + t.TempDir(), "LOYALTY_HTTP_ADDR=127.0.0.1:0"}, c.env...)...)
			if c.file != "" {
				f := filepath.Join(t.TempDir(), "loyalty.yaml")
				if err := os.WriteFile(f, []byte(c.file), 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, "LOYALTY_CONFIG="+f)
			}
			_, stderr, code := runBin(t, env, "serve")
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if n := strings.Count(stderr, "redis.wait_timeout (LOYALTY_REDIS_WAIT_TIMEOUT)"); n > 1 {
				t.Errorf("redis.wait_timeout refused %d times:\n%s", n, stderr)
			}
			if strings.Contains(stderr, "serving") {
				t.Errorf("it started serving:\n%s", stderr)
			}
		})
	}
}

// TestEffectiveConfigLogged: serve logs every key of the effective config
// at start, as JSON with log.format=json, durations in milliseconds and the
// secrets masked.
func TestEffectiveConfigLogged(t *testing.T) {
	var c Config
	const secretValue = "s3cr3t-0123456789abcdef0123456789"
	t.Setenv("LOYALTY_PROXY_KEY", secretValue)
	t.Setenv("LOYALTY_REDIS_PASSWORD", secretValue)
	t.Setenv("LOYALTY_LOG_FORMAT", "json")
	cfg, err := loadEnv(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	cfg.logEffective(newLogger(cfg, &buf), slog.LevelInfo)
	if strings.Contains(buf.String(), secretValue) {
		t.Fatalf("a secret is logged: %s", buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
	}
	for _, f := range c.fields() {
		_, ok := m[f.key]
		if _, ms := m[f.key+"_ms"]; !ok && !ms {
			t.Errorf("key %s not logged", f.key)
		}
	}
	if m["proxy.key"] != "****" || m["redis.password"] != "****" || m["clickhouse.password"] != "" {
		t.Errorf("secrets: proxy.key %v redis.password %v clickhouse.password %v", m["proxy.key"], m["redis.password"], m["clickhouse.password"])
	}
	if m["http.shutdown_timeout_ms"] != 15000.0 || m["ranking.head_timeout_ms"] != 50.0 {
		t.Errorf("durations: %v %v, want 15000 and 50 (ms)", m["http.shutdown_timeout_ms"], m["ranking.head_timeout_ms"])
	}
}

// TestVersion: `loyalty version` and `loyalty --version` print the same
// line.
func TestVersion(t *testing.T) {
	t.Parallel()
	v, _, code := runBin(t, cleanEnv(), "version")
	vv, _, code2 := runBin(t, cleanEnv(), "--version")
	if code != 0 || code2 != 0 || !strings.HasPrefix(v, "loyalty ") || !strings.Contains(v, "revision") || v != vv {
		t.Fatalf("version %q (exit %d), --version %q (exit %d)", v, code, vv, code2)
	}
}

// TestHelpExamples: every command's --help has an Examples section.
func TestHelpExamples(t *testing.T) {
	t.Parallel()
	var walk func(path []string)
	root := rootCmd()
	seen := 0
	walk = func(path []string) {
		out, _, code := runBin(t, cleanEnv(), append(path, "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("loyalty %s --help (exit %d) has no Examples section", strings.Join(path, " "), code)
		}
		seen++
	}
	walk(nil)
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		walk([]string{c.Name()})
		for _, sub := range c.Commands() {
			walk([]string{c.Name(), sub.Name()})
		}
	}
	if seen < 12 {
		t.Errorf("only %d commands checked", seen)
	}
}

// TestTokenSubject: a customer token needs a customer id as its subject,
// the other roles a name.
func TestTokenSubject(t *testing.T) {
	t.Parallel()
	env := cleanEnv("LOYALTY_DATA_DIR=" + t.TempDir())
	cases := []struct {
		sub, role string
		ok        bool
		want      string
	}{
		{"17850", "customer", true, ""},
		{"alice", "customer", false, "role customer needs the customer id as the subject"},
		{"0", "customer", false, "from 1 to 9007199254740991"},
		{"pos-42", "channel", true, ""},
		{"alice", "staff", true, ""},
		{"two words", "staff", false, "role staff needs a name as the subject"},
		{"alice", "admin", false, "--role must be customer, channel or staff"},
	}
	for _, c := range cases {
		out, stderr, code := runBin(t, env, "token", c.sub, "--role", c.role)
		if c.ok != (code == 0) || c.ok && strings.Count(out, ".") != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("token %q --role %s: exit %d, out %q, stderr %q; want ok=%v and %q", c.sub, c.role, code, out, stderr, c.ok, c.want)
		}
	}
}

// TestReadmeConfigTable: README's Configuration table lists exactly the
// keys of Config, each with its variable.
func TestReadmeConfigTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(b), "## Configuration")
	table, _, _ = strings.Cut(table, "\n## ")
	documented := map[string]bool{}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_.]+)`(?: / `([a-z0-9_.]+)`)? \\| `(LOYALTY_[A-Z0-9_]+)`(?: / `(_?[A-Z0-9_]+)`)? \\|")
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		key := m[1]
		documented[key] = true
		if envName(key) != m[3] {
			t.Errorf("README: %s has variable %s, want %s", key, m[3], envName(key))
		}
		switch {
		case strings.Contains(m[2], "."):
			documented[m[2]] = true
		case m[2] != "":
			documented[key[:strings.LastIndex(key, ".")+1]+m[2]] = true
		}
	}
	var c Config
	for _, f := range c.fields() {
		if !documented[f.key] {
			t.Errorf("README's Configuration table lacks %s", f.key)
		}
		delete(documented, f.key)
	}
	for k := range documented {
		t.Errorf("README documents %s, which is no config key", k)
	}
}
