package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
)

// reportFlags are the settings of `dmbench report`.
type reportFlags struct {
	format     string
	spectrum   bool
	warmup     bool
	width      int
	html       string
	thresholds []string
}

// spectrumTicks is the percentile spectrum's resolution, as in the .hgrm files.
const spectrumTicks = 5

func newReportCommand() *cobra.Command {
	f := &reportFlags{}
	c := &cobra.Command{
		Use:   "report RUN",
		Short: "Print a stored run's summary and percentile spectrum, and check it against thresholds",
		Long: "report reads a run's folder (or its result.json) and prints the summary `run` printed, as text or\n" +
			"JSON. --spectrum adds each command's percentile spectrum of corrected latency over all stages\n" +
			"(warm-up excluded), as in its .hgrm file, in milliseconds; with --format json the document is then\n" +
			"{\"result\": summary, \"spectra\": {command: [{value_us, percentile, count}]}}.\n\n" +
			"--threshold checks the run against an objective (repeatable), k6 style:\n" +
			"  p99<5ms  p50<=2ms  errors<0.1%  throughput>=1000/s  p99{command=GROUPADD,stage=*}<10ms\n" +
			"Without a stage selector a threshold holds for each command over the whole run (stages merged);\n" +
			"{stage=NAME} checks that stage, {stage=*} each stage.\n\n" +
			"Exit codes: 0 printed (and every threshold met), 1 the result could not be read, 2 bad usage,\n" +
			"3 a threshold was not met.",
		Example: "  dmbench report dmbench-results/20260102T030405Z-group-churn --spectrum\n" +
			"  dmbench report RUN --threshold 'p99<5ms' --threshold 'errors<0.1%'\n" +
			"  dmbench report RUN --html run.html",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(fmt.Errorf("give one run folder, not %d arguments (see '%s --help')", len(args), c.CommandPath()))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return runReport(c, args[0], f) },
	}
	fs := c.Flags()
	fs.StringVar(&f.format, "format", "text", "output `format`: text or json")
	fs.BoolVar(&f.spectrum, "spectrum", false, "also print each command's percentile spectrum of corrected latency")
	fs.BoolVar(&f.warmup, "warmup", false, "also print the warm-up's table (text)")
	fs.StringVar(&f.html, "html", "", "also write one self-contained HTML page (summary, server view, charts inline) to this `file`")
	fs.IntVar(&f.width, "width", 0, "lay the text summary out for `N` columns (default: the terminal's width, else $COLUMNS, else 120)")
	fs.StringArrayVar(&f.thresholds, "threshold", nil, "fail (exit 3) unless the run meets this, e.g. `p99<5ms` (repeatable)")
	return c
}

func runReport(c *cobra.Command, path string, f *reportFlags) error {
	format, err := report.ParseFormat(f.format)
	if err != nil || (format != report.FormatText && format != report.FormatJSON) {
		return usageError(fmt.Errorf("--format %q: report prints text or json", f.format))
	}
	thresholds, err := comparison.ParseThresholds(f.thresholds)
	if err != nil {
		return usageError(err)
	}
	if f.width < 0 {
		return usageError(fmt.Errorf("--width %d is negative: give the columns to fit, or 0 for the terminal's", f.width))
	}
	// Decoded once to check it, each histogram is kept for the spectrum, the thresholds
	// and the charts.
	r, err := resultfmt.ReadDecoded(path)
	if err != nil {
		return err
	}
	if f.html != "" {
		charts := runCharts(c.ErrOrStderr(), resultFolder(path), r)
		if err := resultfmt.WriteFileAtomic(f.html, func(w io.Writer) error { return report.HTML(w, r, charts) }); err != nil {
			return err
		}
		fmt.Fprintf(c.ErrOrStderr(), "dmbench: HTML report written to %s\n", f.html)
	}
	out := c.OutOrStdout()
	if format == report.FormatJSON {
		err = reportJSON(out, r, f.spectrum)
	} else {
		err = reportText(out, r, f)
	}
	if err != nil {
		return err
	}
	violations := comparison.CheckThresholds(r, thresholds)
	for _, v := range violations { // they name the result's stages and commands
		fmt.Fprintln(c.ErrOrStderr(), "dmbench: threshold not met:", termtext.Escape(v.String()))
	}
	if len(violations) > 0 {
		return &exitError{code: exitThreshold, err: fmt.Errorf("%d threshold violation(s)", len(violations))}
	}
	return nil
}

func reportText(w io.Writer, r *resultfmt.Result, f *reportFlags) error {
	if err := report.Summary(w, r, report.SummaryOptions{Warmup: f.warmup, Width: summaryWidth(f.width, w)}); err != nil {
		return err
	}
	if !f.spectrum {
		return nil
	}
	for _, cmd := range r.Commands() {
		name := termtext.Escape(cmd) // as the result file has it
		h, _, err := r.Merged(cmd, resultfmt.Corrected)
		if err != nil {
			return fmt.Errorf("percentile spectrum of %s: %w", name, err)
		}
		if h.TotalCount() == 0 {
			if _, err := fmt.Fprintf(w, "\n%s: nothing timed, no percentile spectrum\n", name); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintf(w, "\n%s corrected latency (reply - intended send), all stages without warm-up, in milliseconds:\n", name); err != nil {
			return err
		}
		if _, err := h.PercentilesPrint(w, spectrumTicks, 1000); err != nil {
			return fmt.Errorf("printing the percentile spectrum of %s: %w", name, err)
		}
	}
	return nil
}

// summaryWidth is the width to lay a text summary written to w out for: --width when
// given, else the terminal's (report.TerminalWidth).
func summaryWidth(flag int, w io.Writer) int {
	if flag > 0 {
		return flag
	}
	return report.TerminalWidth(w)
}

// spectrumPoint is one line of a percentile spectrum in JSON.
type spectrumPoint struct {
	ValueUS    int64   `json:"value_us"`
	Percentile float64 `json:"percentile"`
	Count      int64   `json:"count"`
}

func reportJSON(w io.Writer, r *resultfmt.Result, spectrum bool) error {
	if !spectrum {
		return report.SummaryJSON(w, r)
	}
	var summary bytes.Buffer
	if err := report.SummaryJSON(&summary, r); err != nil {
		return err
	}
	doc := struct {
		Result  json.RawMessage            `json:"result"`
		Spectra map[string][]spectrumPoint `json:"spectra"`
	}{Result: summary.Bytes(), Spectra: map[string][]spectrumPoint{}}
	for _, cmd := range r.Commands() {
		h, _, err := r.Merged(cmd, resultfmt.Corrected)
		if err != nil {
			return fmt.Errorf("percentile spectrum of %s: %w", termtext.Escape(cmd), err)
		}
		points := []spectrumPoint{}
		if h.TotalCount() > 0 {
			for _, b := range h.CumulativeDistributionWithTicks(spectrumTicks) {
				points = append(points, spectrumPoint{ValueUS: b.ValueAt, Percentile: b.Quantile, Count: b.Count})
			}
		}
		doc.Spectra[cmd] = points
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("printing the report as JSON: %w", err)
	}
	if _, err := w.Write(termtext.EscapeJSON(b.Bytes())); err != nil { // the spectra's keys are the result's commands
		return fmt.Errorf("printing the report as JSON: %w", err)
	}
	return nil
}
