package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the whole effective configuration: file, LOYALTY_* environment
// and flags, read once at start by load (the only viper user).
type Config struct {
	HTTP struct {
		Addr            string        `mapstructure:"addr"`
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

// devKey is the signing and proxy-name key of the embedded development mode
// only: with Redis configured, real keys are required.
const devKey = "loyalty-development-key-not-for-production"

func defaults(v *viper.Viper) {
	v.SetDefault("http.addr", "127.0.0.1:8080")
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

// load reads the config file (--config or LOYALTY_CONFIG), the environment
// (LOYALTY_REDIS_ADDR for redis.addr, ...) and the command's flags.
func load(flags *pflag.FlagSet) (*Config, error) {
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
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read config %s: %w", file, err)
		}
	}
	for flag, key := range map[string]string{"http-addr": "http.addr", "redis-addr": "redis.addr", "clickhouse-addr": "clickhouse.addr", "data-dir": "data.dir"} {
		if f := flags.Lookup(flag); f != nil {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, err
			}
		}
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	// A comma-separated LOYALTY_REDIS_READ_ADDRS (or _SENTINEL_ADDRS)
	// arrives as one string.
	c.Redis.ReadAddrs = splitList(c.Redis.ReadAddrs)
	c.Redis.SentinelAddrs = splitList(c.Redis.SentinelAddrs)
	return &c, c.validate()
}

// splitList splits a one-element list holding a comma-separated string and
// drops empty elements.
func splitList(l []string) []string {
	if len(l) == 1 {
		l = strings.Split(l[0], ",")
	}
	out := l[:0]
	for _, s := range l {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c *Config) validate() error {
	var errs []error
	if _, err := decimal.NewFromString(c.Points.EURToGBP); err != nil {
		errs = append(errs, fmt.Errorf("points.eur_to_gbp %q is not a decimal number", c.Points.EURToGBP))
	}
	if c.Redis.DedupeParts < 1 {
		errs = append(errs, errors.New("redis.dedupe_parts must be at least 1"))
	}
	if c.Points.DedupeDays < 1 {
		errs = append(errs, errors.New("points.dedupe_days must be at least 1"))
	}
	if c.Ranking.DefaultTop < 0 || c.Ranking.DefaultTop > c.Ranking.MaxTop || c.Ranking.DefaultAround < 0 || c.Ranking.DefaultAround > c.Ranking.MaxAround {
		errs = append(errs, errors.New("ranking: want 0 <= default_top <= max_top and 0 <= default_around <= max_around"))
	}
	errs = append(errs, c.validateRedis()...)
	if c.Ranking.HeadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ranking.head_timeout is %s: it must be positive (for example 50ms)", c.Ranking.HeadTimeout))
	}
	if c.Ranking.MaxStaleness <= 0 {
		errs = append(errs, fmt.Errorf("ranking.max_staleness is %s: it must be positive (for example 5m)", c.Ranking.MaxStaleness))
	}
	return errors.Join(errs...)
}

// validateRedis checks that the Redis keys make one topology: none
// (embedded), one primary (redis.addr), or Sentinel (redis.sentinel_addrs
// with redis.master_name).
func (c *Config) validateRedis() []error {
	var errs []error
	r := c.Redis
	sentinel := len(r.SentinelAddrs) > 0
	switch {
	case r.Addr != "" && sentinel:
		errs = append(errs, errors.New("redis.addr and redis.sentinel_addrs are both set: set redis.addr for one fixed primary, or redis.sentinel_addrs with redis.master_name to find the primary through Sentinel, not both"))
	case sentinel && r.MasterName == "":
		errs = append(errs, errors.New("redis.sentinel_addrs is set but redis.master_name is not: set redis.master_name (LOYALTY_REDIS_MASTER_NAME) to the name the sentinels monitor (their `sentinel monitor NAME ...` line)"))
	case !sentinel && r.MasterName != "":
		errs = append(errs, errors.New("redis.master_name is set but redis.sentinel_addrs is not: set redis.sentinel_addrs (LOYALTY_REDIS_SENTINEL_ADDRS, comma-separated host:port) to the sentinels"))
	}
	if !sentinel && r.SentinelPassword != "" {
		errs = append(errs, errors.New("redis.sentinel_password is set but redis.sentinel_addrs is not: set redis.sentinel_addrs too, or drop the password"))
	}
	for _, a := range r.SentinelAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("redis.sentinel_addrs: %q is not host:port", a))
		}
	}
	if r.MinReplicasAck < 0 {
		errs = append(errs, fmt.Errorf("redis.min_replicas_ack is %d: set it to 0 (acknowledge once the primary has a change) or to how many replicas must confirm it", r.MinReplicasAck))
	}
	if r.MinReplicasAck > 0 && r.WaitTimeout <= 0 {
		errs = append(errs, fmt.Errorf("redis.wait_timeout is %s with redis.min_replicas_ack %d: set a positive timeout (for example 100ms)", r.WaitTimeout, r.MinReplicasAck))
	}
	if r.Addr == "" && !sentinel && len(r.ReadAddrs) > 0 {
		errs = append(errs, errors.New("redis.read_addrs needs the primary: set redis.addr, or redis.sentinel_addrs with redis.master_name"))
	}
	return errs
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

// keys returns the auth and proxy keys; in embedded mode a missing key falls
// back to the development key, with Redis configured it is an error.
func (c *Config) keys() (auth, proxy []byte, err error) {
	a, p := c.Auth.HS256Key, c.Proxy.Key
	if !c.embeddedMode() && ((a == "" && c.Auth.RS256PublicKeyPEM == "") || p == "") {
		return nil, nil, errors.New("set auth.hs256_key (LOYALTY_AUTH_HS256_KEY) or auth.rs256_public_key_file, and proxy.key (LOYALTY_PROXY_KEY): development keys are only used without Redis")
	}
	if a == "" && c.Auth.RS256PublicKeyPEM == "" {
		a = devKey
	}
	if p == "" {
		p = devKey
	}
	return []byte(a), []byte(p), nil
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "****"
}

// logEffective logs the effective configuration with secrets masked.
func (c *Config) logEffective(log *slog.Logger) {
	log.Info("config",
		"http.addr", c.HTTP.Addr, "redis.addr", c.Redis.Addr, "redis.read_addrs", c.Redis.ReadAddrs,
		"redis.sentinel_addrs", c.Redis.SentinelAddrs, "redis.master_name", c.Redis.MasterName,
		"redis.sentinel_password", mask(c.Redis.SentinelPassword), "redis.min_replicas_ack", c.Redis.MinReplicasAck,
		"redis.wait_timeout", c.Redis.WaitTimeout, "redis.assume_noeviction", c.Redis.AssumeNoEviction,
		"redis.password", mask(c.Redis.Password), "redis.prefix", c.Redis.Prefix,
		"clickhouse.addr", c.ClickHouse.Addr, "clickhouse.database", c.ClickHouse.Database,
		"clickhouse.password", mask(c.ClickHouse.Password), "data.dir", c.Data.Dir,
		"points.eur_to_gbp", c.Points.EURToGBP, "points.dedupe_days", c.Points.DedupeDays,
		"ranking.max_top", c.Ranking.MaxTop, "ranking.max_around", c.Ranking.MaxAround,
		"ranking.head_timeout", c.Ranking.HeadTimeout, "ranking.max_staleness", c.Ranking.MaxStaleness,
		"auth.hs256_key", mask(c.Auth.HS256Key), "auth.rs256_public_key_file", c.Auth.RS256PublicKeyPEM,
		"auth.issuer", c.Auth.Issuer, "auth.audience", c.Auth.Audience, "proxy.key", mask(c.Proxy.Key))
}

func newLogger(c *Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
