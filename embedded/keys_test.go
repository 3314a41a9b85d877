package embedded

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xyz/loyalty/ledger"
)

// TestKeys: the keys are generated once per data directory, 0600, random
// (two directories differ), the same after a restart and for concurrent
// first uses; a damaged file is refused, saying what to do.
func TestKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var wg sync.WaitGroup
	got := make([]GeneratedKeys, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = Keys(dir) }()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(got[i].Auth, got[0].Auth) || !bytes.Equal(got[i].Proxy, got[0].Proxy) {
			t.Fatalf("concurrent first uses disagree")
		}
	}
	k := got[0]
	if len(k.Auth) < 32 || len(k.Proxy) < 32 || bytes.Equal(k.Auth, k.Proxy) {
		t.Fatalf("keys %d and %d bytes, equal %v", len(k.Auth), len(k.Proxy), bytes.Equal(k.Auth, k.Proxy))
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".keys-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	again, err := Keys(dir)
	if err != nil || !bytes.Equal(again.Auth, k.Auth) || !bytes.Equal(again.Proxy, k.Proxy) {
		t.Fatalf("keys changed on a second use: %v", err)
	}
	other, err := Keys(t.TempDir())
	if err != nil || bytes.Equal(other.Auth, k.Auth) || bytes.Equal(other.Proxy, k.Proxy) {
		t.Fatalf("another directory has the same keys: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Keys(dir); err == nil || !strings.Contains(err.Error(), "delete it to generate new keys") {
		t.Fatalf("damaged key file: %v", err)
	}
}

// TestReadBoard: the board is read from the ledger file while the store is
// open (its lock held), and a line still being written is left out.
func TestReadBoard(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Apply(context.Background(), []ledger.Change{change("a", 1, 5), change("b", 2, 7), change("c", 1, 3)}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "ledger.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"torn","customer_id":3,`)
	f.Close()
	b, err := ReadBoard(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance(1) != 8 || b.Balance(2) != 7 || b.Balance(3) != 0 || b.Len() != 2 {
		t.Fatalf("balances %d %d %d, %d customers", b.Balance(1), b.Balance(2), b.Balance(3), b.Len())
	}
	empty, err := ReadBoard(t.TempDir())
	if err != nil || empty.Len() != 0 {
		t.Fatalf("empty dir: %v, %d", err, empty.Len())
	}
}
