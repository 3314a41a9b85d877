package testenv

import (
	"net"
	"testing"
	"time"
)

func TestServersStartAndStop(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *Server{"redis": Redis, "clickhouse": ClickHouse} {
		t.Run(name, func(t *testing.T) {
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
