package ledger

import "time"

// DeadLetter is a change the index applied and the ledger refused, kept by
// the index with the reason until an operator retries or drops it (so the
// entries after it can be shipped).
type DeadLetter struct {
	Seq        uint64    `json:"seq"`
	ChangeID   string    `json:"change_id,omitempty"`   // empty when the entry can't be decoded
	CustomerID uint64    `json:"customer_id,omitempty"` // 0 when unknown
	Reason     string    `json:"reason"`                // why the ledger refused it
	At         time.Time `json:"at"`                    // when it was set aside
	// Entry is the entry to ship; nil when the log entry can't be decoded
	// (then DecodeErr says why and Fields hold it as it was logged).
	Entry     *Entry            `json:"entry,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
	DecodeErr string            `json:"-"`
}

// DroppedLetter is a dead letter an operator gave up on: the ledger never
// records its change.
type DroppedLetter struct {
	DeadLetter
	DropReason string    // why, as the operator said
	DroppedAt  time.Time //
}

// BrokenEntryError reports a change-log entry that can't be decoded into a
// ledger entry (the index's Entries stops at it).
type BrokenEntryError struct {
	Seq        uint64
	CustomerID uint64            // 0 when unknown
	Fields     map[string]string // the entry as logged
	Err        error
}

func (e *BrokenEntryError) Error() string { return e.Err.Error() }

// Unwrap returns the decoding error.
func (e *BrokenEntryError) Unwrap() error { return e.Err }

// DeadLetter returns the dead letter of the broken entry, set aside at for
// reason.
func (e *BrokenEntryError) DeadLetter(reason string, at time.Time) DeadLetter {
	return DeadLetter{Seq: e.Seq, CustomerID: e.CustomerID, Reason: reason, At: at, Fields: e.Fields, DecodeErr: e.Err.Error()}
}
