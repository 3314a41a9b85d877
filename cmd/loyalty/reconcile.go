package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

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
			led, err := s.ledger.get(ctx)
			if err != nil {
				return err
			}
			diff := func() (map[uint64][2]int64, error) {
				if _, err := s.shipper.ShipOnce(ctx); err != nil {
					return nil, err
				}
				gen, err := s.index.Generation(ctx)
				if err != nil {
					return nil, err
				}
				redisBal := map[uint64]int64{}
				if err := s.index.Scan(ctx, gen, func(id uint64, p int64) error { redisBal[id] = p; return nil }); err != nil {
					return nil, err
				}
				upTo, err := led.MaxSeq(ctx)
				if err != nil {
					return nil, err
				}
				out := map[uint64][2]int64{}
				err = led.BalancesUpTo(ctx, upTo, func(id uint64, p int64) error {
					if r := redisBal[id]; r != p {
						out[id] = [2]int64{r, p}
					}
					delete(redisBal, id)
					return nil
				})
				for id, p := range redisBal {
					out[id] = [2]int64{p, 0}
				}
				return out, err
			}
			// Changes in flight make a customer differ for a moment: report only
			// those that differ twice with the same values.
			first, err := diff()
			if err != nil {
				return err
			}
			var bad []uint64
			if len(first) > 0 {
				second, err := diff()
				if err != nil {
					return err
				}
				for id, d := range second {
					if first[id] == d {
						bad = append(bad, id)
					}
				}
			}
			sort.Slice(bad, func(i, j int) bool { return bad[i] < bad[j] })
			// Read after shipping: the shipper may just have set some aside.
			dead, err := s.index.DeadLetters(ctx)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(bad) == 0 && len(dead) == 0 {
				fmt.Fprintln(w, "reconcile: every Redis balance equals the ledger")
				return nil
			}
			if len(bad) > 0 {
				fmt.Fprintln(w, "customer_id,redis_points,ledger_points")
				for _, id := range bad {
					fmt.Fprintf(w, "%d,%d,%d\n", id, first[id][0], first[id][1])
				}
			}
			if len(dead) == 0 {
				return &exitError{3, fmt.Sprintf("reconcile: %d customers differ (fix with `loyalty rebuild`)", len(bad))}
			}
			seqs, withDead := make([]uint64, len(dead)), map[uint64]bool{}
			for i, d := range dead {
				seqs[i], withDead[d.CustomerID] = d.Seq, true
				delta := "?"
				if d.Entry != nil {
					delta = strconv.FormatInt(d.Entry.Delta, 10)
				}
				fmt.Fprintf(w, "dead letter %d: change %q, customer %d, delta %s, set aside %s: %s\n",
					d.Seq, d.ChangeID, d.CustomerID, delta, d.At.Format(time.RFC3339), d.Reason)
			}
			msg := fmt.Sprintf("reconcile: %d dead letters (seq %s): changes applied in Redis that the ledger refused; %s",
				len(dead), joinSeqs(seqs), deadLetterHelp)
			if len(bad) > 0 {
				n := 0
				for _, id := range bad {
					if withDead[id] {
						n++
					}
				}
				msg += fmt.Sprintf("; %d customers differ, %d of them with a dead letter", len(bad), n)
			}
			return &exitError{exitDeadLetters, msg}
		})
}
