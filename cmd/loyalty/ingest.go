package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

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
		progressEvery                               time.Duration
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
			cfg := ingest.DefaultRunConfig()
			cfg.Batch, cfg.Parallel, cfg.Corrections = batch, parallel, corrections
			cfg.Recent = time.Duration(e.cfg.Points.DedupeDays) * 24 * time.Hour
			opts := posfile.Options{Format: posfile.Format(format), Channel: ingest.Channel(channel), StoreID: storeID, Currency: currency,
				MaxGroupBytes: int64(maxGroupMiB) << 20}
			out := cmd.OutOrStdout()
			started := time.Now()
			rej := ingest.NewRejectFiles(rejects)
			counts, err := runIngest(ctx, s, e.log, cfg, opts, files, rej.Write, out, progressEvery)
			// A reject not written is lost: the run failed.
			err = errors.Join(err, rej.Close())
			if err == nil && s.shipper != nil {
				if _, serr := s.shipper.ShipOnce(ctx); serr != nil {
					e.log.Warn("ledger not yet written (the service's shipper will catch up)", "err", serr)
				}
			}
			took := time.Since(started)
			werr := counts.WriteSummary(out, took)
			if metricsFile != "" {
				if merr := writeIngestMetrics(metricsFile, counts, took, err); merr != nil {
					e.log.Error("metrics file not written", "err", merr)
				}
			}
			if err = errors.Join(err, werr); err != nil {
				return err
			}
			if counts.Rejected > 0 {
				return &exitError{exitRejected, fmt.Sprintf("%d rows rejected; see %s", counts.Rejected, strings.Join(rej.Names(), ", "))}
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
	// Hidden: the kill-and-resume test reads a line after every batch (0).
	f.DurationVar(&progressEvery, "progress-every", posfile.ProgressEvery, "how often a progress line is written when the output is no terminal")
	_ = f.MarkHidden("progress-every")
	return cmd
}

// runIngest applies the files through the ingest pipeline (ingest.Run),
// with the ledger look-ups ahead and the shipper while the run goes when
// ClickHouse is there, and the progress on out.
func runIngest(ctx context.Context, s *stores, log *slog.Logger, cfg ingest.RunConfig, opts posfile.Options, files []string,
	reject func(ingest.Reject) error, out io.Writer, progressEvery time.Duration) (ingest.Counts, error) {
	total, err := posfile.StoredSize(files)
	if err != nil {
		return ingest.Counts{}, err
	}
	prog := posfile.NewProgress(out, total, isTerminal(out))
	prog.Every = progressEvery
	defer prog.Done()
	cfg.Actor = func(path string) string { return "ingest:" + filepath.Base(path) }
	var check ingest.LedgerCheck
	var shipper ingest.Runner
	if s.index != nil {
		check = ledgerCheck{s.index, ingest.WithDeadLetters(s.ledger, s.index)}
		shipper = ingest.ShipEvery(s.shipper.Drain, 2*time.Second, log)
	}
	open := func(path string) (ingest.Source, error) {
		src, err := posfile.OpenSource(path, opts, prog)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	run := ingest.NewRun(cfg, s.writer, check, shipper, open, reject)
	run.Progress = prog.Update
	err = run.Files(ctx, files)
	return run.Counts(), err
}

// isTerminal reports whether out is a terminal (the progress bar's).
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ledgerCheck is the look-up ahead: the index's shipped mark and the
// ledger with the dead letters.
type ledgerCheck struct {
	idx *redisindex.Index
	ingest.History
}

func (l ledgerCheck) Shipped(ctx context.Context) (uint64, error) { return l.idx.Shipped(ctx) }
