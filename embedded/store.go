// Package embedded is the store that needs no servers: the ranking board in
// memory and the ledger in a local append-only file (JSON lines, fsynced
// before a change is acknowledged), from which the board and the memory of
// change ids are rebuilt at start. One process at a time owns a data
// directory (an advisory lock). It is what `loyalty serve` runs on when no
// Redis is configured.
package embedded

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/xyz/loyalty/histogram"
	"github.com/xyz/loyalty/ledger"
	"github.com/xyz/loyalty/ranker"
)

// ErrLocked means another process owns the data directory.
var ErrLocked = errors.New("data directory in use by another loyalty process")

type seen struct {
	digest string
	entry  ledger.Entry
}

// Store is the embedded index and ledger. Safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	board   *ranker.Board
	seasons map[string]*ranker.Board // season boards, created by their first change
	ids     map[string]seen
	f       ledgerFile
	size    int64 // of the ledger file: whole lines only
	broken  error // set when a failed write could not be undone: no more changes
	lock    *os.File
	seq     uint64
	path    string
	now     func() time.Time
}

// ledgerFile is the ledger file, opened for appending (an *os.File).
type ledgerFile interface {
	Write(b []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Open opens (or creates) the store in dir and replays its ledger.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s (stop the other process, or give this one another data dir)", ErrLocked, dir)
	}
	s := &Store{board: ranker.NewBoard(), seasons: map[string]*ranker.Board{}, ids: map[string]seen{}, lock: lock, path: filepath.Join(dir, "ledger.jsonl"), now: time.Now}
	if err := s.replay(); err != nil {
		lock.Close()
		return nil, err
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	s.f = f
	return s, nil
}

// replay reads the ledger file; a torn last line (a crash mid-write, never
// acknowledged) is cut off.
func (s *Store) replay() error {
	good, torn, err := readLedger(s.path, func(e ledger.Entry) {
		s.ids[e.ID] = seen{e.Digest, e}
		s.board.Set(e.CustomerID, e.Balance, e.Seq)
		if e.Season != "" {
			s.season(e.Season).Set(e.CustomerID, e.SeasonBalance, e.Seq)
		}
		s.seq = e.Seq
	})
	if err != nil {
		return err
	}
	s.size = good
	if torn {
		return os.Truncate(s.path, good)
	}
	return nil
}

// readLedger calls fn with each entry of the ledger file at path, in file
// order, and returns the length of the whole lines read and whether a last
// line without its newline (torn, or still being written) follows them. A
// missing file holds no entries.
func readLedger(path string, fn func(ledger.Entry)) (good int64, torn bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read ledger: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return good, len(b) > 0, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("read ledger: %w", err)
		}
		var e ledger.Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return 0, false, fmt.Errorf("ledger %s line %d: %w", path, line, err)
		}
		fn(e)
		good += int64(len(b))
	}
}

type seasonKey struct {
	season   string
	customer uint64
}

// season returns the board of season name, creating it (hold s.mu).
func (s *Store) season(name string) *ranker.Board {
	b := s.seasons[name]
	if b == nil {
		b = ranker.NewBoard()
		s.seasons[name] = b
	}
	return b
}

// SeasonBoard returns the board of season name (nil before its first
// change). Season boards are kept in memory for every season seen.
func (s *Store) SeasonBoard(name string) *ranker.Board {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seasons[name]
}

// Board returns the board (the index itself, always current).
func (s *Store) Board() *ranker.Board { return s.board }

// Apply applies changes in order, exactly once by change id, each written
// and synced to the ledger file before the call returns.
func (s *Store) Apply(_ context.Context, changes []ledger.Change) ([]ledger.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return nil, s.broken
	}
	out := make([]ledger.Outcome, len(changes))
	var buf []byte
	pending := map[string]int{}
	var applied []ledger.Entry
	now := s.now().UTC().Truncate(time.Second)
	bal := map[uint64]int64{}
	sbal := map[seasonKey]int64{}
	for i, c := range changes {
		prev, ok := s.ids[c.ID]
		if j, dup := pending[c.ID]; dup {
			prev, ok = seen{applied[j].Digest, applied[j]}, true
		}
		if ok {
			out[i] = ledger.Outcome{Entry: prev.entry, Replayed: true}
			if prev.digest != c.Digest {
				out[i] = ledger.Outcome{Entry: prev.entry, Err: fmt.Errorf("change %s: %w", c.ID, ledger.ErrConflict)}
			}
			continue
		}
		old, ok := bal[c.CustomerID]
		if !ok {
			old = s.board.Balance(c.CustomerID)
		}
		if c.Cause == ledger.CauseManual && old+c.Points < 0 {
			out[i] = ledger.Outcome{Entry: ledger.Entry{Change: c, Balance: old},
				Err: fmt.Errorf("change %s: %w: the balance is %d, the deduction %d", c.ID, ledger.ErrInsufficient, old, -c.Points)}
			continue
		}
		n := max(old+c.Points, 0)
		if n > histogram.MaxPoints {
			out[i] = ledger.Outcome{Entry: ledger.Entry{Change: c}, Err: fmt.Errorf("balance would exceed %d points", histogram.MaxPoints)}
			continue
		}
		bal[c.CustomerID] = n
		e := ledger.Entry{Change: c, Seq: s.seq + uint64(len(applied)) + 1, Delta: n - old, Balance: n, RecordedAt: now}
		if c.Season != "" {
			k := seasonKey{c.Season, c.CustomerID}
			so, ok := sbal[k]
			if !ok {
				so = s.season(c.Season).Balance(c.CustomerID)
			}
			e.SeasonBalance = min(max(so+c.Points, 0), histogram.MaxPoints)
			e.SeasonDelta = e.SeasonBalance - so
			sbal[k] = e.SeasonBalance
		}
		line, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode change %s: %w", c.ID, err)
		}
		buf = append(append(buf, line...), '\n')
		pending[c.ID] = len(applied)
		applied = append(applied, e)
		out[i] = ledger.Outcome{Entry: e}
	}
	if len(applied) == 0 {
		return out, nil
	}
	if err := s.write(buf); err != nil {
		return nil, err
	}
	for _, e := range applied {
		s.ids[e.ID] = seen{e.Digest, e}
		s.board.Set(e.CustomerID, e.Balance, e.Seq)
		if e.Season != "" {
			s.season(e.Season).Set(e.CustomerID, e.SeasonBalance, e.Seq)
		}
	}
	s.seq += uint64(len(applied))
	return out, nil
}

// write appends lines to the ledger file and syncs it. When that fails,
// the file is cut back to its last whole line, so that nothing of the
// failed changes stays (they are not applied) and no later line follows a
// torn one; when even that fails, the store takes no more changes (a
// restart cuts a torn last line off).
func (s *Store) write(b []byte) error {
	_, err := s.f.Write(b)
	if err != nil {
		err = fmt.Errorf("write ledger: %w", err)
	} else if err = s.f.Sync(); err != nil {
		err = fmt.Errorf("sync ledger: %w", err)
	}
	if err == nil {
		s.size += int64(len(b))
		return nil
	}
	if terr := s.f.Truncate(s.size); terr != nil {
		s.broken = fmt.Errorf("embedded store: a failed ledger write could not be undone (%v), so no change is taken until a restart: %w", terr, err)
	}
	return err
}

// Recall returns the entries of the change ids the store has applied
// (it remembers every one).
func (s *Store) Recall(_ context.Context, ids []string) (map[string]ledger.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]ledger.Entry{}
	for _, id := range ids {
		if e, ok := s.ids[id]; ok {
			out[id] = e.entry
		}
	}
	return out, nil
}

// Close closes the ledger file and releases the directory.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.f.Close(), s.lock.Close())
}
