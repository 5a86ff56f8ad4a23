package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/chart"
	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/resultfmt"
)

// plotFlags are the settings of `dmbench plot`.
type plotFlags struct {
	kind    string
	out     string
	slo     string
	command string
	format  string
	size    string
}

// The kinds of chart plot draws, in the order --kind all writes them.
const (
	kindLatency    = "latency"
	kindServer     = "server"
	kindSpectrum   = "spectrum"
	kindThroughput = "throughput"
	kindAll        = "all"
)

var plotKinds = []string{kindLatency, kindServer, kindSpectrum, kindThroughput}

// chartsFolder is the folder plot writes into by default, beside the results given.
const chartsFolder = "charts"

func newPlotCommand() *cobra.Command {
	f := &plotFlags{}
	c := &cobra.Command{
		Use:   "plot RUN|SET...",
		Short: "Draw a run's (or a set's) charts as SVG or PNG: latency over time, percentile spectrum, throughput, server",
		Long: "plot draws charts of stored runs, each a run folder, a result.json, or a set folder (as `run --repeat N`\n" +
			"writes) as compare reads them:\n" +
			"  latency     per run: p50, p99 and max of corrected latency per second (log scale) from the interval logs,\n" +
			"              the replies per second below beside the scheduled rate; stages ruled, stalls hatched, the\n" +
			"              warm-up greyed; a long run downsampled to 1000 points, each the worst of its seconds\n" +
			"  spectrum    every run overlaid: the percentile spectrum on HdrHistogram's 1/(1-q) axis, corrected\n" +
			"              latency solid, uncorrected dashed, --slo drawn as a line (e.g. --slo 'p99<5ms')\n" +
			"  throughput  achieved throughput against p50 and p99 per stage (or per run when each has one stage),\n" +
			"              the points where the generator fell short of its schedule ringed\n" +
			"  server      per run: each command's client round trip beside the server's own service time, where\n" +
			"              the server sent its reports\n" +
			"Latency is of all commands merged unless --command names one.\n\n" +
			"With --kind KIND, -o names the file to write (.svg or .png). Without --kind (or --kind all), -o names a\n" +
			"folder that receives every chart the results can give, <name>-<kind>.svg (--format png for PNG); a chart\n" +
			"the results cannot give (no server reports, no interval logs) is skipped with a note. Without -o, charts\n" +
			"go to a charts/ folder beside the first result given, never inside a run folder.\n\n" +
			"Exit codes: 0 written, 1 the results could not be read or a chart could not be drawn, 2 bad usage.",
		Example: "  dmbench plot dmbench-results/20260102T030405Z-capacity-ramp\n" +
			"  dmbench plot RUN --kind latency -o latency.png --command GROUPADD\n" +
			"  dmbench plot results/dmb-0.2.1 results/dmb-0.3.0 --kind spectrum --slo 'p99<5ms' -o spectrum.svg",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(fmt.Errorf("give a run folder or a set folder to plot (see '%s --help')", c.CommandPath()))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return runPlot(c, args, f) },
	}
	fs := c.Flags()
	fs.StringVar(&f.kind, "kind", kindAll, "the chart to draw: `latency|spectrum|throughput|server|all`")
	fs.StringVarP(&f.out, "out", "o", "", "with --kind, the `file` to write (.svg or .png); else the folder to write every chart into (default: charts/ beside the results)")
	fs.StringVar(&f.slo, "slo", "", "draw this latency objective on the spectrum, e.g. `p99<5ms`")
	fs.StringVar(&f.command, "command", "", "draw this `command`'s latency only (default: all commands merged)")
	fs.StringVar(&f.format, "format", "", "`svg|png`: the format of the charts written into a folder (default svg); a file's extension names its own")
	fs.StringVar(&f.size, "size", "", "the charts' size `WxH` in pixels of the PNG (96 dpi; the SVG is the same size in points × 0.75), e.g. 1200x700")
	return c
}

// plotJob is one chart to write.
type plotJob struct {
	kind string
	runs []chart.Run
	name string // the file's name without extension
	path string // the file, when -o named it
}

func runPlot(c *cobra.Command, args []string, f *plotFlags) error {
	single := f.kind != kindAll
	if single && !slices.Contains(plotKinds, f.kind) {
		return usageError(fmt.Errorf("--kind %q: want one of %s or all", f.kind, strings.Join(plotKinds, ", ")))
	}
	var opts chart.Options
	opts.Command = f.command
	if f.slo != "" {
		slo, err := chart.ParseSLO(f.slo)
		if err != nil {
			return usageError(fmt.Errorf("--slo: %w", err))
		}
		opts.SLO = slo
	}
	width, height, err := parseSize(f.size)
	if err != nil {
		return usageError(err)
	}
	format := chart.SVG
	switch f.format {
	case "", "svg":
	case "png":
		format = chart.PNG
	default:
		return usageError(fmt.Errorf("--format %q: want svg or png", f.format))
	}
	if single && f.out != "" {
		got, err := chart.FormatOf(f.out)
		if err != nil {
			return usageError(fmt.Errorf("-o: %w", err))
		}
		if f.format != "" && got != format {
			return usageError(fmt.Errorf("-o %s is %s but --format says %s: the file's extension names its format, leave out --format", f.out, got, format))
		}
		format = got
	}
	if !single && f.out != "" {
		if _, err := chart.FormatOf(f.out); err == nil {
			return usageError(fmt.Errorf("-o %s names a file, but without --kind plot writes every chart into a folder: give --kind latency|spectrum|throughput|server to write one file, or -o a folder", f.out))
		}
	}

	stderr := c.ErrOrStderr()
	set, err := resultfmt.LoadSet(args...)
	if err != nil {
		return err
	}
	for _, fs := range set.Found {
		fmt.Fprintf(stderr, "dmbench: read the result set %s (%d runs)\n", termtext.Escape(fs.Dir), fs.Runs)
	}
	runs := chart.RunsOf(set)
	if err := chart.CheckCommand(f.command, runs); err != nil {
		return usageError(fmt.Errorf("--command: %w", err))
	}

	var jobs []plotJob
	for _, kind := range plotKinds {
		if single && kind != f.kind {
			continue
		}
		switch kind {
		case kindLatency, kindServer: // one chart per run
			if single && len(runs) > 1 {
				return usageError(fmt.Errorf("--kind %s draws one run, and %d runs were given: give one run folder, or leave out --kind to write a %s chart per run into a folder", kind, len(runs), kind))
			}
			for _, r := range runs {
				jobs = append(jobs, plotJob{kind: kind, runs: []chart.Run{r}, name: filepath.Base(r.Dir)})
			}
		default: // one chart for all the runs
			jobs = append(jobs, plotJob{kind: kind, runs: runs, name: setName(args, runs)})
		}
	}
	folder := f.out
	if single && f.out != "" {
		jobs[0].path = f.out
	} else if folder == "" {
		folder = filepath.Join(filepath.Dir(resultFolder(args[0])), chartsFolder)
	}

	written := 0
	for _, job := range jobs {
		path := job.path
		if path == "" {
			if err := os.MkdirAll(folder, 0o755); err != nil {
				return fmt.Errorf("creating the charts folder: %w (choose another with -o)", err)
			}
			path = filepath.Join(folder, job.name+"-"+job.kind+"."+string(format))
		}
		fig, err := drawPlot(job, opts)
		if errors.Is(err, chart.ErrNoData) && !single {
			fmt.Fprintf(stderr, "dmbench: skipped the %s chart of %s: %s\n", job.kind, termtext.Escape(job.name), termtext.Escape(err.Error()))
			continue
		}
		if err != nil {
			return fmt.Errorf("%s chart of %s: %w", job.kind, job.name, err)
		}
		if width > 0 {
			fig.SetPixels(width, height)
		}
		if err := fig.Save(path); err != nil {
			return err
		}
		fmt.Fprintln(c.OutOrStdout(), path)
		written++
	}
	if written == 0 {
		return fmt.Errorf("no chart could be drawn from %s (see the notes above)", strings.Join(args, " "))
	}
	return nil
}

// drawPlot makes the figure of one job.
func drawPlot(job plotJob, opts chart.Options) (*chart.Figure, error) {
	var (
		d   interface{ Figure() (*chart.Figure, error) }
		err error
	)
	switch job.kind {
	case kindLatency:
		d, err = chart.NewLatencyOverTime(job.runs[0], opts)
	case kindServer:
		d, err = chart.NewServerTimes(job.runs[0], opts)
	case kindSpectrum:
		d, err = chart.NewSpectrum(job.runs, opts)
	case kindThroughput:
		d, err = chart.NewThroughputLatency(job.runs, opts)
	default:
		return nil, fmt.Errorf("unknown chart kind %q", job.kind)
	}
	if err != nil {
		return nil, err
	}
	return d.Figure()
}

// resultFolder returns the folder an argument names: itself, or a result.json's folder;
// made absolute when it is . or .., which name no folder of their own.
func resultFolder(arg string) string {
	arg = filepath.Clean(arg)
	if filepath.Base(arg) == resultfmt.ResultFile {
		arg = filepath.Dir(arg)
	}
	if b := filepath.Base(arg); b == "." || b == ".." {
		if abs, err := filepath.Abs(arg); err == nil {
			return abs
		}
	}
	return arg
}

// setName names the charts of all the runs: the folder given when one was, else the
// first run's folder and how many more.
func setName(args []string, runs []chart.Run) string {
	if len(args) == 1 {
		return filepath.Base(resultFolder(args[0]))
	}
	return fmt.Sprintf("%s-and-%d-more", filepath.Base(runs[0].Dir), len(runs)-1)
}

// parseSize reads --size WxH; "" gives 0, 0 (each chart's own size).
func parseSize(s string) (int, int, error) {
	if s == "" {
		return 0, 0, nil
	}
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, werr := strconv.Atoi(ws)
	h, herr := strconv.Atoi(hs)
	if !ok || werr != nil || herr != nil || w < 200 || h < 150 || w > 10000 || h > 10000 {
		return 0, 0, fmt.Errorf("--size %q: want WIDTHxHEIGHT in pixels, each from 200x150 to 10000x10000, e.g. 1200x700", s)
	}
	return w, h, nil
}

// writeComparisonChart draws cmp (compare --chart) into path, if path is set, and says
// so on w.
func writeComparisonChart(w io.Writer, cmp *comparison.Comparison, path string) error {
	if path == "" {
		return nil
	}
	d, err := chart.NewComparison(cmp)
	if err != nil {
		return fmt.Errorf("--chart %s: %w", path, err)
	}
	fig, err := d.Figure()
	if err == nil {
		err = fig.Save(path)
	}
	if err != nil {
		return fmt.Errorf("--chart: %w", err)
	}
	fmt.Fprintf(w, "dmbench: comparison chart written to %s\n", path)
	return nil
}
