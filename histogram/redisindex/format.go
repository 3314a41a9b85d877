package redisindex

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Format is the layout the index writes remembered change ids and
// change-log entries in (the key {P}:format; see doc.go, "Upgrading: the
// format gate"). This version reads both layouts whatever the format.
type Format int

const (
	// FormatText writes the id as the hash field with a text record, and
	// log entries of eight fields: what versions before the compact formats
	// wrote, and the only layout they read. An existing board is at it
	// until an operator switches.
	FormatText Format = 1
	// FormatCompact writes a 10-byte id field with a packed record, and
	// log entries of two fields; it trusts {P}:o:ahead. Versions before it
	// read neither form.
	FormatCompact Format = 2
)

func (f Format) String() string {
	switch f {
	case FormatText:
		return "text"
	case FormatCompact:
		return "compact"
	}
	return "format " + strconv.Itoa(int(f))
}

// Format returns the board's format; fresh means nothing was written yet
// (no {P}:seq and no {P}:format): the first write sets FormatCompact, which
// Format then already answers.
func (x *Index) Format(ctx context.Context) (f Format, fresh bool, err error) {
	v, err := x.rdb.MGet(ctx, x.formatKey(), x.seqKey()).Result()
	if err != nil {
		return 0, false, unavailable("read index format", err)
	}
	s, _ := v[0].(string)
	switch {
	case v[0] == nil && v[1] == nil:
		return FormatCompact, true, nil
	case v[0] == nil || s == "1":
		return FormatText, false, nil
	case s == "2":
		return FormatCompact, false, nil
	}
	return 0, false, fmt.Errorf("%s is %q: not a format this version knows (1 or 2)", x.formatKey(), s)
}

// FormatSwitch is what SetFormat did.
type FormatSwitch struct {
	// From is the format before (FormatCompact for a fresh board).
	From Format
	// CompactUntil, after a switch from FormatCompact back to FormatText,
	// is when the last ids remembered in the compact form expire (on
	// Redis's clock): a version before the compact formats must not run
	// before, or it would not find them and could apply a retry twice.
	// Zero otherwise.
	CompactUntil time.Time
}

// SetFormat switches the board to format f, atomically. To FormatCompact it
// first raises {P}:o:ahead to the latest day a memory day can be now, which
// covers every id an earlier version's writer remembered without keeping
// that key, so the compact format's shorter search still finds them; it
// is safe only once no process of a version before the compact formats
// runs (they would not read what this one writes from then on). To
// FormatText it is safe at any time (this version reads both).
func (x *Index) SetFormat(ctx context.Context, f Format) (FormatSwitch, error) {
	if f != FormatText && f != FormatCompact {
		return FormatSwitch{}, fmt.Errorf("set index format: %v is not a format (text or compact)", f)
	}
	v, err := x.run(ctx, formatScript, []string{x.clockKey(), x.formatKey(), x.seqKey(), x.aheadKey()}, true,
		int(f), int64(x.cfg.MaxAhead/time.Second))
	if err != nil {
		return FormatSwitch{}, x.writeErr("set index format", err)
	}
	from, e1 := strconv.Atoi(replyString(v, 0))
	day, e2 := strconv.ParseInt(replyString(v, 1), 10, 64)
	if err := errors.Join(e1, e2); err != nil {
		return FormatSwitch{}, fmt.Errorf("set index format: reply %v: %w", v, err)
	}
	sw := FormatSwitch{From: Format(from)}
	if day > 0 {
		sw.CompactUntil = time.Unix((day+int64(x.cfg.DedupeDays)+1)*daySeconds, 0).UTC()
	}
	return sw, nil
}
