package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/histogram/redisindex"
	"github.com/xyz/loyalty/ledger"
)

// exitDeadLetters is the exit status of reconcile and deadletters retry
// while dead letters are pending.
const exitDeadLetters = 4

// deadLetterHelp says what to do about pending dead letters.
const deadLetterHelp = "fix the cause and run `loyalty deadletters retry`, or give up on one that can never be stored with " +
	"`loyalty deadletters drop SEQ --reason TEXT`; don't `loyalty rebuild` before (it would take their points off the balances)"

var errNoDeadLettersEmbedded = errors.New("deadletters: the embedded store writes its own ledger file and has no dead letters; they exist only with Redis + ClickHouse")

func deadLettersCmd() *cobra.Command {
	list := command("deadletters", "List the changes the ledger refused (seq, change id, customer, reason, time), set aside so later ones could be shipped",
		func(ctx context.Context, e env, cmd *cobra.Command, _ []string) error {
			if e.cfg.embeddedMode() {
				return errNoDeadLettersEmbedded
			}
			s, err := openStores(ctx, e.cfg, e.log, false)
			if err != nil {
				return err
			}
			defer s.Close()
			w := csv.NewWriter(cmd.OutOrStdout())
			if dropped, _ := cmd.Flags().GetBool("dropped"); dropped {
				ls, err := s.index.DroppedLetters(ctx)
				if err != nil {
					return err
				}
				rows := [][]string{{"seq", "change_id", "customer_id", "delta", "set_aside_at", "reason", "dropped_at", "drop_reason"}}
				for _, d := range ls {
					rows = append(rows, append(deadLetterRow(d.DeadLetter), d.DroppedAt.Format(time.RFC3339), d.DropReason))
				}
				return w.WriteAll(rows)
			}
			ls, err := s.index.DeadLetters(ctx)
			if err != nil {
				return err
			}
			rows := [][]string{{"seq", "change_id", "customer_id", "delta", "set_aside_at", "reason"}}
			for _, d := range ls {
				rows = append(rows, deadLetterRow(d))
			}
			return w.WriteAll(rows)
		})
	list.Long = `Dead letters are changes applied in Redis that the ClickHouse ledger refused (a
value it can't store, or a change log entry that can't be decoded). The shipper
sets each aside, with the reason, and goes on shipping the changes after it.
They stay until an operator retries them (once the cause is fixed) or drops
them; ` + "`loyalty reconcile`" + ` fails (exit 4) while any is pending.`
	list.Args = cobra.NoArgs
	list.Flags().Bool("dropped", false, "list the dead letters dropped so far, with why")

	retry := command("retry [SEQ...]", "Send dead letters (all, or the seqs given) to the ledger again; each leaves the store once the ledger has it (exit 4 if some remain)",
		func(ctx context.Context, e env, cmd *cobra.Command, args []string) error {
			if e.cfg.embeddedMode() {
				return errNoDeadLettersEmbedded
			}
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			s, err := openStores(ctx, e.cfg, e.log, true)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.shipper.RetryDeadLetters(ctx, seqs)
			out := cmd.OutOrStdout()
			for _, q := range res.Shipped {
				fmt.Fprintf(out, "dead letter %d: now in the ledger, removed\n", q)
			}
			if err != nil {
				return err
			}
			for _, d := range res.Failed {
				fmt.Fprintf(out, "dead letter %d (change %q, customer %d): still refused: %s\n", d.Seq, d.ChangeID, d.CustomerID, d.Reason)
			}
			var problems []string
			if len(res.Failed) > 0 {
				problems = append(problems, fmt.Sprintf("%d dead letters still refused (%s)", len(res.Failed), deadLetterHelp))
			}
			if len(res.Missing) > 0 {
				problems = append(problems, fmt.Sprintf("no pending dead letter with seq %s (list them with `loyalty deadletters`)", joinSeqs(res.Missing)))
			}
			if len(problems) > 0 {
				return &exitError{exitDeadLetters, "deadletters retry: " + strings.Join(problems, "; ")}
			}
			fmt.Fprintf(out, "deadletters retry: %d shipped, none left\n", len(res.Shipped))
			return nil
		})

	drop := command("drop SEQ", "Give up on a dead letter that can never be stored (--reason required): the ledger will never record its change",
		func(ctx context.Context, e env, cmd *cobra.Command, args []string) error {
			if e.cfg.embeddedMode() {
				return errNoDeadLettersEmbedded
			}
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			if len(seqs) != 1 {
				return errors.New("deadletters drop: give exactly one SEQ (see `loyalty deadletters`)")
			}
			reason, _ := cmd.Flags().GetString("reason")
			s, err := openStores(ctx, e.cfg, e.log, false)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.shipper.DropDeadLetter(ctx, seqs[0], reason); err != nil {
				if errors.Is(err, redisindex.ErrNoDeadLetter) {
					return fmt.Errorf("deadletters drop: no pending dead letter with seq %d (list them with `loyalty deadletters`)", seqs[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dead letter %d dropped: the ledger will never record its change; its points stay on the Redis balance "+
				"until `loyalty rebuild` makes Redis agree with the ledger (`loyalty reconcile` shows the customer until then)\n", seqs[0])
			return nil
		})
	drop.Flags().String("reason", "", "why the change can never be stored (required; kept with the dropped letter)")
	drop.MarkFlagRequired("reason")

	list.AddCommand(retry, drop)
	return list
}

func deadLetterRow(d ledger.DeadLetter) []string {
	delta := ""
	if d.Entry != nil {
		delta = strconv.FormatInt(d.Entry.Delta, 10)
	}
	return []string{strconv.FormatUint(d.Seq, 10), d.ChangeID, strconv.FormatUint(d.CustomerID, 10), delta, d.At.Format(time.RFC3339), d.Reason}
}

func parseSeqs(args []string) ([]uint64, error) {
	out := make([]uint64, 0, len(args))
	for _, a := range args {
		q, err := strconv.ParseUint(a, 10, 64)
		if err != nil || q == 0 {
			return nil, fmt.Errorf("%q is not a seq: give the seq column of `loyalty deadletters` (a positive integer)", a)
		}
		out = append(out, q)
	}
	return out, nil
}

func joinSeqs(seqs []uint64) string {
	s := make([]string, len(seqs))
	for i, q := range seqs {
		s[i] = strconv.FormatUint(q, 10)
	}
	return strings.Join(s, ", ")
}
