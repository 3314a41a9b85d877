package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pause stops the server's process (SIGSTOP): it keeps its connections and
// its port but answers nothing, like a host that froze or a network that
// dropped it. Resume undoes it; Stop still kills it.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP)
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatalf("signal %v: %s is not running", sig, s.Addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, s.Addr, err)
	}
}

// redisArgs are the arguments of every test redis-server: AOF (any of them
// may become the primary), no RDB saves, the listpack limit and eviction
// policy the index's Check requires. The AOF is written before each reply
// but not fsynced (appendfsync no): an acknowledged write is in the
// kernel's page cache, so it survives the SIGKILL the tests deal a server,
// as with production's appendfsync always; only a power cut, which no test
// makes, tells the two apart. (TestIngestRetail took 29 CPU-seconds with
// an fsync per write, 18 without, on the shared 2-core machine.)
func redisArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "no",
		"--daemonize", "no", "--protected-mode", "no",
		"--maxmemory-policy", "noeviction", "--hash-max-listpack-entries", "128",
		"--repl-diskless-sync-delay", "0",
	}
}

func startRedis(t testing.TB, extra ...string) *Server {
	t.Helper()
	return startOwn(t, "redis-server", func(dir string) (*Server, error) { return newRedis(dir, extra...) })
}

// newRedis starts a redis-server in dir with redisArgs and extra.
func newRedis(dir string, extra ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, bin: bin, args: append(redisArgs(port, dir), extra...)}
	if err := s.spawn(); err != nil {
		return nil, err
	}
	return s, nil
}

// RedisReplica starts a redis-server replicating primary (same persistence
// as Redis) and waits until it has synchronised.
func RedisReplica(t testing.TB, primary *Server) *Server {
	t.Helper()
	host, port, _ := net.SplitHostPort(primary.Addr)
	s := startRedis(t, "--replicaof", host, port)
	WaitReplicaSynced(t, s, 30*time.Second)
	return s
}

// WaitReplicaSynced polls the replica until its link to its primary is up
// and the initial synchronisation is done, or fails the test at the deadline.
func WaitReplicaSynced(t testing.TB, replica *Server, deadline time.Duration) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: replica.Addr, MaxRetries: -1})
	defer rdb.Close()
	Eventually(t, deadline, 20*time.Millisecond, func() error {
		info, err := rdb.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0") {
			return nil
		}
		return fmt.Errorf("replica %s not synchronised: %s", replica.Addr, fmt.Sprint(info, err))
	})
}

// HA is a Redis deployment for failover tests: a primary with AOF, replicas
// and three sentinels monitoring it under MasterName with short timeouts
// (down after 1 s, failover timeout 3 s).
type HA struct {
	MasterName string
	Primary    *Server   // the primary at start; after a failover, see Master
	Replicas   []*Server // at start
	Sentinels  []*Server
}

// HAConfig shapes an HA deployment.
type HAConfig struct {
	// Replicas is how many replicas to start (at least 1).
	Replicas int
	// PrimaryArgs are extra redis-server arguments for the primary, for
	// example "--min-replicas-to-write", "1".
	PrimaryArgs []string
	// DownAfter is Sentinel's down-after-milliseconds (default 1 s).
	DownAfter time.Duration
}

// sentinelPeriods shorten two of Sentinel's fixed periods (SENTINEL DEBUG,
// Redis 7): the hello messages through which sentinels find each other
// (publish-period, 2 s), and the INFO to a replica (info-period, 10 s). A
// primary that comes back after a failover is demoted to a replica only
// once it has reported itself a primary for 4 publish periods, and that
// report comes with an INFO: ~10 s at the defaults, a second here. The
// failure detection and the failover itself keep their configured
// timings (down-after-milliseconds, failover-timeout).
var sentinelPeriods = []any{"publish-period", 200, "info-period", 500}

// StartHA starts the primary, the replicas (synchronised) and three
// sentinels (quorum 2), and waits until every sentinel knows every replica
// and the other sentinels, so a failover can start as soon as the primary
// is down. Everything stops when the test ends.
func StartHA(t testing.TB, cfg HAConfig) *HA {
	t.Helper()
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = time.Second
	}
	h := &HA{MasterName: "loyalty-test"}
	h.Primary = startRedis(t, cfg.PrimaryArgs...)
	for range cfg.Replicas {
		h.Replicas = append(h.Replicas, RedisReplica(t, h.Primary))
	}
	host, port, _ := net.SplitHostPort(h.Primary.Addr)
	bin := need(t, "redis-server")
	for range 3 {
		dir := t.TempDir()
		p := FreePort(t)
		conf := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %[3]s %[6]d
sentinel failover-timeout %[3]s 3000
sentinel parallel-syncs %[3]s 1
`, p, dir, h.MasterName, host, port, cfg.DownAfter.Milliseconds())
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(p), Dir: dir, bin: bin, args: []string{path, "--sentinel"}}
		if err := s.spawn(); err != nil {
			t.Fatalf("start redis-server --sentinel: %v", err)
		}
		t.Cleanup(s.Stop)
		h.Sentinels = append(h.Sentinels, s)
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
		err := rdb.Do(context.Background(), append([]any{"SENTINEL", "DEBUG"}, sentinelPeriods...)...).Err()
		rdb.Close()
		if err != nil {
			t.Fatalf("SENTINEL DEBUG on %s: %v", s.Addr, err)
		}
	}
	for _, s := range h.Sentinels {
		h.waitSentinel(t, s, cfg.Replicas, 30*time.Second)
	}
	return h
}

// SentinelAddrs returns the sentinels' addresses.
func (h *HA) SentinelAddrs() []string {
	out := make([]string, len(h.Sentinels))
	for i, s := range h.Sentinels {
		out[i] = s.Addr
	}
	return out
}

func (h *HA) waitSentinel(t testing.TB, s *Server, replicas int, deadline time.Duration) {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer sc.Close()
	ctx := context.Background()
	Eventually(t, deadline, 50*time.Millisecond, func() error {
		rs, err1 := sc.Replicas(ctx, h.MasterName).Result()
		ss, err2 := sc.Sentinels(ctx, h.MasterName).Result()
		if err1 == nil && err2 == nil && len(rs) >= replicas && len(ss) >= len(h.Sentinels)-1 {
			return nil
		}
		return fmt.Errorf("sentinel %s not ready: %d replicas (%v), %d other sentinels (%v)", s.Addr, len(rs), err1, len(ss), err2)
	})
}

// Master asks the sentinels which server is the primary now.
func (h *HA) Master(ctx context.Context) (string, error) {
	var errs []string
	for _, s := range h.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
		a, err := sc.GetMasterAddrByName(ctx, h.MasterName).Result()
		sc.Close()
		if err == nil && len(a) == 2 {
			return net.JoinHostPort(a[0], a[1]), nil
		}
		errs = append(errs, fmt.Sprint(err))
	}
	return "", fmt.Errorf("no sentinel answered: %s", strings.Join(errs, "; "))
}

// WaitFailover polls the sentinels until they name a primary other than old
// and that server says it is a primary, and returns its address; it fails
// the test at the deadline.
func (h *HA) WaitFailover(t testing.TB, old string, deadline time.Duration) string {
	t.Helper()
	ctx := context.Background()
	var addr string
	Eventually(t, deadline, 50*time.Millisecond, func() error {
		var err error
		addr, err = h.Master(ctx)
		if err == nil && addr != old && Role(addr) == "master" {
			return nil
		}
		return fmt.Errorf("no failover from %s (sentinels say %s)", old, fmt.Sprint(addr, err))
	})
	return addr
}

// Role returns what the redis-server at addr says it is ("master", "slave";
// empty when it does not answer).
func Role(addr string) string {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
	defer rdb.Close()
	v, err := rdb.Do(context.Background(), "ROLE").Slice()
	if err != nil || len(v) == 0 {
		return ""
	}
	r, _ := v[0].(string)
	return r
}
