package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ingest/posfile"
	"github.com/xyz/loyalty/ledger"
)

// Exit codes of ingest.
const (
	exitRejected = 2 // the run finished, some rows were rejected (see the rejects files)
)

func ingestCmd() *cobra.Command {
	var (
		format, channel, storeID, currency, rejects string
		metricsFile                                 string
		batch, maxGroupMiB                          int
		corrections                                 bool
	)
	cmd := command("ingest FILE...", "Apply store POS order files (orders or line items; gzip and - for stdin)",
		func(ctx context.Context, e env, cmd *cobra.Command, files []string) error {
			if len(files) == 0 {
				return errors.New("ingest: name at least one file (- for standard input)")
			}
			s, err := openStores(ctx, e.cfg, e.log, true)
			if err != nil {
				return err
			}
			defer s.Close()
			r := &ingestRun{w: s.writer, out: cmd.OutOrStdout(), batch: batch, rejectsPath: rejects, corrections: corrections,
				opts: posfile.Options{Format: posfile.Format(format), Channel: ingest.Channel(channel), StoreID: storeID, Currency: currency,
					MaxGroupBytes: int64(maxGroupMiB) << 20}}
			err = r.run(ctx, files)
			if err == nil && s.shipper != nil {
				if _, serr := s.shipper.ShipOnce(ctx); serr != nil {
					e.log.Warn("ledger not yet written (the service's shipper will catch up)", "err", serr)
				}
			}
			r.summary()
			if metricsFile != "" {
				if merr := r.writeMetrics(metricsFile, err); merr != nil {
					e.log.Error("metrics file not written", "err", merr)
				}
			}
			if err != nil {
				return err
			}
			if r.rejected > 0 {
				return &exitError{exitRejected, fmt.Sprintf("%d rows rejected; see %s", r.rejected, r.rejectFiles())}
			}
			return nil
		})
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "orders or lines (default: detected from the header)")
	f.StringVar(&channel, "channel", "store", "channel of rows that name none: store, web or app")
	f.StringVar(&storeID, "store-id", "", "store id of rows that name none (default: the file's directory name)")
	f.StringVar(&currency, "currency", "GBP", "currency of line-item prices")
	f.StringVar(&rejects, "rejects", "", "rejects file (default: FILE.rejects.csv beside each input)")
	f.IntVar(&batch, "batch", 2000, "orders per write batch")
	f.BoolVar(&corrections, "corrections", false, "the files hold corrected orders, each already applied with wrong content: apply the difference in points as a correction of each (an order never applied is rejected)")
	f.StringVar(&metricsFile, "metrics-file", "", "write the run's counts there in the Prometheus text format (for node_exporter's textfile collector)")
	f.IntVar(&maxGroupMiB, "max-group-mib", posfile.DefaultMaxGroupBytes>>20, "memory (MiB) a line-items file may take to group its lines by invoice")
	return cmd
}

type pending struct {
	file  string
	line  int
	order string
}

// ingestRun is one run of ingest: counters, rejects and progress.
type ingestRun struct {
	w           *ingest.Writer
	out         io.Writer
	opts        posfile.Options
	batch       int
	rejectsPath string
	corrections bool

	files, rows, applied, skipped, rejected, duplicates int64
	awarded, deducted                                   int64
	started                                             time.Time
	rejectW                                             map[string]*csv.Writer
	rejectF                                             map[string]*os.File
}

func (r *ingestRun) run(ctx context.Context, files []string) error {
	r.started = time.Now()
	r.rejectW, r.rejectF = map[string]*csv.Writer{}, map[string]*os.File{}
	defer r.closeRejects()
	var total int64
	for _, f := range files {
		if f == "-" {
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		total += st.Size()
	}
	prog := newProgress(r.out, total)
	defer prog.done()
	for _, f := range files {
		if err := r.file(ctx, f, prog); err != nil {
			return err
		}
		r.files++
	}
	return nil
}

func (r *ingestRun) file(ctx context.Context, path string, prog *progress) error {
	rc, err := posfile.Open(path)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer rc.Close()
	opts := r.opts
	if opts.StoreID == "" {
		if abs, err := filepath.Abs(path); err == nil && path != "-" {
			opts.StoreID = filepath.Base(filepath.Dir(abs))
		} else {
			opts.StoreID = "stdin"
		}
	}
	rd, err := posfile.NewReader(prog.reader(rc), path, opts)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	actor := "ingest:" + filepath.Base(path)
	var changes []ledger.Change
	var where []pending
	flush := func() error {
		if len(changes) == 0 {
			return nil
		}
		out, err := r.apply(ctx, changes)
		if err != nil {
			return err
		}
		for i, o := range out {
			var rerr error
			switch {
			case o.Err != nil && errors.Is(o.Err, ledger.ErrConflict):
				rerr = r.reject(where[i].file, where[i].line, where[i].order, "order id already applied with different content (conflict); not applied")
			case o.Err != nil:
				rerr = r.reject(where[i].file, where[i].line, where[i].order, o.Err.Error())
			case o.Replayed:
				r.duplicates++
			default:
				r.applied++
				if o.Delta > 0 {
					r.awarded += o.Delta
				} else {
					r.deducted -= o.Delta
				}
			}
			if rerr != nil {
				return rerr
			}
		}
		changes, where = changes[:0], where[:0]
		return nil
	}
	for {
		o, line, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *posfile.RecordError
		switch {
		case errors.As(err, &re):
			if err := r.reject(re.File, re.Line, re.OrderID, re.Reason); err != nil {
				return err
			}
			continue
		case errors.Is(err, posfile.ErrTooLarge):
			return fmt.Errorf("ingest: %w (--max-group-mib); nothing of this file was applied, and a re-run counts nothing twice", err)
		case err != nil:
			return fmt.Errorf("ingest %s: %w", path, err)
		case o.CustomerID == 0:
			r.skipped++
			continue
		}
		if r.corrections {
			if err := r.correct(ctx, path, line, o, actor); err != nil {
				return err
			}
			prog.rows(rd.Rows())
			continue
		}
		c, err := o.Change(r.w.Rule(), actor)
		if err != nil {
			if err := r.reject(path, line, o.ID, err.Error()); err != nil {
				return err
			}
			continue
		}
		changes = append(changes, c)
		where = append(where, pending{path, line, o.ID})
		if len(changes) >= r.batch {
			if err := flush(); err != nil {
				return err
			}
		}
		prog.rows(rd.Rows())
	}
	r.rows += rd.Rows()
	return flush()
}

// apply applies a batch, retrying while a store is unreachable.
func (r *ingestRun) apply(ctx context.Context, cs []ledger.Change) ([]ledger.Outcome, error) {
	var out []ledger.Outcome
	err := retry(ctx, func() (err error) {
		out, err = r.w.Apply(ctx, cs)
		return err
	})
	return out, err
}

// correct applies one corrected order (--corrections), retrying while a
// store is unreachable; what can't be corrected is a reject.
func (r *ingestRun) correct(ctx context.Context, file string, line int, o ingest.Order, actor string) error {
	var out ledger.Outcome
	err := retry(ctx, func() (err error) {
		out, err = r.w.Correct(ctx, o, actor)
		return err
	})
	if err == nil {
		err = out.Err
	}
	var fe *ingest.FieldError
	switch {
	case errors.Is(err, ingest.ErrNotFound):
		return r.reject(file, line, o.ID, "order "+o.ID+" was never applied, so there is nothing to correct: ingest it without --corrections")
	case errors.Is(err, ledger.ErrConflict):
		return r.reject(file, line, o.ID, "order "+o.ID+" was corrected by someone else at the same moment; run the corrections again")
	case errors.As(err, &fe), errors.Is(err, ingest.ErrInvalid):
		return r.reject(file, line, o.ID, err.Error())
	case err != nil && out.Err != nil:
		return r.reject(file, line, o.ID, err.Error())
	case err != nil:
		return err
	case out.Replayed:
		r.duplicates++
	default:
		r.applied++
		if out.Delta > 0 {
			r.awarded += out.Delta
		} else {
			r.deducted -= out.Delta
		}
	}
	return nil
}

// retry calls fn until it succeeds, fails for a reason other than a store
// being unreachable, or has failed 6 times (about 6 s): every write is
// idempotent, so a retry after an unknown outcome counts nothing twice.
func retry(ctx context.Context, fn func() error) error {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !errors.Is(err, ingest.ErrUnavailable) || attempt == 6 {
			if err != nil && errors.Is(err, ingest.ErrUnavailable) {
				return fmt.Errorf("ingest: %w (re-run the same command when the store is back: nothing is counted twice)", err)
			}
			return err
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reject records a bad row in the rejects file of its input. The default
// file is FILE.rejects.csv beside the input, or in the current directory
// when the input's directory is read-only (or for standard input); --rejects
// names one file for every input. A rejects file that can't be written stops
// the run: a reject must not be lost.
func (r *ingestRun) reject(file string, line int, order, reason string) error {
	r.rejected++
	path := r.rejectsPath
	if path == "" {
		path = rejectsBeside(file)
	}
	w := r.rejectW[path]
	if w == nil {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("ingest: cannot write the rejects file (choose one with --rejects): %w", err)
		}
		w = csv.NewWriter(f)
		w.Write([]string{"file", "line", "order_id", "reason"})
		r.rejectW[path], r.rejectF[path] = w, f
	}
	return w.Write([]string{file, strconv.Itoa(line), order, reason})
}

// rejectsBeside is the default rejects file of an input.
func rejectsBeside(file string) string {
	if file == "-" {
		return "stdin.rejects.csv"
	}
	base := filepath.Base(file) + ".rejects.csv"
	if st, err := os.Stat(filepath.Dir(file)); err == nil && st.Mode().Perm()&0o222 != 0 {
		return filepath.Join(filepath.Dir(file), base)
	}
	return base
}

func (r *ingestRun) closeRejects() {
	for p, w := range r.rejectW {
		w.Flush()
		r.rejectF[p].Close()
	}
}

// rejectFiles names the rejects files written.
func (r *ingestRun) rejectFiles() string {
	var names []string
	for p := range r.rejectW {
		names = append(names, p)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (r *ingestRun) summary() {
	d := time.Since(r.started)
	rate := float64(r.rows) / max(d.Seconds(), 1e-9)
	fmt.Fprintf(r.out, "files %d, rows %d, orders applied %d, skipped (anonymous) %d, rejected %d, duplicates %d\n",
		r.files, r.rows, r.applied, r.skipped, r.rejected, r.duplicates)
	fmt.Fprintf(r.out, "points awarded %d, deducted %d, time %s, %.0f rows/s\n", r.awarded, r.deducted, d.Round(time.Millisecond), rate)
}

// progress is a bar on a terminal and a line every few seconds otherwise.
type progress struct {
	bar   *progressbar.ProgressBar
	out   io.Writer
	last  time.Time
	start time.Time
	n     int64
	total int64
}

func newProgress(out io.Writer, total int64) *progress {
	p := &progress{out: out, start: time.Now(), last: time.Now(), total: total}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.DefaultBytes(total, "ingest")
	}
	return p
}

type countReader struct {
	r io.Reader
	p *progress
}

func (c countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.n += int64(n)
	if c.p.bar != nil {
		_ = c.p.bar.Add(n)
	}
	return n, err
}

func (p *progress) reader(r io.Reader) io.Reader { return countReader{r, p} }

func (p *progress) rows(rows int64) {
	if p.bar != nil {
		if time.Since(p.last) > 200*time.Millisecond {
			p.last = time.Now()
			p.bar.Describe(fmt.Sprintf("ingest: %d rows of this file", rows))
		}
		return
	}
	if time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	fmt.Fprintf(p.out, "ingest: %d rows of this file, %.1f MB of %.1f MB read, %.0f KB/s\n", rows, float64(p.n)/1e6, float64(p.total)/1e6, float64(p.n)/1e3/el)
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}
