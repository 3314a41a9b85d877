package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// loadEnv loads the config from the given LOYALTY_* variables only.
func loadEnv(t *testing.T, env map[string]string) (*Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	return load(pflag.NewFlagSet("test", pflag.ContinueOnError))
}

// TestConfigRedisTopology: the Redis keys make one topology, and a wrong
// combination is refused with a message naming the keys to set.
func TestConfigRedisTopology(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error; none: valid
	}{
		{"embedded", nil, nil},
		{"one primary", map[string]string{"LOYALTY_REDIS_ADDR": "r:6379", "LOYALTY_REDIS_READ_ADDRS": "r2:6379"}, nil},
		{"sentinel", map[string]string{"LOYALTY_REDIS_SENTINEL_ADDRS": "s1:26379, s2:26379,s3:26379", "LOYALTY_REDIS_MASTER_NAME": "loyalty",
			"LOYALTY_REDIS_SENTINEL_PASSWORD": "pw", "LOYALTY_REDIS_MIN_REPLICAS_ACK": "1", "LOYALTY_REDIS_WAIT_TIMEOUT": "250ms"}, nil},
		{"both", map[string]string{"LOYALTY_REDIS_ADDR": "r:6379", "LOYALTY_REDIS_SENTINEL_ADDRS": "s1:26379", "LOYALTY_REDIS_MASTER_NAME": "m"},
			[]string{"redis.addr (LOYALTY_REDIS_ADDR, --redis-addr) and redis.sentinel_addrs (LOYALTY_REDIS_SENTINEL_ADDRS) are both set"}},
		{"no master name", map[string]string{"LOYALTY_REDIS_SENTINEL_ADDRS": "s1:26379"}, []string{"set redis.master_name (LOYALTY_REDIS_MASTER_NAME)"}},
		{"master name alone", map[string]string{"LOYALTY_REDIS_MASTER_NAME": "m"}, []string{"set redis.sentinel_addrs (LOYALTY_REDIS_SENTINEL_ADDRS"}},
		{"sentinel password alone", map[string]string{"LOYALTY_REDIS_ADDR": "r:6379", "LOYALTY_REDIS_SENTINEL_PASSWORD": "pw"},
			[]string{"redis.sentinel_password is set but redis.sentinel_addrs is not"}},
		{"bad sentinel address", map[string]string{"LOYALTY_REDIS_SENTINEL_ADDRS": "s1", "LOYALTY_REDIS_MASTER_NAME": "m"}, []string{`redis.sentinel_addrs (LOYALTY_REDIS_SENTINEL_ADDRS): "s1" is not host:port`}},
		{"read addrs alone", map[string]string{"LOYALTY_REDIS_READ_ADDRS": "r2:6379"}, []string{"redis.read_addrs (LOYALTY_REDIS_READ_ADDRS) needs the primary"}},
		{"negative acks", map[string]string{"LOYALTY_REDIS_ADDR": "r:6379", "LOYALTY_REDIS_MIN_REPLICAS_ACK": "-1"}, []string{"redis.min_replicas_ack (LOYALTY_REDIS_MIN_REPLICAS_ACK) is -1"}},
		{"no wait timeout", map[string]string{"LOYALTY_REDIS_ADDR": "r:6379", "LOYALTY_REDIS_MIN_REPLICAS_ACK": "1", "LOYALTY_REDIS_WAIT_TIMEOUT": "0s"},
			[]string{"redis.wait_timeout (LOYALTY_REDIS_WAIT_TIMEOUT) is 0s with redis.min_replicas_ack 1"}},
		{"head timeout", map[string]string{"LOYALTY_RANKING_HEAD_TIMEOUT": "0s", "LOYALTY_RANKING_MAX_STALENESS": "-1m"},
			[]string{"ranking.head_timeout (LOYALTY_RANKING_HEAD_TIMEOUT) is 0s", "ranking.max_staleness (LOYALTY_RANKING_MAX_STALENESS) is -1m0s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadEnv(t, c.env)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want an error saying %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestConfigSentinel: the Sentinel keys from the environment, the defaults
// of the availability keys, and the mode they select.
func TestConfigSentinel(t *testing.T) {
	cfg, err := loadEnv(t, map[string]string{"LOYALTY_REDIS_SENTINEL_ADDRS": "s1:26379,s2:26379,s3:26379", "LOYALTY_REDIS_MASTER_NAME": "loyalty"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Redis.SentinelAddrs, " "); got != "s1:26379 s2:26379 s3:26379" {
		t.Errorf("sentinel addrs %q", got)
	}
	if cfg.embeddedMode() || !cfg.sentinelMode() || cfg.redisName() != "sentinel master loyalty" {
		t.Errorf("embedded %v sentinel %v name %q", cfg.embeddedMode(), cfg.sentinelMode(), cfg.redisName())
	}
	if cfg.Redis.MinReplicasAck != 0 || cfg.Redis.WaitTimeout != 100*time.Millisecond || cfg.Redis.AssumeNoEviction ||
		cfg.Ranking.HeadTimeout != 50*time.Millisecond || cfg.Ranking.MaxStaleness != 5*time.Minute {
		t.Errorf("defaults: %+v %+v", cfg.Redis, cfg.Ranking)
	}
	h := cfg.histogramConfig()
	if h.MinReplicasAck != cfg.Redis.MinReplicasAck || h.WaitTimeout != cfg.Redis.WaitTimeout {
		t.Errorf("histogram config %+v", h)
	}
}
