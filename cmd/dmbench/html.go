package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/dmbench/dmbench/chart"
	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
)

// runCharts draws every chart a run gives, as SVG for an HTML page; a kind the run cannot
// give is left out with a note on stderr.
func runCharts(stderr io.Writer, dir string, r *resultfmt.Result) []report.Chart {
	run := chart.Run{Label: filepath.Base(dir), Dir: dir, Result: r}
	titles := map[string]string{
		kindLatency:    "Latency over time, with throughput below",
		kindSpectrum:   "Percentile spectrum",
		kindThroughput: "Throughput against latency, per stage",
		kindServer:     "Client round trip against the server's own service time",
	}
	var out []report.Chart
	for _, kind := range []string{kindLatency, kindSpectrum, kindThroughput, kindServer} {
		fig, err := drawPlot(plotJob{kind: kind, runs: []chart.Run{run}}, chart.Options{})
		var svg bytes.Buffer
		if err == nil {
			err = fig.Write(&svg, chart.SVG)
		}
		if err != nil {
			if !errors.Is(err, chart.ErrNoData) {
				fmt.Fprintf(stderr, "dmbench: the %s chart: %s\n", kind, termtext.Escape(err.Error()))
			}
			continue
		}
		out = append(out, report.Chart{Title: titles[kind], SVG: svg.Bytes()})
	}
	return out
}

// comparisonCharts draws the comparison chart for an HTML page.
func comparisonCharts(stderr io.Writer, c *comparison.Comparison) []report.Chart {
	d, err := chart.NewComparison(c)
	var svg bytes.Buffer
	if err == nil {
		var fig *chart.Figure
		if fig, err = d.Figure(); err == nil {
			err = fig.Write(&svg, chart.SVG)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "dmbench: the comparison chart: %s\n", termtext.Escape(err.Error()))
		return nil
	}
	return []report.Chart{{Title: "Each metric's OLD and NEW medians with their 95% confidence intervals", SVG: svg.Bytes()}}
}
