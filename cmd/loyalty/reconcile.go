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
			// boards are the all-time board ("") and the kept season boards
			// the ledger has changes of.
			boards := []string{""}
			if sn := e.cfg.seasons(); sn.Calendar.Enabled() {
				have, err := led.Seasons(ctx)
				if err != nil {
					return err
				}
				oldest := sn.Calendar.Back(time.Now(), sn.Kept)
				for _, name := range have {
					if name >= oldest {
						boards = append(boards, name)
					}
				}
			}
			diff := func() (map[boardCustomer][2]int64, error) {
				if _, err := s.shipper.ShipOnce(ctx); err != nil {
					return nil, err
				}
				gen, err := s.index.Generation(ctx)
				if err != nil {
					return nil, err
				}
				upTo, err := led.MaxSeq(ctx)
				if err != nil {
					return nil, err
				}
				out := map[boardCustomer][2]int64{}
				for _, b := range boards {
					redisBal := map[uint64]int64{}
					put := func(id uint64, p int64) error { redisBal[id] = p; return nil }
					if b == "" {
						err = s.index.Scan(ctx, gen, put)
					} else {
						err = s.index.ScanSeason(ctx, gen, b, put)
					}
					if err != nil {
						return nil, err
					}
					cmp := func(id uint64, p int64) error {
						if r := redisBal[id]; r != p {
							out[boardCustomer{b, id}] = [2]int64{r, p}
						}
						delete(redisBal, id)
						return nil
					}
					if b == "" {
						err = led.BalancesUpTo(ctx, upTo, cmp)
					} else {
						err = led.SeasonBalancesUpTo(ctx, b, upTo, cmp)
					}
					if err != nil {
						return nil, err
					}
					for id, p := range redisBal {
						out[boardCustomer{b, id}] = [2]int64{p, 0}
					}
				}
				return out, nil
			}
			// Changes in flight make a customer differ for a moment: report only
			// those that differ twice with the same values.
			first, err := diff()
			if err != nil {
				return err
			}
			var bad, badSeason []boardCustomer
			if len(first) > 0 {
				second, err := diff()
				if err != nil {
					return err
				}
				for bc, d := range second {
					switch {
					case first[bc] != d:
					case bc.board == "":
						bad = append(bad, bc)
					default:
						badSeason = append(badSeason, bc)
					}
				}
			}
			less := func(a, b boardCustomer) bool {
				return a.board < b.board || (a.board == b.board && a.customer < b.customer)
			}
			sort.Slice(bad, func(i, j int) bool { return less(bad[i], bad[j]) })
			sort.Slice(badSeason, func(i, j int) bool { return less(badSeason[i], badSeason[j]) })
			// Read after shipping: the shipper may just have set some aside.
			dead, err := s.index.DeadLetters(ctx)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(bad) == 0 && len(badSeason) == 0 && len(dead) == 0 {
				fmt.Fprintf(w, "reconcile: every Redis balance equals the ledger (all-time and %d season boards)\n", len(boards)-1)
				return nil
			}
			if len(bad) > 0 {
				fmt.Fprintln(w, "customer_id,redis_points,ledger_points")
				for _, bc := range bad {
					fmt.Fprintf(w, "%d,%d,%d\n", bc.customer, first[bc][0], first[bc][1])
				}
			}
			if len(badSeason) > 0 {
				fmt.Fprintln(w, "season,customer_id,redis_points,ledger_points")
				for _, bc := range badSeason {
					fmt.Fprintf(w, "%s,%d,%d,%d\n", bc.board, bc.customer, first[bc][0], first[bc][1])
				}
			}
			if len(dead) == 0 {
				return &exitError{3, fmt.Sprintf("reconcile: %d customers differ on the all-time board, %d on season boards (fix with `loyalty rebuild`)", len(bad), len(badSeason))}
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
				for _, bc := range bad {
					if withDead[bc.customer] {
						n++
					}
				}
				msg += fmt.Sprintf("; %d customers differ, %d of them with a dead letter", len(bad), n)
			}
			return &exitError{exitDeadLetters, msg}
		})
}

// boardCustomer is one customer on one board ("" for all-time, else a
// season's name).
type boardCustomer struct {
	board    string
	customer uint64
}
