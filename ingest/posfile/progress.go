package posfile

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/xyz/loyalty/ingest"
)

// StoredSize returns the size of the files as stored (compressed, for
// gzip), the total a Progress counts towards; standard input ("-") counts
// nothing.
func StoredSize(paths []string) (int64, error) {
	var total int64
	for _, p := range paths {
		if p == "-" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return 0, fmt.Errorf("ingest: %w", err)
		}
		total += st.Size()
	}
	return total, nil
}

// Progress reports an ingest run's progress: a bar on a terminal, else a
// line every ProgressEvery. The bytes are those of the files as stored
// (compressed, for gzip), like the total. Update runs in the run's
// goroutine (ingest.Run.Progress); the sources' reads count from the
// run's reader, concurrently with it.
type Progress struct {
	// Every is how often a line is written when no bar is drawn:
	// ProgressEvery unless set; 0 writes one after every batch.
	Every time.Duration

	bar      *progressbar.ProgressBar // nil: lines
	out      io.Writer
	now      func() time.Time
	last     time.Time
	start    time.Time
	total    int64
	doneRead atomic.Int64         // bytes of the files read to their end
	cur      atomic.Pointer[File] // the file being read
}

// ProgressEvery is how often Progress writes a line when it draws no bar.
const ProgressEvery = 5 * time.Second

// NewProgress returns the progress of reading total bytes, written to out:
// a bar when bar is set (out is a terminal), lines otherwise.
func NewProgress(out io.Writer, total int64, bar bool) *Progress {
	now := time.Now()
	p := &Progress{Every: ProgressEvery, out: out, now: time.Now, start: now, last: now, total: total}
	if bar {
		p.bar = progressbar.DefaultBytes(total, "ingest")
	}
	return p
}

func (p *Progress) reading(f *File) { p.cur.Store(f) }

func (p *Progress) read(f *File) {
	p.doneRead.Add(f.Consumed())
	p.cur.CompareAndSwap(f, nil)
}

// bytes returns the bytes read so far.
func (p *Progress) bytes() int64 {
	n := p.doneRead.Load()
	if f := p.cur.Load(); f != nil {
		n += f.Consumed()
	}
	return n
}

// Update shows the run's counts c: the bar moves at every call (its text
// at most every 200 ms); a line is written once ProgressEvery has passed
// since the last. What can't be written is dropped (the bar's and the
// lines' write errors are not returned): progress must not stop a run.
func (p *Progress) Update(c ingest.Counts) {
	now := p.now()
	if p.bar != nil {
		_ = p.bar.Set64(p.bytes())
		if now.Sub(p.last) > 200*time.Millisecond {
			p.last = now
			p.bar.Describe(fmt.Sprintf("ingest: %d rows of this file, %d orders applied", c.FileRows, c.Applied))
		}
		return
	}
	if now.Sub(p.last) < p.Every {
		return
	}
	p.last = now
	n := p.bytes()
	el := now.Sub(p.start).Seconds()
	fmt.Fprintf(p.out, "ingest: %d rows of this file, %.1f MB of %.1f MB read, %.0f KB/s, %d orders applied\n",
		c.FileRows, float64(n)/1e6, float64(p.total)/1e6, float64(n)/1e3/el, c.Applied)
}

// Done ends the bar (its line).
func (p *Progress) Done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}
