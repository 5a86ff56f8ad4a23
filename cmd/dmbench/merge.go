package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/merge"
)

// mergeFlags are the settings of `dmbench merge`.
type mergeFlags struct {
	out          string
	allowMissing bool
	tolerance    time.Duration
}

func newMergeCommand() *cobra.Command {
	f := &mergeFlags{}
	c := &cobra.Command{
		Use:   "merge SHARD... -o MERGED",
		Short: "Merge the shards of a sharded run (run --shard i/N) into one result",
		Long: "merge reads the results of every shard of one sharded run (each a run folder, its result.json, or the\n" +
			"folder a shard's run -o named) and writes one run folder, MERGED, that report, compare and plot read\n" +
			"like any other: histograms merged losslessly, counts summed, rates over the measured window, interval\n" +
			"logs aligned by absolute time, stalls unioned, a generator-bound or interrupted shard marking the run,\n" +
			"and the server's view joined over the shards' summed counts. meta.merge in result.json lists the\n" +
			"shards, bounds the skew of their clocks from the server's reports, and notes what the merge decided.\n\n" +
			"It refuses results that are not shards, shards of different scenarios, shard counts or start instants,\n" +
			"a shard given twice, and a missing shard unless --allow-missing.\n\n" +
			"Exit codes: 0 merged, 1 the results could not be read, merged or written, 2 bad usage.",
		Example: "  dmbench merge results/run7/shard-0 results/run7/shard-1 results/run7/shard-2 -o results/run7/merged\n" +
			"  dmbench report results/run7/merged",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(fmt.Errorf("give the shards' run folders to merge (see '%s --help')", c.CommandPath()))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return runMerge(c, args, f) },
	}
	fs := c.Flags()
	fs.StringVarP(&f.out, "out", "o", "", "the merged run's `folder` (must not exist)")
	fs.BoolVar(&f.allowMissing, "allow-missing", false, "merge the shards given when some are missing (the counts are then short by their share)")
	fs.DurationVar(&f.tolerance, "window-tolerance", merge.DefaultWindowTolerance, "note when the shards' measured windows start or end further apart than this")
	return c
}

func runMerge(c *cobra.Command, args []string, f *mergeFlags) error {
	if f.out == "" {
		return usageError(fmt.Errorf("-o: name the merged run's folder, e.g. -o results/run7/merged (see '%s --help')", c.CommandPath()))
	}
	if f.tolerance < 0 {
		return usageError(fmt.Errorf("--window-tolerance %s is negative", f.tolerance))
	}
	r, err := merge.Folders(f.out, args, merge.Options{AllowMissing: f.allowMissing, WindowTolerance: f.tolerance})
	if err != nil {
		return err
	}
	stderr := c.ErrOrStderr()
	m := r.Meta.Merge
	fmt.Fprintf(stderr, "dmbench: merged %d of %s of %s into %s\n", len(m.Shards), words.Plural(m.Count, "shard", "shards"), r.Meta.Scenario.Name, f.out)
	if m.ClockSkewBoundUS != nil {
		fmt.Fprintf(stderr, "dmbench: the shards' clocks were at most %s apart (%s)\n", time.Duration(*m.ClockSkewBoundUS)*time.Microsecond, m.ClockSkew)
	} else {
		fmt.Fprintf(stderr, "dmbench: clock skew %s\n", m.ClockSkew)
	}
	for _, n := range m.Notes {
		fmt.Fprintln(stderr, "dmbench: note:", n)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "dmbench: warning:", w)
	}
	fmt.Fprintln(c.OutOrStdout(), f.out)
	return nil
}
