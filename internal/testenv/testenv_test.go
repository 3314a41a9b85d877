package testenv

import (
	"net"
	"testing"
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
