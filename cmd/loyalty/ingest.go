package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
	"github.com/xyz/loyalty/ingest/posfile"
)

// Exit codes of ingest.
const (
	exitRejected = 2 // the run finished, some rows were rejected (see the rejects files)
)

func ingestCmd() *cobra.Command {
	var (
		format, channel, storeID, currency, rejects string
		metricsFile                                 string
		batch, parallel, maxGroupMiB                int
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
			r := &ingestRun{out: cmd.OutOrStdout(), rejectsPath: rejects}
			cfg := ingest.DefaultRunConfig()
			cfg.Batch, cfg.Parallel, cfg.Corrections = batch, parallel, corrections
			cfg.Recent = time.Duration(e.cfg.Points.DedupeDays) * 24 * time.Hour
			opts := posfile.Options{Format: posfile.Format(format), Channel: ingest.Channel(channel), StoreID: storeID, Currency: currency,
				MaxGroupBytes: int64(maxGroupMiB) << 20}
			err = r.run(ctx, s, e.log, cfg, opts, files)
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
			if r.counts.Rejected > 0 {
				return &exitError{exitRejected, fmt.Sprintf("%d rows rejected; see %s", r.counts.Rejected, r.rejectFiles())}
			}
			return nil
		})
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "orders or lines (default: detected from the header)")
	f.StringVar(&channel, "channel", "store", "channel of rows that name none: store, web or app")
	f.StringVar(&storeID, "store-id", "", "store id of rows that name none (default: the file's directory name)")
	f.StringVar(&currency, "currency", "GBP", "currency of line-item prices")
	f.StringVar(&rejects, "rejects", "", "rejects file (default: FILE.rejects.csv beside each input)")
	f.IntVar(&batch, "batch", 2000, "orders per ledger look-up and hand-off between the stages (each write call takes up to 256)")
	f.IntVar(&parallel, "parallel", 2, "write calls in flight (each customer's orders still apply in file order); 1: one after another")
	f.BoolVar(&corrections, "corrections", false, "the files hold corrected orders, each already applied with wrong content: apply the difference in points as a correction of each (an order never applied is rejected)")
	f.StringVar(&metricsFile, "metrics-file", "", "write the run's counts there in the Prometheus text format (for node_exporter's textfile collector)")
	f.IntVar(&maxGroupMiB, "max-group-mib", posfile.DefaultMaxGroupBytes>>20, "memory (MiB) a line-items file may take to group its lines by invoice")
	return cmd
}

// ingestRun is one run of ingest: the pipeline's counts, the rejects files
// and the progress.
type ingestRun struct {
	out         io.Writer
	rejectsPath string
	counts      ingest.Counts
	started     time.Time
	rejectW     map[string]*csv.Writer
	rejectF     map[string]*os.File
}

// run applies the files through the ingest pipeline (ingest.Run), with
// the ledger look-ups ahead and the shipper while the run goes when
// ClickHouse is there.
func (r *ingestRun) run(ctx context.Context, s *stores, log *slog.Logger, cfg ingest.RunConfig, opts posfile.Options, files []string) error {
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
	cfg.Actor = func(path string) string { return "ingest:" + filepath.Base(path) }
	var check ingest.LedgerCheck
	var shipper ingest.Runner
	if s.index != nil {
		check = ledgerCheck{s.index, ingest.WithDeadLetters(s.ledger, s.index)}
		shipper = ingest.ShipEvery(s.shipper.Drain, 2*time.Second, log)
	}
	open := func(path string) (ingest.Source, error) { return openSource(path, opts, prog) }
	run := ingest.NewRun(cfg, s.writer, check, shipper, open, r.reject)
	run.Progress = func(c ingest.Counts) { prog.update(c) }
	err := run.Files(ctx, files)
	r.counts = run.Counts()
	return err
}

// ledgerCheck is the look-up ahead: the index's shipped mark and the
// ledger with the dead letters.
type ledgerCheck struct {
	idx *redisindex.Index
	ingest.History
}

func (l ledgerCheck) Shipped(ctx context.Context) (uint64, error) { return l.idx.Shipped(ctx) }

// posSource reads one input with posfile: its bad rows are rejects.
type posSource struct {
	path string
	f    *posfile.File
	rd   *posfile.Reader
	prog *progress
}

func openSource(path string, opts posfile.Options, prog *progress) (ingest.Source, error) {
	f, err := posfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if opts.StoreID == "" {
		if abs, err := filepath.Abs(path); err == nil && path != "-" {
			opts.StoreID = filepath.Base(filepath.Dir(abs))
		} else {
			opts.StoreID = "stdin"
		}
	}
	rd, err := posfile.NewReader(f, path, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ingest: %w", err)
	}
	prog.reading(f)
	return &posSource{path, f, rd, prog}, nil
}

func (p *posSource) Next() (ingest.Order, int, error) {
	o, line, err := p.rd.Next()
	var re *posfile.RecordError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return o, line, err
	case errors.As(err, &re):
		return o, line, &ingest.Reject{File: re.File, Line: re.Line, OrderID: re.OrderID, Reason: re.Reason}
	case errors.Is(err, posfile.ErrTooLarge):
		return o, line, fmt.Errorf("ingest: %w (--max-group-mib); nothing of this file was applied, and a re-run counts nothing twice", err)
	default:
		return o, line, fmt.Errorf("ingest %s: %w", p.path, err)
	}
}

func (p *posSource) Rows() int64 { return p.rd.Rows() }

func (p *posSource) Close() error {
	p.prog.read(p.f)
	return p.f.Close()
}

// reject records a bad row in the rejects file of its input. The default
// file is FILE.rejects.csv beside the input, or in the current directory
// when the input's directory is read-only (or for standard input); --rejects
// names one file for every input. A rejects file that can't be written stops
// the run: a reject must not be lost.
func (r *ingestRun) reject(rej ingest.Reject) error {
	path := r.rejectsPath
	if path == "" {
		path = rejectsBeside(rej.File)
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
	return w.Write([]string{rej.File, strconv.Itoa(rej.Line), rej.OrderID, rej.Reason})
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
	c := r.counts
	rate := float64(c.Rows) / max(d.Seconds(), 1e-9)
	fmt.Fprintf(r.out, "files %d, rows %d, orders applied %d, skipped (anonymous) %d, rejected %d, duplicates %d\n",
		c.Files, c.Rows, c.Applied, c.Skipped, c.Rejected, c.Duplicates)
	fmt.Fprintf(r.out, "points awarded %d, deducted %d, time %s, %.0f rows/s\n", c.Awarded, c.Deducted, d.Round(time.Millisecond), rate)
}

// progress is a bar on a terminal and a line every few seconds otherwise.
// The bytes are those of the files as stored (compressed, for gzip), like
// the total. update runs in the run's goroutine; reading and read in the
// pipeline's reader.
type progress struct {
	bar      *progressbar.ProgressBar
	out      io.Writer
	last     time.Time
	start    time.Time
	total    int64
	doneRead atomic.Int64                 // bytes of the files read to their end
	cur      atomic.Pointer[posfile.File] // the file being read
}

func newProgress(out io.Writer, total int64) *progress {
	p := &progress{out: out, start: time.Now(), last: time.Now(), total: total}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.DefaultBytes(total, "ingest")
	}
	return p
}

func (p *progress) reading(f *posfile.File) { p.cur.Store(f) }

func (p *progress) read(f *posfile.File) {
	p.doneRead.Add(f.Consumed())
	p.cur.CompareAndSwap(f, nil)
}

// bytes returns the bytes read so far.
func (p *progress) bytes() int64 {
	n := p.doneRead.Load()
	if f := p.cur.Load(); f != nil {
		n += f.Consumed()
	}
	return n
}

func (p *progress) update(c ingest.Counts) {
	if p.bar != nil {
		_ = p.bar.Set64(p.bytes())
		if time.Since(p.last) > 200*time.Millisecond {
			p.last = time.Now()
			p.bar.Describe(fmt.Sprintf("ingest: %d rows of this file, %d orders applied", c.FileRows, c.Applied))
		}
		return
	}
	if time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	n := p.bytes()
	el := time.Since(p.start).Seconds()
	fmt.Fprintf(p.out, "ingest: %d rows of this file, %.1f MB of %.1f MB read, %.0f KB/s, %d orders applied\n",
		c.FileRows, float64(n)/1e6, float64(p.total)/1e6, float64(n)/1e3/el, c.Applied)
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}
