package chart_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/dmbench/dmbench/chart"
	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/resultfmt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// chartRuns writes resultfixture.ChartRun twice (a baseline and a run 1.6× slower) into
// run folders, as dmbench run writes them, and returns them labelled.
func chartRuns(t *testing.T) []chart.Run {
	t.Helper()
	out := t.TempDir()
	var runs []chart.Run
	for _, v := range []struct {
		broker string
		scale  float64
	}{{"0.2.1", 1}, {"0.3.0", 1.6}} {
		r, ivs := resultfixture.ChartRun(v.broker, v.scale)
		dir, err := resultfixture.WriteRun(filepath.Join(out, v.broker), r, ivs)
		if err != nil {
			t.Fatal(err)
		}
		back, err := resultfmt.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, chart.Run{Label: "broker " + v.broker, Dir: dir, Result: back})
	}
	return runs
}

// svgNumber matches a decimal number in an SVG document.
var svgNumber = regexp.MustCompile(`-?[0-9]+\.[0-9]+`)

// normalise rounds every decimal number of an SVG document to 1 decimal, so that the last
// digits of a coordinate (which fused multiply-adds can change from one CPU to another)
// do not fail the comparison, while any real change in the drawing still does.
func normalise(svg []byte) []byte {
	return svgNumber.ReplaceAllFunc(svg, func(b []byte) []byte {
		v, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return b
		}
		s := strconv.FormatFloat(v, 'f', 1, 64)
		if s == "-0.0" {
			s = "0.0"
		}
		return []byte(s)
	})
}

// checkGolden draws f as SVG and compares it with testdata/name (rewritten with -update).
func checkGolden(t *testing.T, f *chart.Figure, name string) {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf, chart.SVG); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := f.Write(&again, chart.SVG); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatalf("%s: drawing the same figure twice gave different SVG", name)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got := normalise(buf.Bytes()); !bytes.Equal(got, normalise(want)) {
		bad := filepath.Join(t.TempDir(), name)
		_ = os.WriteFile(bad, buf.Bytes(), 0o644)
		t.Errorf("%s differs from %s (got written to %s; run go test -update if the change is meant)", name, path, bad)
	}
}

func TestGolden(t *testing.T) {
	runs := chartRuns(t)
	slo, err := chart.ParseSLO("p99<5ms")
	if err != nil {
		t.Fatal(err)
	}
	old, new := resultfixture.GoldenSides()
	cmp, err := comparison.Compare(old, new, comparison.CompareOptions{OldName: "results/dmb-0.2.1", NewName: "results/dmb-0.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	type drawer interface{ Figure() (*chart.Figure, error) }
	tests := []struct {
		name string
		make func() (drawer, error)
	}{
		{"latency.svg", func() (drawer, error) { return chart.NewLatencyOverTime(runs[0], chart.Options{}) }},
		{"latency_groupadd.svg", func() (drawer, error) {
			return chart.NewLatencyOverTime(runs[1], chart.Options{Command: "GROUPADD"})
		}},
		{"latency_downsampled.svg", func() (drawer, error) { return chart.NewLatencyOverTime(runs[0], chart.Options{MaxPoints: 10}) }},
		{"spectrum.svg", func() (drawer, error) { return chart.NewSpectrum(runs, chart.Options{SLO: slo}) }},
		{"throughput.svg", func() (drawer, error) { return chart.NewThroughputLatency(runs, chart.Options{}) }},
		{"server.svg", func() (drawer, error) { return chart.NewServerTimes(runs[0], chart.Options{}) }},
		{"comparison.svg", func() (drawer, error) { return chart.NewComparison(cmp) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.make()
			if err != nil {
				t.Fatal(err)
			}
			f, err := d.Figure()
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, f, tt.name)
		})
	}
}
