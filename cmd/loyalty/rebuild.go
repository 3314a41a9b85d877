package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ingest"
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
			led, err := s.ledger.Get(ctx)
			if err != nil {
				return err
			}
			sn := e.cfg.seasons()
			cfg := ingest.RebuildConfig{Seasons: sn.Calendar, SeasonsKept: sn.Kept, DedupeDays: e.cfg.Points.DedupeDays}
			r, err := ingest.Rebuild(ctx, cfg, s.shipper, rebuildIndex{s.index}, led, e.log)
			var pending *ingest.DeadLettersPendingError
			if errors.As(err, &pending) {
				return &exitError{exitDeadLetters, fmt.Sprintf("rebuild: %d dead letters (changes the ledger refused) would lose their points: "+
					"retry them once the cause is fixed (`loyalty deadletters retry`) or drop those that can never be stored "+
					"(`loyalty deadletters drop SEQ --reason TEXT`), then rebuild; `loyalty deadletters` lists them", pending.N)}
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "rebuilt generation %d: %d customers and %d season boards from the ledger up to seq %d, %d recent change ids remembered, in %s\n",
				r.Generation, r.Customers, r.Seasons, r.UpTo, r.Remembered, time.Since(start).Round(time.Millisecond))
			return err
		})
}

// rebuildIndex is the index as ingest.Rebuild takes it (ingest names no
// storage package).
type rebuildIndex struct{ *redisindex.Index }

func (x rebuildIndex) Rebuild(ctx context.Context, upTo uint64, load func(put func(uint64, int64) error) error, seasons []ingest.SeasonLoad) (uint64, error) {
	sl := make([]redisindex.SeasonLoad, len(seasons))
	for i, s := range seasons {
		sl[i] = redisindex.SeasonLoad(s)
	}
	return x.Index.Rebuild(ctx, upTo, load, sl)
}
