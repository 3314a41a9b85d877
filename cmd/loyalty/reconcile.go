package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/ingest"
)

// Exit status of reconcile when some balances differ from the ledger.
const exitDiffers = 3

func reconcileCmd() *cobra.Command {
	return command("reconcile", "Report every customer whose Redis balance differs from the ClickHouse ledger (exit 3 if any) and the dead letters (exit 4 if any)",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if e.cfg.embeddedMode() {
				return errors.New("reconcile: the embedded index is rebuilt from its own ledger file; there is nothing to compare")
			}
			s, err := openStores(ctx, e.cfg, e.log, true)
			if err != nil {
				return err
			}
			defer s.Close()
			led, err := s.ledger.Get(ctx)
			if err != nil {
				return err
			}
			sn := e.cfg.seasons()
			r, err := ingest.Reconcile(ctx, ingest.ReconcileConfig{Seasons: sn.Calendar, SeasonsKept: sn.Kept}, s.shipper, s.index, led)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			if r.Clean() {
				fmt.Fprintf(w, "reconcile: every Redis balance equals the ledger (all-time and %d season boards)\n", r.SeasonBoards)
				return w.Flush()
			}
			writeReconciliation(w, r)
			if err := w.Flush(); err != nil {
				return err
			}
			if len(r.DeadLetters) == 0 {
				return &exitError{exitDiffers, fmt.Sprintf("reconcile: %d customers differ on the all-time board, %d on season boards (fix with `loyalty rebuild`)", len(r.AllTime), len(r.Season))}
			}
			seqs := make([]uint64, len(r.DeadLetters))
			for i, d := range r.DeadLetters {
				seqs[i] = d.Seq
			}
			msg := fmt.Sprintf("reconcile: %d dead letters (seq %s): changes applied in Redis that the ledger refused; %s",
				len(r.DeadLetters), joinSeqs(seqs), deadLetterHelp)
			if len(r.AllTime) > 0 {
				msg += fmt.Sprintf("; %d customers differ, %d of them with a dead letter", len(r.AllTime), r.WithDeadLetter())
			}
			return &exitError{exitDeadLetters, msg}
		})
}

// writeReconciliation writes the differences as CSV, the all-time board's
// then the season boards', and a line for each dead letter; w's Flush
// tells whether it was all written.
func writeReconciliation(w *bufio.Writer, r ingest.Reconciliation) {
	if len(r.AllTime) > 0 {
		fmt.Fprintln(w, "customer_id,redis_points,ledger_points")
		for _, d := range r.AllTime {
			fmt.Fprintf(w, "%d,%d,%d\n", d.CustomerID, d.Redis, d.Ledger)
		}
	}
	if len(r.Season) > 0 {
		fmt.Fprintln(w, "season,customer_id,redis_points,ledger_points")
		for _, d := range r.Season {
			fmt.Fprintf(w, "%s,%d,%d,%d\n", d.Board, d.CustomerID, d.Redis, d.Ledger)
		}
	}
	for _, d := range r.DeadLetters {
		delta := "?"
		if d.Entry != nil {
			delta = strconv.FormatInt(d.Entry.Delta, 10)
		}
		fmt.Fprintf(w, "dead letter %d: change %q, customer %d, delta %s, set aside %s: %s\n",
			d.Seq, d.ChangeID, d.CustomerID, delta, d.At.Format(time.RFC3339), d.Reason)
	}
}
