package embedded

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the file, in the data directory, holding the keys Keys
// generates.
const KeyFile = "keys"

// GeneratedKeys are the signing and proxy-name keys of an embedded data
// directory.
type GeneratedKeys struct {
	Auth  []byte // the HS256 key of the bearer tokens
	Proxy []byte // the key of the proxy-name hash
}

// Keys returns the keys of the data directory dir, generating them on first
// use: 32 random bytes each, hex-encoded, in dir/keys (mode 0600, two lines:
// auth, proxy). It takes no lock, so `loyalty token` works while a server
// owns the directory; two first uses at once agree on one file (it is
// created whole with O_EXCL and never rewritten).
func Keys(dir string) (GeneratedKeys, error) {
	path := filepath.Join(dir, KeyFile)
	if k, err := readKeys(path); !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return GeneratedKeys{}, fmt.Errorf("embedded keys: %w", err)
	}
	var raw [64]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return GeneratedKeys{}, fmt.Errorf("embedded keys: %w", err)
	}
	body := hex.EncodeToString(raw[:32]) + "\n" + hex.EncodeToString(raw[32:]) + "\n"
	tmp, err := os.CreateTemp(dir, ".keys-*")
	if err != nil {
		return GeneratedKeys{}, fmt.Errorf("embedded keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file with mode 0600.
	_, err = tmp.WriteString(body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return GeneratedKeys{}, fmt.Errorf("embedded keys: %w", err)
	}
	// A hard link publishes the complete file, and fails if another process
	// published its keys first: then those are the keys.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return GeneratedKeys{}, fmt.Errorf("embedded keys: %w", err)
	}
	return readKeys(path)
}

func readKeys(path string) (GeneratedKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return GeneratedKeys{}, err
	}
	lines := strings.Fields(string(b))
	if len(lines) != 2 || len(lines[0]) < 64 || len(lines[1]) < 64 {
		return GeneratedKeys{}, fmt.Errorf("embedded keys: %s is not two lines of 64 hex digits; delete it to generate new keys (tokens signed with the old ones stop working, and proxy names change)", path)
	}
	return GeneratedKeys{Auth: []byte(lines[0]), Proxy: []byte(lines[1])}, nil
}
