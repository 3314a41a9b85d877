package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/histogram/redisindex"
)

func rebuildCmd() *cobra.Command {
	return command("rebuild", "Recreate the Redis index from the ClickHouse ledger while the service keeps serving, then switch",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if e.cfg.embeddedMode() {
				return errors.New("rebuild: the embedded store is rebuilt from its ledger file at every start; nothing to do")
			}
			s, err := openStores(ctx, e.cfg, e.log, true)
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			// Ship what is waiting so the ledger is as complete as it can be.
			if _, err := s.shipper.ShipOnce(ctx); err != nil {
				e.log.Warn("rebuild: could not ship the change log first; the rebuild still replays it", "err", err)
			}
			// A dead letter's change is in Redis but not in the ledger: a
			// rebuild from the ledger would take its points off.
			if n, err := s.index.DeadLetterCount(ctx); err != nil {
				return err
			} else if n > 0 {
				return &exitError{exitDeadLetters, fmt.Sprintf("rebuild: %d dead letters (changes the ledger refused) would lose their points: "+
					"retry them once the cause is fixed (`loyalty deadletters retry`) or drop those that can never be stored "+
					"(`loyalty deadletters drop SEQ --reason TEXT`), then rebuild; `loyalty deadletters` lists them", n)}
			}
			led, err := s.ledger.get(ctx)
			if err != nil {
				return err
			}
			upTo, err := led.MaxSeq(ctx)
			if err != nil {
				return err
			}
			// The kept season boards the ledger has changes of.
			var seasons []redisindex.SeasonLoad
			if sn := e.cfg.seasons(); sn.Calendar.Enabled() {
				have, err := led.Seasons(ctx)
				if err != nil {
					return err
				}
				oldest := sn.Calendar.Back(time.Now(), sn.Kept)
				for _, name := range have {
					if name < oldest {
						continue
					}
					seasons = append(seasons, redisindex.SeasonLoad{Season: name, Load: func(put func(uint64, int64) error) error {
						return led.SeasonBalancesUpTo(ctx, name, upTo, func(id uint64, p int64) error {
							if p == 0 {
								return nil
							}
							return put(id, p)
						})
					}})
				}
			}
			n := 0
			gen, err := s.index.Rebuild(ctx, upTo, func(put func(uint64, int64) error) error {
				return led.BalancesUpTo(ctx, upTo, func(id uint64, p int64) error {
					if p == 0 {
						return nil
					}
					n++
					return put(id, p)
				})
			}, seasons)
			if err != nil {
				return err
			}
			recent, err := led.Since(ctx, time.Now().Add(-time.Duration(e.cfg.Points.DedupeDays+1)*24*time.Hour))
			if err != nil {
				return err
			}
			if err := s.index.Remember(ctx, recent); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rebuilt generation %d: %d customers and %d season boards from the ledger up to seq %d, %d recent change ids remembered, in %s\n",
				gen, n, len(seasons), upTo, len(recent), time.Since(start).Round(time.Millisecond))
			return nil
		})
}
