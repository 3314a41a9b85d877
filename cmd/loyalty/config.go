package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/ranker"
	"github.com/xyz/loyalty/season"
)

// Config is the whole effective configuration: file, LOYALTY_* environment
// and flags, read once at start by load (the only viper user).
type Config struct {
	HTTP struct {
		Addr string `mapstructure:"addr"`
		// AdminAddr, if set, is a second listener for /metrics and pprof
		// (and the probes), which the public listener then does not serve.
		AdminAddr       string        `mapstructure:"admin_addr"`
		ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	} `mapstructure:"http"`
	Redis struct {
		Addr      string   `mapstructure:"addr"`
		ReadAddrs []string `mapstructure:"read_addrs"`
		Password  string   `mapstructure:"password"`
		Prefix    string   `mapstructure:"prefix"`
		PoolSize  int      `mapstructure:"pool_size"`
		// DedupeParts spreads each day's remembered order ids over this many
		// hashes; size it to about daily changes / 100 so each stays a listpack.
		DedupeParts int `mapstructure:"dedupe_parts"`
		// SentinelAddrs, MasterName and SentinelPassword run the service
		// through Redis Sentinel instead of one fixed primary (redis.addr).
		SentinelAddrs    []string `mapstructure:"sentinel_addrs"`
		MasterName       string   `mapstructure:"master_name"`
		SentinelPassword string   `mapstructure:"sentinel_password"`
		// MinReplicasAck is how many replicas must confirm a write (WAIT)
		// before it is acknowledged; WaitTimeout bounds the wait.
		MinReplicasAck int           `mapstructure:"min_replicas_ack"`
		WaitTimeout    time.Duration `mapstructure:"wait_timeout"`
		// AssumeNoEviction says maxmemory-policy is noeviction where CONFIG
		// GET is not allowed.
		AssumeNoEviction bool `mapstructure:"assume_noeviction"`
	} `mapstructure:"redis"`
	ClickHouse struct {
		Addr     string `mapstructure:"addr"`
		Database string `mapstructure:"database"`
		Username string `mapstructure:"username"`
		Password string `mapstructure:"password"`
	} `mapstructure:"clickhouse"`
	Data struct {
		Dir string `mapstructure:"dir"`
	} `mapstructure:"data"`
	Points struct {
		EURToGBP   string `mapstructure:"eur_to_gbp"`
		DedupeDays int    `mapstructure:"dedupe_days"`
	} `mapstructure:"points"`
	Seasons struct {
		// Period is how long a season board's race lasts: month, quarter
		// (calendar, Europe/London time) or none.
		Period string `mapstructure:"period"`
		// Kept is how many seasons before the current one stay queryable.
		Kept int `mapstructure:"kept"`
	} `mapstructure:"seasons"`
	Ranking struct {
		DefaultTop    int `mapstructure:"default_top"`
		MaxTop        int `mapstructure:"max_top"`
		DefaultAround int `mapstructure:"default_around"`
		MaxAround     int `mapstructure:"max_around"`
		// GCPercent is the Go GC target of serve: the replica's board is a
		// large, long-lived heap, and the default 100 lets the process grow to
		// twice it between collections.
		GCPercent int `mapstructure:"gc_percent"`
		// HeadTimeout is how long a dashboard waits for the primary's latest
		// seq before it is answered from memory, marked stale.
		HeadTimeout time.Duration `mapstructure:"head_timeout"`
		// MaxStaleness is how long the board may go without reading the change
		// log and still be ready (/readyz).
		MaxStaleness time.Duration `mapstructure:"max_staleness"`
	} `mapstructure:"ranking"`
	Auth struct {
		HS256Key          string `mapstructure:"hs256_key"`
		RS256PublicKeyPEM string `mapstructure:"rs256_public_key_file"`
		Issuer            string `mapstructure:"issuer"`
		Audience          string `mapstructure:"audience"`
	} `mapstructure:"auth"`
	Proxy struct {
		Key string `mapstructure:"key"`
	} `mapstructure:"proxy"`
	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
	} `mapstructure:"log"`
}

func defaults(v *viper.Viper) {
	v.SetDefault("http.addr", "127.0.0.1:8080")
	v.SetDefault("http.admin_addr", "")
	v.SetDefault("http.shutdown_timeout", 15*time.Second)
	v.SetDefault("redis.addr", "")
	v.SetDefault("redis.read_addrs", []string{})
	v.SetDefault("redis.password", "")
	v.SetDefault("redis.prefix", "loyalty")
	v.SetDefault("redis.pool_size", 64)
	v.SetDefault("redis.dedupe_parts", 1<<20)
	v.SetDefault("redis.sentinel_addrs", []string{})
	v.SetDefault("redis.master_name", "")
	v.SetDefault("redis.sentinel_password", "")
	v.SetDefault("redis.min_replicas_ack", 0)
	v.SetDefault("redis.wait_timeout", 100*time.Millisecond)
	v.SetDefault("redis.assume_noeviction", false)
	v.SetDefault("clickhouse.addr", "")
	v.SetDefault("clickhouse.database", "loyalty")
	v.SetDefault("clickhouse.username", "default")
	v.SetDefault("clickhouse.password", "")
	v.SetDefault("data.dir", "loyalty-data")
	v.SetDefault("points.eur_to_gbp", "0.85")
	v.SetDefault("points.dedupe_days", 1)
	v.SetDefault("seasons.period", "month")
	v.SetDefault("seasons.kept", 3)
	v.SetDefault("ranking.default_top", 10)
	v.SetDefault("ranking.max_top", 100)
	v.SetDefault("ranking.default_around", 2)
	v.SetDefault("ranking.max_around", 10)
	v.SetDefault("ranking.gc_percent", 25)
	v.SetDefault("ranking.head_timeout", 50*time.Millisecond)
	v.SetDefault("ranking.max_staleness", 5*time.Minute)
	v.SetDefault("auth.hs256_key", "")
	v.SetDefault("auth.rs256_public_key_file", "")
	v.SetDefault("auth.issuer", "loyalty")
	v.SetDefault("auth.audience", "loyalty-api")
	v.SetDefault("proxy.key", "")
	v.SetDefault("log.level", "info")
	v.SetDefault("log.format", "text")
}

// flagKeys maps the command-line flags onto their config keys.
var flagKeys = map[string]string{"http-addr": "http.addr", "redis-addr": "redis.addr", "clickhouse-addr": "clickhouse.addr", "data-dir": "data.dir"}

// otherEnv are the LOYALTY_* variables that are not config keys: the config
// file, and the retail data of the tests (internal/testenv).
var otherEnv = []string{"LOYALTY_CONFIG", "LOYALTY_RETAIL_DATA"}

// envName is the environment variable of a config key.
func envName(key string) string {
	return "LOYALTY_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// name is a key as the user writes it: the file key, its environment
// variable and its flag, if it has one.
func name(key string) string {
	for f, k := range flagKeys {
		if k == key {
			return fmt.Sprintf("%s (%s, --%s)", key, envName(key), f)
		}
	}
	return fmt.Sprintf("%s (%s)", key, envName(key))
}

// field is one config key and the field it fills.
type field struct {
	key string
	v   reflect.Value
}

// fields lists the keys of c in declaration order, from the mapstructure
// tags: the one list of known keys.
func (c *Config) fields() []field {
	var out []field
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			key := prefix + f.Tag.Get("mapstructure")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(v.Field(i), key+".")
				continue
			}
			out = append(out, field{key, v.Field(i)})
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// secret reports whether a key holds a secret, masked when logged.
func secret(key string) bool {
	return strings.HasSuffix(key, "password") || strings.HasSuffix(key, "key")
}

// load reads the config file (--config or LOYALTY_CONFIG), the environment
// (LOYALTY_REDIS_ADDR for redis.addr, ...) and the command's flags, and
// validates the result. An unknown key in the file, an unknown LOYALTY_*
// variable, a value of the wrong type (a duration without a unit) and a
// value out of range are refused, each error naming the key, its variable
// and the value.
func load(flags *pflag.FlagSet) (*Config, error) {
	var c Config
	known := map[string]bool{}
	var keys, envs []string
	for _, f := range c.fields() {
		known[f.key] = true
		keys, envs = append(keys, f.key), append(envs, envName(f.key))
	}
	var errs []error
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LOYALTY_") && !slices.Contains(envs, k) && !slices.Contains(otherEnv, k) {
			errs = append(errs, fmt.Errorf("unknown environment variable %s%s", k, suggest(k, append(envs, otherEnv...))))
		}
	}
	v := viper.New()
	defaults(v)
	v.SetEnvPrefix("LOYALTY")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	file, _ := flags.GetString("config")
	if file == "" {
		file = os.Getenv("LOYALTY_CONFIG")
	}
	if file != "" {
		// Read once: fv holds the file's own keys (no defaults) to find
		// unknown ones, v the file under the environment and the flags.
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read config file %s: %w", file, err)
		}
		fv := viper.New()
		for _, x := range []*viper.Viper{fv, v} {
			x.SetConfigType(strings.TrimPrefix(filepath.Ext(file), "."))
			if err := x.ReadConfig(bytes.NewReader(data)); err != nil {
				return nil, fmt.Errorf("read config file %s: %w", file, err)
			}
		}
		for _, k := range fv.AllKeys() {
			if !known[k] {
				errs = append(errs, fmt.Errorf("config file %s: unknown key %s%s", file, k, suggest(k, keys)))
			}
		}
	}
	for flag, key := range flagKeys {
		if f := flags.Lookup(flag); f != nil {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, err
			}
		}
	}
	var failed []string // keys whose value could not be read
	for _, f := range c.fields() {
		if err := decode(f.v, v.Get(f.key)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name(f.key), err))
			failed = append(failed, name(f.key)+" ")
		}
	}
	// Every error at once: the checks of the values, except those of the
	// keys already refused (their zero value says nothing).
	for _, err := range c.problems() {
		if !slices.ContainsFunc(failed, func(p string) bool { return strings.HasPrefix(err.Error(), p) }) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &c, nil
}

// decode sets f from a raw value of the file, the environment or a flag
// (strings from the last two), refusing what its type can't hold.
func decode(f reflect.Value, raw any) error {
	str, isStr := raw.(string)
	switch f.Interface().(type) {
	case time.Duration:
		switch r := raw.(type) {
		case time.Duration:
			f.SetInt(int64(r))
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(r))
			if err != nil {
				if _, nerr := strconv.ParseFloat(strings.TrimSpace(r), 64); nerr == nil {
					return fmt.Errorf("%q has no unit: write a duration with its unit, e.g. %ss or %sms", r, strings.TrimSpace(r), strings.TrimSpace(r))
				}
				return fmt.Errorf("%q is not a duration: write e.g. 15s, 500ms or 2m", r)
			}
			f.SetInt(int64(d))
		case int, int64, float64, uint64:
			return fmt.Errorf("%v has no unit: write a duration with its unit, e.g. \"%vs\" or \"%vms\"", r, r, r)
		default:
			return fmt.Errorf("%v is not a duration: write e.g. 15s, 500ms or 2m", raw)
		}
	case string:
		switch r := raw.(type) {
		case string:
			f.SetString(r)
		case int, int64, uint64, bool:
			f.SetString(fmt.Sprint(r))
		case float64:
			f.SetString(strconv.FormatFloat(r, 'f', -1, 64))
		default:
			return fmt.Errorf("%v is not a single value: write one string", raw)
		}
	case int:
		switch r := raw.(type) {
		case int:
			f.SetInt(int64(r))
		case int64:
			f.SetInt(r)
		case float64:
			if r != float64(int64(r)) {
				return fmt.Errorf("%v is not a whole number", r)
			}
			f.SetInt(int64(r))
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(r))
			if err != nil {
				return fmt.Errorf("%q is not a whole number", r)
			}
			f.SetInt(int64(n))
		default:
			return fmt.Errorf("%v is not a whole number", raw)
		}
	case bool:
		switch r := raw.(type) {
		case bool:
			f.SetBool(r)
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(r))
			if err != nil {
				return fmt.Errorf("%q is not true or false", r)
			}
			f.SetBool(b)
		default:
			return fmt.Errorf("%v is not true or false", raw)
		}
	case []string:
		var l []string
		switch r := raw.(type) {
		case []string:
			l = r
		case []any:
			for _, e := range r {
				l = append(l, fmt.Sprint(e))
			}
		default:
			if !isStr {
				return fmt.Errorf("%v is not a list: write a list, or one comma-separated string", raw)
			}
			l = []string{str}
		}
		f.Set(reflect.ValueOf(splitList(l)))
	default:
		return fmt.Errorf("unsupported config type %s", f.Type())
	}
	return nil
}

// suggest names the known name nearest to an unknown one.
func suggest(unknown string, known []string) string {
	best, dist := "", -1
	for _, k := range known {
		if d := editDistance(strings.ToLower(unknown), strings.ToLower(k)); dist < 0 || d < dist {
			best, dist = k, d
		}
	}
	if best == "" || dist > max(3, len(unknown)/3) {
		return ": no known key is close; see the Configuration table of README.md"
	}
	return ": did you mean " + best + "?"
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// splitList splits the comma-separated strings of a list and drops empty
// elements.
func splitList(l []string) []string {
	var out []string
	for _, e := range l {
		for _, s := range strings.Split(e, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// MinKeyBytes is the shortest auth.hs256_key and proxy.key accepted.
const MinKeyBytes = 32

var (
	dbIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	logLevels    = []string{"debug", "info", "warn", "error"}
	logFormats   = []string{"text", "json"}
)

// problems lists what is wrong with the values of c, each naming the key,
// its variable and the value.
func (c *Config) problems() []error {
	var errs []error
	bad := func(key string, value any, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s is %s: %s", name(key), quote(value), fmt.Sprintf(format, a...)))
	}
	addr := func(key, a string, optional bool) {
		if a == "" && optional {
			return
		}
		if msg := checkAddr(a); msg != "" {
			bad(key, a, "%s", msg)
		}
	}
	addr("http.addr", c.HTTP.Addr, false)
	addr("http.admin_addr", c.HTTP.AdminAddr, true)
	if c.HTTP.AdminAddr != "" && c.HTTP.AdminAddr == c.HTTP.Addr {
		bad("http.admin_addr", c.HTTP.AdminAddr, "the same as http.addr; give the admin listener its own port, or leave it empty")
	}
	if c.HTTP.ShutdownTimeout <= 0 || c.HTTP.ShutdownTimeout > 10*time.Minute {
		bad("http.shutdown_timeout", c.HTTP.ShutdownTimeout, "want a drain from 1ms to 10m, e.g. 15s")
	}
	addr("redis.addr", c.Redis.Addr, true)
	for _, a := range c.Redis.ReadAddrs {
		addr("redis.read_addrs", a, false)
	}
	if strings.TrimSpace(c.Redis.Prefix) == "" || strings.ContainsAny(c.Redis.Prefix, " \t\r\n{}") {
		bad("redis.prefix", c.Redis.Prefix, "want a non-empty key prefix without spaces or braces, e.g. loyalty")
	}
	if c.Redis.PoolSize < 1 {
		bad("redis.pool_size", c.Redis.PoolSize, "want at least 1 connection, e.g. 64")
	}
	if c.Redis.DedupeParts < 1 {
		bad("redis.dedupe_parts", c.Redis.DedupeParts, "want at least 1 (about daily changes / 100)")
	}
	errs = append(errs, c.validateRedis()...)
	addr("clickhouse.addr", c.ClickHouse.Addr, true)
	if !dbIdentifier.MatchString(c.ClickHouse.Database) {
		bad("clickhouse.database", c.ClickHouse.Database, "want a database name of letters, digits and _ (not starting with a digit), e.g. loyalty")
	}
	if strings.TrimSpace(c.Data.Dir) == "" {
		bad("data.dir", c.Data.Dir, "want the embedded store's directory, e.g. loyalty-data")
	}
	if r, err := decimal.NewFromString(c.Points.EURToGBP); err != nil {
		bad("points.eur_to_gbp", c.Points.EURToGBP, "not a decimal number; write the value of 1 EUR in GBP, e.g. 0.85")
	} else if !r.IsPositive() || r.GreaterThanOrEqual(decimal.NewFromInt(10)) || !r.Equal(r.Truncate(6)) {
		bad("points.eur_to_gbp", c.Points.EURToGBP, "want a rate above 0 and below 10 with at most 6 decimal places, e.g. 0.85")
	}
	if c.Points.DedupeDays < 1 {
		bad("points.dedupe_days", c.Points.DedupeDays, "want at least 1 day")
	}
	if _, err := season.New(season.Period(c.Seasons.Period)); err != nil {
		bad("seasons.period", c.Seasons.Period, "want month, quarter or none")
	}
	if c.Seasons.Kept < 0 || c.Seasons.Kept > 120 {
		bad("seasons.kept", c.Seasons.Kept, "want 0 to 120 seasons before the current one, e.g. 3")
	}
	rk := c.Ranking
	if rk.MaxTop < 1 || rk.MaxTop > 1000 {
		bad("ranking.max_top", rk.MaxTop, "want 1 to 1000, e.g. 100")
	} else if rk.DefaultTop < 1 || rk.DefaultTop > rk.MaxTop {
		bad("ranking.default_top", rk.DefaultTop, "want 1 to ranking.max_top (%d), e.g. 10", rk.MaxTop)
	}
	if rk.MaxAround < 0 || rk.MaxAround > 100 {
		bad("ranking.max_around", rk.MaxAround, "want 0 to 100, e.g. 10")
	} else if rk.DefaultAround < 0 || rk.DefaultAround > rk.MaxAround {
		bad("ranking.default_around", rk.DefaultAround, "want 0 to ranking.max_around (%d), e.g. 2", rk.MaxAround)
	}
	if rk.GCPercent != -1 && (rk.GCPercent < 1 || rk.GCPercent > 10000) {
		bad("ranking.gc_percent", rk.GCPercent, "want a GC target from 1 to 10000 percent, or -1 to turn the collector off")
	}
	if rk.HeadTimeout <= 0 {
		bad("ranking.head_timeout", rk.HeadTimeout, "it must be positive (for example 50ms)")
	}
	if rk.MaxStaleness <= 0 {
		bad("ranking.max_staleness", rk.MaxStaleness, "it must be positive (for example 5m)")
	}
	if n := len(c.Auth.HS256Key); n > 0 && n < MinKeyBytes {
		errs = append(errs, fmt.Errorf("%s is %d bytes: a signing key needs at least %d random bytes; set it to e.g. the output of `openssl rand -hex 32`", name("auth.hs256_key"), n, MinKeyBytes))
	}
	if n := len(c.Proxy.Key); n > 0 && n < MinKeyBytes {
		errs = append(errs, fmt.Errorf("%s is %d bytes: the proxy-name key needs at least %d random bytes; set it to e.g. the output of `openssl rand -hex 32`", name("proxy.key"), n, MinKeyBytes))
	}
	if f := c.Auth.RS256PublicKeyPEM; f != "" {
		if _, err := os.Stat(f); err != nil {
			bad("auth.rs256_public_key_file", f, "can't be read (%v); give the path of a PEM RSA public key", errors.Unwrap(err))
		}
	}
	if strings.TrimSpace(c.Auth.Issuer) == "" {
		bad("auth.issuer", c.Auth.Issuer, "want the issuer your tokens name (iss), e.g. loyalty")
	}
	if strings.TrimSpace(c.Auth.Audience) == "" {
		bad("auth.audience", c.Auth.Audience, "want the audience your tokens name (aud), e.g. loyalty-api")
	}
	if !slices.Contains(logLevels, strings.ToLower(c.Log.Level)) {
		bad("log.level", c.Log.Level, "want one of %s", strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, strings.ToLower(c.Log.Format)) {
		bad("log.format", c.Log.Format, "want text or json (json for production)")
	}
	return errs
}

// quote renders a bad value for a message: strings quoted, so an empty one
// shows.
func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// checkAddr returns what is wrong with a host:port listen or dial address,
// or "".
func checkAddr(a string) string {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return "not host:port; write e.g. 127.0.0.1:8080, or :8080 for every interface"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "its port is not a number from 0 to 65535"
	}
	return ""
}

// validateRedis checks that the Redis keys make one topology: none
// (embedded), one primary (redis.addr), or Sentinel (redis.sentinel_addrs
// with redis.master_name).
func (c *Config) validateRedis() []error {
	var errs []error
	r := c.Redis
	sentinel := c.sentinelMode()
	switch {
	case r.Addr != "" && sentinel:
		errs = append(errs, fmt.Errorf("%s and %s are both set: set redis.addr for one fixed primary, or redis.sentinel_addrs with redis.master_name to find the primary through Sentinel, not both", name("redis.addr"), name("redis.sentinel_addrs")))
	case sentinel && r.MasterName == "":
		errs = append(errs, fmt.Errorf("redis.sentinel_addrs is set but redis.master_name is not: set %s to the name the sentinels monitor (their `sentinel monitor NAME ...` line)", name("redis.master_name")))
	case !sentinel && r.MasterName != "":
		errs = append(errs, fmt.Errorf("redis.master_name is set but redis.sentinel_addrs is not: set %s (comma-separated host:port) to the sentinels", name("redis.sentinel_addrs")))
	}
	if !sentinel && r.SentinelPassword != "" {
		errs = append(errs, fmt.Errorf("redis.sentinel_password is set but redis.sentinel_addrs is not: set %s too, or drop the password", name("redis.sentinel_addrs")))
	}
	for _, a := range r.SentinelAddrs {
		if msg := checkAddr(a); msg != "" {
			errs = append(errs, fmt.Errorf("%s: %q is %s", name("redis.sentinel_addrs"), a, msg))
		}
	}
	if r.MinReplicasAck < 0 {
		errs = append(errs, fmt.Errorf("%s is %d: set it to 0 (acknowledge once the primary has a change) or to how many replicas must confirm it", name("redis.min_replicas_ack"), r.MinReplicasAck))
	}
	if r.MinReplicasAck > 0 && r.WaitTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%s is %s with redis.min_replicas_ack %d: set a positive timeout (for example 100ms)", name("redis.wait_timeout"), r.WaitTimeout, r.MinReplicasAck))
	}
	if c.embeddedMode() && len(r.ReadAddrs) > 0 {
		errs = append(errs, fmt.Errorf("%s needs the primary: set redis.addr, or redis.sentinel_addrs with redis.master_name", name("redis.read_addrs")))
	}
	return errs
}

// seasons returns the season boards configured (validated at load).
func (c *Config) seasons() ranker.Seasons {
	cal, _ := season.New(season.Period(c.Seasons.Period))
	return ranker.Seasons{Calendar: cal, Kept: c.Seasons.Kept}
}

// sentinelMode reports whether Redis is reached through Sentinel.
func (c *Config) sentinelMode() bool { return len(c.Redis.SentinelAddrs) > 0 }

// embeddedMode reports whether no servers are configured.
func (c *Config) embeddedMode() bool { return c.Redis.Addr == "" && !c.sentinelMode() }

// redisName names the configured Redis in messages: the primary's address
// or the Sentinel master name.
func (c *Config) redisName() string {
	if c.sentinelMode() {
		return "sentinel master " + c.Redis.MasterName
	}
	return c.Redis.Addr
}

// keys returns the auth and proxy keys. With Redis both must be configured;
// on the embedded store a key not configured is the one generated in the
// data directory on first use (embedded.Keys).
func (c *Config) keys() (auth, proxy []byte, err error) {
	a, p := []byte(c.Auth.HS256Key), []byte(c.Proxy.Key)
	rsa := c.Auth.RS256PublicKeyPEM != ""
	if !c.embeddedMode() {
		var errs []error
		if len(a) == 0 && !rsa {
			errs = append(errs, fmt.Errorf("no token key: set %s to at least %d random bytes (e.g. `openssl rand -hex 32`), or %s to your identity provider's public key", name("auth.hs256_key"), MinKeyBytes, name("auth.rs256_public_key_file")))
		}
		if len(p) == 0 {
			errs = append(errs, fmt.Errorf("no proxy-name key: set %s to at least %d random bytes (e.g. `openssl rand -hex 32`); it must stay the same across restarts and processes", name("proxy.key"), MinKeyBytes))
		}
		return a, p, errors.Join(errs...)
	}
	if len(a) > 0 && len(p) > 0 || rsa && len(p) > 0 {
		return a, p, nil
	}
	k, err := embedded.Keys(c.Data.Dir)
	if err != nil {
		return nil, nil, err
	}
	if len(a) == 0 && !rsa {
		a = k.Auth
	}
	if len(p) == 0 {
		p = k.Proxy
	}
	return a, p, nil
}

// logEffective logs the whole effective configuration, secrets masked.
func (c *Config) logEffective(log *slog.Logger, level slog.Level) {
	attrs := make([]slog.Attr, 0, 40)
	for _, f := range c.fields() {
		v := f.v.Interface()
		if secret(f.key) {
			v = "****"
			if f.v.Len() == 0 {
				v = ""
			}
		}
		attrs = append(attrs, slog.Any(f.key, v))
	}
	log.LogAttrs(context.Background(), level, "config", attrs...)
}
