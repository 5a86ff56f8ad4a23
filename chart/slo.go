package chart

import (
	"fmt"
	"strings"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/metric"
)

// SLO is a latency objective drawn on the percentile spectrum: a horizontal line at its
// limit, marked where its percentile lies.
type SLO struct {
	Text       string  // as given, e.g. "p99<5ms"
	Percentile float64 // 99 for p99, 100 for max; 0 when it names no percentile (mean)
	LimitUS    float64 // the limit in microseconds
}

// sloPercentiles are the percentiles of the latency metrics an SLO can name.
var sloPercentiles = map[string]float64{"p50": 50, "p90": 90, "p99": 99, "p99.9": 99.9, "max": 100, "mean": 0}

// ParseSLO reads a latency objective written as a threshold of corrected latency with
// an upper bound: p99<5ms, p50<=500us, max<1s.
func ParseSLO(s string) (*SLO, error) {
	t, err := comparison.ParseThreshold(s)
	if err != nil {
		return nil, err
	}
	pct, ok := sloPercentiles[t.Metric.Name]
	switch {
	case !ok || t.Metric.Unit != metric.Microseconds:
		return nil, fmt.Errorf("SLO %q: %s is not a percentile of corrected latency: give one of p50, p90, p99, p99.9, max or mean, e.g. p99<5ms", s, t.Metric.Name)
	case t.Op != comparison.Less && t.Op != comparison.LessEqual:
		return nil, fmt.Errorf("SLO %q: an objective bounds latency from above: write %s<LIMIT, e.g. p99<5ms", s, t.Metric.Name)
	case t.Command != "" || t.Stage != "":
		return nil, fmt.Errorf("SLO %q: the spectrum is of the whole run: leave out the {...} selector (choose the command with --command)", s)
	}
	return &SLO{Text: strings.TrimSpace(s), Percentile: pct, LimitUS: t.Limit}, nil
}
