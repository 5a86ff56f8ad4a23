package chart_test

import (
	"strings"
	"testing"

	"github.com/dmbench/dmbench/chart"
)

func TestParseSLO(t *testing.T) {
	tests := []struct {
		in      string
		pct, us float64
		err     string
	}{
		{in: "p99<5ms", pct: 99, us: 5000},
		{in: " p50 <= 500us ", pct: 50, us: 500},
		{in: "p99.9<1s", pct: 99.9, us: 1e6},
		{in: "max<2s", pct: 100, us: 2e6},
		{in: "mean<1ms", pct: 0, us: 1000},
		{in: "p99>5ms", err: "bounds latency from above"},
		{in: "throughput>=100/s", err: "not a percentile of corrected latency"},
		{in: "server-p99<1ms", err: "not a percentile of corrected latency"},
		{in: "p99{command=HARTBEAT}<1ms", err: "leave out the {...} selector"},
		{in: "p99", err: "no comparison"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := chart.ParseSLO(tt.in)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one saying %q", err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			case s.Percentile != tt.pct || s.LimitUS != tt.us || s.Text != strings.TrimSpace(tt.in):
				t.Errorf("%+v, want percentile %v, limit %vµs", *s, tt.pct, tt.us)
			}
		})
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]chart.Format{"a.svg": chart.SVG, "b/C.PNG": chart.PNG, "c.png": chart.PNG, "d.pdf": "", "e": ""} {
		got, err := chart.FormatOf(path)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
}
