// Package testenv starts real redis-server and clickhouse-server processes for
// tests: each on a free loopback port, in its own temporary directory, stopped
// in t.Cleanup. A missing server binary is a test failure, never a skip: the
// README's test command installs both.
package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that is free and that no other test
// of this or another test binary gets while this one runs.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return p
}

// Ports come from portLow..portHigh, below Linux's ephemeral range (so the
// kernel never hands one to a client socket), each at most once in a test
// binary, and under an flock on a file per port held until the binary
// exits, so two test binaries running at once (go test runs packages in
// parallel) never take the same one. A port "free a moment ago" from the
// kernel (":0") is not enough with tests in parallel: two servers were
// given one port, the second failed to bind, its test talked to the first
// test's server and stopped it under that test.
const portLow, portHigh = 20000, 32000

var ports struct {
	sync.Mutex
	next int
	held []*os.File // the locks, kept open until the binary exits
}

// portDir holds the port locks of every test binary of a run: taken from
// the environment they share, before Main moves the temporary files.
var portDir = filepath.Join(os.TempDir(), "loyalty-test-ports")

func freePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if err := os.MkdirAll(portDir, 0o777); err != nil {
		return 0, err
	}
	if ports.next == 0 {
		ports.next = portLow + rand.IntN(portHigh-portLow)
	}
	for range portHigh - portLow {
		p := ports.next
		if ports.next++; ports.next == portHigh {
			ports.next = portLow
		}
		f, err := os.OpenFile(filepath.Join(portDir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return 0, err
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // another test binary holds it
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			f.Close() // something else listens there
			continue
		}
		l.Close()
		ports.held = append(ports.held, f)
		return p, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d", portLow, portHigh)
}

func need(t testing.TB, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found on PATH: run the tests through `make test` (it installs redis-server and clickhouse-server from Debian's packages)", bin)
	}
	return p
}

// waitTCP waits until addr accepts a connection, the process exits (done
// is closed) or the deadline passes.
func waitTCP(addr string, done <-chan struct{}, deadline time.Duration) error {
	end := time.Now().Add(deadline)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(end) {
			return err
		}
		select {
		case <-done:
			return fmt.Errorf("the server exited: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// spawns runs every server's start on one OS thread that lives as long as
// the test binary: a child's Pdeathsig fires when the thread that started
// it ends, and Go may end other threads.
var spawns = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread()
		for f := range spawns {
			f()
		}
	}()
}

// start starts cmd on the spawning thread.
func start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	spawns <- func() { errc <- cmd.Start() }
	return <-errc
}

// Server is a running test server.
type Server struct {
	Addr string // host:port
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
	args []string
	bin  string
	mu   sync.Mutex
	// prepare, if set, runs before each start (ClickHouse's config: a
	// fresh HTTP port, since the last may have been taken while stopped).
	prepare func() error
}

// Stop kills the server and waits for it to exit. Safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Start (re)starts a stopped server on the same port and directory, so its
// persisted data (ClickHouse tables, Redis AOF) is kept.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
}

// Restart is Start returning its error, for a goroutine other than the
// test's (which must not fail the test itself).
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	if err := s.spawn(); err != nil {
		return fmt.Errorf("restart %s: %w", filepath.Base(s.bin), err)
	}
	return nil
}

func (s *Server) spawn() error {
	if s.prepare != nil {
		if err := s.prepare(); err != nil {
			return err
		}
	}
	cmd := exec.Command(s.bin, s.args...)
	// Killed with the test binary, even one that panics or times out
	// before its cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := start(cmd); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	if err := waitTCP(s.Addr, done, 30*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		log, _ := os.ReadFile(filepath.Join(s.Dir, "console.log"))
		errLog, _ := os.ReadFile(filepath.Join(s.Dir, "server.err.log")) // ClickHouse's
		return fmt.Errorf("not listening on %s (%s): %v\n%s%.2000s", s.Addr, cmd.ProcessState, err, log, errLog)
	}
	s.cmd, s.done = cmd, done
	return nil
}

// Redis starts a redis-server with AOF persistence (see redisArgs) on a
// free port and returns it; it is stopped when the test ends.
func Redis(t testing.TB) *Server {
	t.Helper()
	return startRedis(t)
}

// ClickHouse starts a clickhouse-server (Debian's 18.16 here) with a minimal
// config in a temporary directory and returns it; Addr is the native port.
func ClickHouse(t testing.TB) *Server {
	t.Helper()
	return startOwn(t, "clickhouse-server", newClickHouse)
}

// startOwn starts the test's own server of bin with start, in the test's
// temporary directory, and stops it when the test ends (see startShared
// for the package's shared one).
func startOwn(t testing.TB, bin string, start func(dir string) (*Server, error)) *Server {
	t.Helper()
	need(t, bin)
	s, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// newClickHouse starts a clickhouse-server in dir.
func newClickHouse(dir string) (*Server, error) {
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return nil, err
	}
	tcp, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(tcp), Dir: dir, bin: bin,
		args: []string{"--config-file=" + filepath.Join(dir, "config.xml")}}
	s.prepare = func() error { return writeClickHouseConfig(dir, tcp) }
	if err := s.spawn(); err != nil {
		return nil, err
	}
	return s, nil
}

// writeClickHouseConfig writes dir/config.xml: the native port tcp, and an
// HTTP port (which no test uses) free at the time.
func writeClickHouseConfig(dir string, tcp int) error {
	http, err := freePort()
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog></logger>
  <path>%[1]s/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default/></quotas>
</yandex>
`, dir, tcp, http)
	return os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o644)
}

// Context returns a context cancelled when the test ends, with a generous
// deadline so a hung server fails the test instead of the whole run.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Eventually calls cond every `every` until it returns nil, and fails the
// test with cond's last error once within has passed: the one polling loop
// of the tests that wait for a server or a background loop to get somewhere.
func Eventually(t testing.TB, within, every time.Duration, cond func() error) {
	t.Helper()
	for end := time.Now().Add(within); ; time.Sleep(every) {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %s: %v", within, err)
		}
	}
}
