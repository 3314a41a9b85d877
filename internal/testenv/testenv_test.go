package testenv

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// startTMPDIR is TMPDIR as the binary started, before Main.
var startTMPDIR = os.Getenv("TMPDIR")

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestServersStartAndStop(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(testing.TB) *Server{"redis": Redis, "clickhouse": ClickHouse} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := start(t)
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatalf("dial %s: %v", s.Addr, err)
			}
			c.Close()
			s.Stop()
			if c, err := net.Dial("tcp", s.Addr); err == nil {
				c.Close()
				t.Fatalf("%s still listening after Stop", s.Addr)
			}
			s.Start(t)
			c, err = net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatalf("dial after restart: %v", err)
			}
			c.Close()
		})
	}
}

// TestHAFailover starts a primary, a replica and three sentinels, kills the
// primary and waits for the sentinels to promote the replica.
func TestHAFailover(t *testing.T) {
	t.Parallel()
	h := StartHA(t, HAConfig{Replicas: 1})
	if r := Role(h.Replicas[0].Addr); r != "slave" {
		t.Fatalf("replica's role %q", r)
	}
	start := time.Now()
	h.Primary.Stop()
	if got := h.WaitFailover(t, h.Primary.Addr, 30*time.Second); got != h.Replicas[0].Addr {
		t.Fatalf("new primary %s, want the replica %s", got, h.Replicas[0].Addr)
	}
	t.Logf("failover took %s", time.Since(start).Round(time.Millisecond))
}

// TestSeed: -seed replays a seed; without it each call logs a fresh one.
func TestSeed(t *testing.T) {
	if *seedFlag != 0 {
		if got := Seed(t); got != *seedFlag {
			t.Fatalf("Seed() = %d with -seed=%d", got, *seedFlag)
		}
		return
	}
	if a, b := Seed(t), Seed(t); a == b {
		t.Fatalf("two seeds alike: %d", a)
	}
}

// TestShared: the shared servers start once, answer every test, and are
// not stopped by a test's end.
func TestShared(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(testing.TB) *Server{"redis": SharedRedis, "clickhouse": SharedClickHouse} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var first *Server
			t.Run("first", func(t *testing.T) { first = start(t) })
			s := start(t)
			if s != first {
				t.Fatalf("a second server %s, want the shared %s", s.Addr, first.Addr)
			}
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatalf("the shared server is gone after the first test: %v", err)
			}
			c.Close()
		})
	}
}

// TestTempFilesInMemory: under Main, with TMPDIR unset, the tests'
// temporary files (the servers' directories among them) are in memoryDir.
func TestTempFilesInMemory(t *testing.T) {
	if startTMPDIR != "" {
		t.Skipf("TMPDIR=%s was set: the tests keep their files there", startTMPDIR)
	}
	if !memoryWritable() {
		t.Skipf("%s is not writable here", memoryDir)
	}
	if got := os.TempDir(); got != memoryDir {
		t.Fatalf("os.TempDir() = %s, want %s", got, memoryDir)
	}
	if s := SharedRedis(t); !strings.HasPrefix(s.Dir, memoryDir+"/") {
		t.Fatalf("the shared Redis's directory is %s, want it under %s", s.Dir, memoryDir)
	}
}
