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
			defer w.Flush()
			w.WriteString("customer_id,points\n")
			line := func(id uint64, p int64) error {
				b := strconv.AppendUint(w.AvailableBuffer(), id, 10)
				b = append(b, ',')
				b = strconv.AppendInt(b, p, 10)
				b = append(b, '\n')
				_, err := w.Write(b)
				return err
			}
			if board != nil {
				board.Each(func(id uint64, p int64) { _ = line(id, p) })
				return nil
			}
			gen, err := s.index.Generation(ctx)
			if err != nil {
				return err
			}
			return s.index.Scan(ctx, gen, line)
		})
}
