package testenv

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// ParallelPerCPU is how many parallel tests per CPU Main runs at once when
// -parallel is not given.
const ParallelPerCPU = 4

// shared holds the servers a test package shares: started at first use,
// stopped by Main once every test has run.
var shared struct {
	mu      sync.Mutex
	inMain  bool
	servers map[string]*sharedServer
	remove  []string // directories to remove at the end
}

type sharedServer struct {
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the package's tests and then stops the servers SharedRedis and
// SharedClickHouse started and removes their directories (and RetailData's
// shared copy); it returns the exit code for os.Exit. The tests' temporary
// files go to memory (see memoryDir) unless TMPDIR says where. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// Tests on servers mostly wait (for a server, a child process, a failover),
// so unless -parallel is given Main lets ParallelPerCPU parallel tests per
// CPU run at once rather than go test's one.
func Main(m *testing.M) int {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(ParallelPerCPU*runtime.GOMAXPROCS(0)))
	}
	useMemory()
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, s := range shared.servers {
		if s.srv != nil {
			s.srv.Stop()
			os.RemoveAll(s.srv.Dir)
		}
	}
	shared.servers = nil
	for _, dir := range shared.remove {
		os.RemoveAll(dir)
	}
	shared.remove = nil
	return code
}

// memoryDir is where Main puts the tests' temporary files, the servers'
// data directories among them, when TMPDIR is not set: a tmpfs, so the
// tests measure the code rather than the disk. A ClickHouse insert creates
// a part of ~40 files, and on this project's ext4 test machine the
// servers' file system calls cost more CPU than everything else a server
// test does. Nothing the tests check needs a disk: they kill processes,
// not machines, and a killed process's writes are in the page cache
// either way.
const memoryDir = "/dev/shm"

// useMemory sets TMPDIR to memoryDir when TMPDIR is unset and memoryDir is
// a directory this process can write.
func useMemory() {
	if os.Getenv("TMPDIR") == "" && memoryWritable() {
		os.Setenv("TMPDIR", memoryDir)
	}
}

// memoryWritable reports whether this process can create files in memoryDir.
func memoryWritable() bool {
	probe, err := os.MkdirTemp(memoryDir, "loyalty-probe-")
	if err != nil {
		return false
	}
	os.Remove(probe)
	return true
}

// inMain reports whether Main runs the tests.
func inMain() bool {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return shared.inMain
}

// removeAtEnd has Main remove dir once every test has run.
func removeAtEnd(dir string) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.remove = append(shared.remove, dir)
}

// SharedRedis returns the test package's shared redis-server (configured as
// Redis's, but without the append-only file: nobody restarts it, so the
// file would only cost the ~20% of its CPU that writing it takes), started
// at its first use. Tests on it must keep to their own key prefix and leave
// the server as they found it: no FLUSHALL, CONFIG SET, stop or pause
// (those start a Redis of their own). The package's TestMain must call Main.
func SharedRedis(t testing.TB) *Server {
	t.Helper()
	return startShared(t, "redis-server", func(dir string) (*Server, error) { return newRedis(dir, "--appendonly", "no") })
}

// SharedClickHouse returns the test package's shared clickhouse-server,
// started at its first use. Tests on it must keep to their own database and
// must not stop it. The package's TestMain must call Main.
func SharedClickHouse(t testing.TB) *Server {
	t.Helper()
	return startShared(t, "clickhouse-server", newClickHouse)
}

func startShared(t testing.TB, bin string, start func(dir string) (*Server, error)) *Server {
	t.Helper()
	need(t, bin)
	shared.mu.Lock()
	if !shared.inMain {
		shared.mu.Unlock()
		t.Fatalf("a shared %s needs the package's TestMain to run testenv.Main(m), which stops it", bin)
	}
	if shared.servers == nil {
		shared.servers = map[string]*sharedServer{}
	}
	s := shared.servers[bin]
	if s == nil {
		s = &sharedServer{}
		shared.servers[bin] = s
	}
	shared.mu.Unlock()
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", "testenv-"+bin+"-")
		if err != nil {
			s.err = err
			return
		}
		if s.srv, s.err = start(dir); s.err != nil {
			os.RemoveAll(dir)
		}
	})
	if s.err != nil {
		t.Fatalf("start the shared %s: %v", bin, s.err)
	}
	return s.srv
}
