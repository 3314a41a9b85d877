package embedded

import "time"

// SetClock sets the store's clock (the time it records entries at).
func (s *Store) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}
