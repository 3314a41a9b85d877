package main

import (
	"bufio"
	"context"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/embedded"
	"github.com/xyz/loyalty/ranker"
)

func balancesCmd() *cobra.Command {
	return command("balances", "Print customer_id,points for every customer in the index, as CSV (unordered, streaming; on the embedded store also while serve runs)",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			var board *ranker.Board
			if e.cfg.embeddedMode() {
				// The ledger file, read without the lock a running server holds.
				b, err := embedded.ReadBoard(e.cfg.Data.Dir)
				if err != nil {
					return err
				}
				board = b
			}
			s, err := &stores{}, error(nil)
			if board == nil {
				s, err = openStores(ctx, e.cfg, e.log, false)
			}
			if err != nil {
				return err
			}
			defer s.Close()
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<16)
			line := func(id uint64, p int64) error {
				b := strconv.AppendUint(w.AvailableBuffer(), id, 10)
				b = append(b, ',')
				b = strconv.AppendInt(b, p, 10)
				b = append(b, '\n')
				_, err := w.Write(b)
				return err
			}
			_, err = w.WriteString("customer_id,points\n")
			switch {
			case err != nil:
			case board != nil:
				board.Each(func(id uint64, p int64) {
					if err == nil {
						err = line(id, p)
					}
				})
			default:
				var gen uint64
				if gen, err = s.index.Generation(ctx); err == nil {
					err = s.index.Scan(ctx, gen, line)
				}
			}
			// What was read is written, also when the scan stopped; a write
			// that failed (a full disk, a closed pipe) is the error.
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		})
}
