package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/xyz/loyalty/histogram/redisindex"
)

// formatMeaning says what each index format means for a fleet.
var formatMeaning = map[redisindex.Format]string{
	redisindex.FormatText: "remembered order ids and change-log entries are written as versions without `loyalty index-format` " +
		"write and read them, so those versions may run beside this one (a rolling upgrade or rollback is safe). " +
		"Once every process runs this version or later, `loyalty index-format compact` writes them smaller (ids ~40%).",
	redisindex.FormatCompact: "remembered order ids and change-log entries are written in the compact forms, which versions " +
		"without `loyalty index-format` can't read: none of them may run against this Redis.",
}

func indexFormatCmd() *cobra.Command {
	c := command("index-format [compact|text]", "Show the format the Redis index writes order ids and the change log in, or switch it (compact: only once every process runs this version or later)",
		func(ctx context.Context, e env, cmd *cobra.Command, args []string) error {
			if e.cfg.embeddedMode() {
				return errors.New("index-format: the embedded store has no such format (it keeps its own files); it applies only with Redis (set redis.addr or redis.sentinel_addrs)")
			}
			var to redisindex.Format
			if len(args) == 1 {
				switch args[0] {
				case "compact":
					to = redisindex.FormatCompact
				case "text":
					to = redisindex.FormatText
				default:
					return fmt.Errorf("index-format: %q is not a format: give compact or text, or nothing to show the current one", args[0])
				}
			}
			s, err := openStores(ctx, e.cfg, e.log, false)
			if err != nil {
				return err
			}
			defer s.Close()
			out := cmd.OutOrStdout()
			if to == 0 {
				f, fresh, err := s.index.Format(ctx)
				if err != nil {
					return err
				}
				if fresh {
					fmt.Fprintf(out, "index format: %s (%d): nothing is written yet; the first write sets it\n", f, f)
				} else {
					fmt.Fprintf(out, "index format: %s (%d)\n", f, f)
				}
				_, err = fmt.Fprintln(out, formatMeaning[f])
				return err
			}
			sw, err := s.index.SetFormat(ctx, to)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "index format: %s (was %s)\n", to, sw.From)
			if to == redisindex.FormatCompact {
				_, err = fmt.Fprintf(out, "%s\nFrom now on, a rollback to a version without `loyalty index-format` needs `loyalty index-format text` first, "+
					"and that version may start only at the time it prints (the dedupe window + 2 days later: %d days).\n",
					formatMeaning[to], e.cfg.Points.DedupeDays+2)
				return err
			}
			if !sw.CompactUntil.IsZero() {
				_, err = fmt.Fprintf(out, "This version goes on reading both forms. A version without `loyalty index-format` may run from %s on "+
					"(in %s), when the last order ids remembered in the compact form expire; started sooner, it would not find them "+
					"and could count a retry twice.\n", sw.CompactUntil.Format(time.RFC3339), time.Until(sw.CompactUntil).Round(time.Minute))
				return err
			}
			_, err = fmt.Fprintln(out, formatMeaning[to])
			return err
		})
	c.Long = `The Redis index remembers recent order ids (so a retry is never counted twice)
and keeps a change log, in one of two formats. text: as versions without this
command write and read them; old and new processes may run side by side, so a
rolling upgrade is safe. An existing board stays at text. compact: ids ~40%
smaller and shorter log entries, which versions without this command can't
read. A board nothing was written to yet starts at compact.

Switch to compact only once every process (API, ingest, shipper, rebuild) runs
this version or later. After it, a rollback to an earlier version needs
` + "`loyalty index-format text`" + ` first, and then waiting until the compact ids have
expired (the dedupe window + 2 days; the command prints the time). Details:
histogram/redisindex/doc.go, "Upgrading: the format gate".`
	c.Example = `  loyalty index-format                 # the format and what it means
  loyalty index-format compact         # once every process runs this version or later
  loyalty index-format text            # before a rollback: prints when an earlier version may start`
	c.Args = cobra.MaximumNArgs(1)
	return c
}
