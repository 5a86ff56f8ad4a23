package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/chart"
	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/metric"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
)

// compareFlags are the settings of `dmbench compare`.
type compareFlags struct {
	format   string
	failOn   []string
	metrics  []string
	old, new []string
	alpha    float64
	chart    string
	html     string
}

func newCompareCommand() *cobra.Command {
	f := &compareFlags{}
	c := &cobra.Command{
		Use:   "compare OLD NEW",
		Short: "Compare two result sets (e.g. two broker versions): medians, confidence intervals, Mann-Whitney U",
		Long: "compare compares two result sets stage by stage, command by command and metric by metric, as\n" +
			"benchstat compares benchmarks: each side's median over its runs with a 95% confidence interval,\n" +
			"the change of the median, and the Mann-Whitney U test's p-value; ~ marks a change that is not\n" +
			"significant (p > --alpha). OLD and NEW are each a run folder, a result.json, a folder of run\n" +
			"folders (a set, as `run --repeat N` writes), or a folder holding one set and nothing else (the -o\n" +
			"folder of one `run --repeat N`; compare says which set it read). To give several run folders a\n" +
			"side, use --old and --new (repeatable) instead of OLD and NEW. Use 5 or more runs a side: with\n" +
			"fewer than 4 no change can be significant, and a 95% interval of the median needs 6.\n" +
			"Runs written with different result schemas (meta.schema_version) are refused: re-run the older.\n\n" +
			"--fail-on RULE makes compare exit 4 when a metric got significantly worse by more than RULE says:\n" +
			"  p99:+10%           p99 rose by more than 10% of the old median\n" +
			"  throughput:-5%     throughput fell by more than 5%\n" +
			"  p50:+2ms           p50 rose by more than 2 ms\n" +
			"  errors:+0.1        the error rate rose by more than 0.1 percentage points\n" +
			"Metrics: throughput, p50, p90, p99, p99.9, max, mean (corrected latency), errors (% of the requests\n" +
			"tried) and server-p50, server-p99 (the server's own service time, from its reports); the default set\n" +
			"is " + strings.Join(metric.DefaultCompareMetrics, ", ") + ".\n\n" +
			"It warns when the sides differ in scenario, transport, broker mode, faults, GOMAXPROCS or host.\n" +
			"Exit codes: 0 no regression beyond --fail-on, 1 the results could not be read, 2 bad usage\n" +
			"(or a --fail-on rule with nothing to check), 4 a regression beyond a --fail-on rule.",
		Example: "  dmbench compare results/dmb-0.2.1 results/dmb-0.3.0\n" +
			"  dmbench compare --old a/run1 --old a/run2 --new b/run1 --new b/run2 --format markdown\n" +
			"  dmbench compare base/ head/ --fail-on 'p99:+10%' --fail-on 'throughput:-5%'",
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 2 && len(f.old) == 0 && len(f.new) == 0:
				return nil
			case len(args) == 0 && len(f.old) > 0 && len(f.new) > 0:
				return nil
			}
			return usageError(fmt.Errorf("give OLD and NEW, or --old and --new, not both and not one side alone (see '%s --help')", c.CommandPath()))
		},
		RunE: func(c *cobra.Command, args []string) error { return runCompare(c, args, f) },
	}
	fs := c.Flags()
	fs.StringVar(&f.format, "format", "text", "output `format`: text, markdown, json or csv")
	fs.StringArrayVar(&f.failOn, "fail-on", nil, "exit 4 when a metric got significantly worse by more than this, e.g. `p99:+10%` (repeatable)")
	fs.StringArrayVar(&f.metrics, "metric", nil, "compare this `metric` instead of the default set ("+strings.Join(metric.DefaultCompareMetrics, ", ")+") (repeatable)")
	fs.StringArrayVar(&f.old, "old", nil, "a run or set `folder` of the old side (repeatable), instead of OLD")
	fs.StringArrayVar(&f.new, "new", nil, "a run or set `folder` of the new side (repeatable), instead of NEW")
	fs.Float64Var(&f.alpha, "alpha", 0.05, "significance level of the Mann-Whitney U test")
	fs.StringVar(&f.html, "html", "", "also write the comparison as one self-contained HTML page (table and chart) to this `file`")
	fs.StringVar(&f.chart, "chart", "", "also draw each metric's OLD and NEW medians with their confidence intervals into this `file` (.svg or .png)")
	return c
}

func runCompare(c *cobra.Command, args []string, f *compareFlags) error {
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return usageError(fmt.Errorf("--format: %w", err))
	}
	if f.alpha <= 0 || f.alpha >= 1 {
		return usageError(fmt.Errorf("--alpha %v: give a level between 0 and 1, e.g. 0.05", f.alpha))
	}
	if f.chart != "" {
		if _, err := chart.FormatOf(f.chart); err != nil {
			return usageError(fmt.Errorf("--chart: %w", err))
		}
	}
	var (
		rules []comparison.FailOn
		errs  []error
	)
	for _, s := range f.failOn {
		r, err := comparison.ParseFailOn(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	metrics := f.metrics
	if len(metrics) == 0 {
		metrics = append([]string(nil), metric.DefaultCompareMetrics...)
	}
	for _, m := range metrics {
		if _, err := metric.LookupMetric(m); err != nil {
			errs = append(errs, fmt.Errorf("--metric: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	for _, r := range rules { // a rule's metric is always compared
		metrics = append(metrics, r.Metric.Name)
	}

	oldPaths, newPaths := f.old, f.new
	if len(args) == 2 {
		oldPaths, newPaths = args[:1], args[1:]
	}
	stderr := c.ErrOrStderr()
	oldSet, err := readSide(stderr, "old", oldPaths)
	if err != nil {
		return err
	}
	newSet, err := readSide(stderr, "new", newPaths)
	if err != nil {
		return err
	}
	cmp, err := comparison.CompareSets(oldSet, newSet, comparison.CompareOptions{
		OldName: strings.Join(oldPaths, " "), NewName: strings.Join(newPaths, " "),
		Metrics: metrics, Alpha: f.alpha,
	})
	if err != nil {
		return termtext.Error(err) // it can name runs by their folders and hosts
	}
	// The warnings, regressions and chart errors below name what the result files hold
	// (hosts, stages, commands): escaped, as report escapes what it prints.
	if format == report.FormatCSV { // CSV has no place for them
		for _, w := range cmp.Warnings {
			fmt.Fprintln(stderr, "dmbench: warning:", termtext.Escape(w))
		}
	}
	if err := report.WriteComparison(c.OutOrStdout(), cmp, format); err != nil {
		return err
	}
	chartErr := writeComparisonChart(stderr, cmp, f.chart) // a failed chart does not hide a regression
	if f.html != "" {
		charts := comparisonCharts(stderr, cmp)
		if err := resultfmt.WriteFileAtomic(f.html, func(w io.Writer) error { return report.ComparisonHTML(w, cmp, charts) }); err != nil {
			chartErr = errors.Join(chartErr, err)
		} else {
			fmt.Fprintf(stderr, "dmbench: HTML comparison written to %s\n", f.html)
		}
	}
	if len(rules) == 0 {
		return chartErr
	}
	if n := min(cmp.Old.Runs, cmp.New.Runs); n < 5 {
		fmt.Fprintf(stderr, "dmbench: warning: --fail-on with %d and %d runs: with fewer than 4 runs a side no change is significant, so no rule can fail; use 5 or more (dmbench run --repeat 5)\n", cmp.Old.Runs, cmp.New.Runs)
	}
	var regs []comparison.Regression
	errs = nil
	for _, r := range rules {
		found, err := r.Check(cmp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		regs = append(regs, found...)
	}
	for _, r := range regs {
		fmt.Fprintln(stderr, "dmbench: regression:", termtext.Escape(r.String()))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	if len(regs) > 0 {
		if chartErr != nil {
			fmt.Fprintln(stderr, "dmbench:", termtext.Error(chartErr))
		}
		return &exitError{code: exitRegression, err: fmt.Errorf("%d regression(s) beyond --fail-on %s", len(regs), strings.Join(f.failOn, " --fail-on "))}
	}
	return termtext.Error(chartErr)
}

// readSide reads one side's result set and says on w which sets it found inside the
// folders given (a folder that holds one set, as `run --repeat N -o DIR` leaves DIR).
func readSide(w io.Writer, tag string, paths []string) (*resultfmt.Set, error) {
	set, err := resultfmt.LoadSet(paths...)
	if err != nil {
		return nil, fmt.Errorf("%s side: %w", tag, err)
	}
	for _, f := range set.Found {
		runs := "runs"
		if f.Runs == 1 {
			runs = "run"
		}
		fmt.Fprintf(w, "dmbench: %s: read the result set %s (%d %s)\n", tag, termtext.Escape(f.Dir), f.Runs, runs) // a folder found on disk
	}
	return set, nil
}
