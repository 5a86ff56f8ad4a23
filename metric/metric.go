package metric

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
)

// Unit is what a metric's values measure.
type Unit int

// The units of metrics.
const (
	Microseconds Unit = iota // latencies
	PerSecond                // throughput
	Percent                  // error rate, 0–100
)

// String returns the unit's symbol: "µs", "/s" or "%".
func (u Unit) String() string {
	switch u {
	case PerSecond:
		return "/s"
	case Percent:
		return "%"
	default:
		return "µs"
	}
}

// Format formats v, a value in the unit, for people: 4 significant digits, with
// latencies in µs, ms or s and rates in /s, k/s or M/s.
func (u Unit) Format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	ref := math.Abs(v)
	switch u {
	case PerSecond:
		switch {
		case ref >= 1e6:
			return Significant(v/1e6, 4) + "M/s"
		case ref >= 1e3:
			return Significant(v/1e3, 4) + "k/s"
		default:
			return Significant(v, 4) + "/s"
		}
	case Percent:
		if v == 0 {
			return "0%"
		}
		switch {
		case ref < 1:
			return fmt.Sprintf("%.3f%%", v)
		case ref < 10:
			return fmt.Sprintf("%.2f%%", v)
		default:
			return fmt.Sprintf("%.1f%%", v)
		}
	default:
		switch {
		case ref >= 1e6:
			return Significant(v/1e6, 4) + "s"
		case ref >= 1e3:
			return Significant(v/1e3, 4) + "ms"
		default:
			return Significant(v, 4) + "µs"
		}
	}
}

// Significant formats f with the given number of significant digits (at least 1), or as
// a whole number once it has more integer digits than that: Significant(1.2345, 3) is
// "1.23", Significant(98.76, 4) "98.76", Significant(12345, 3) "12345". benchstat shows 4.
func Significant(f float64, digits int) string {
	a := math.Abs(f)
	for dec := digits - 1; dec > 0; dec-- {
		// Below this bound, f rounded to dec decimals keeps its integer digit count.
		if a < math.Pow10(digits-dec)-0.5*math.Pow10(-dec) {
			return strconv.FormatFloat(f, 'f', dec, 64)
		}
	}
	return strconv.FormatFloat(f, 'f', 0, 64)
}

// Metric is one figure of one command, measured in one run: per stage, or over the whole
// run with its stages merged (warm-up excluded).
type Metric struct {
	// Name is how thresholds and --fail-on rules write the metric: "p99", "errors", ...
	Name string
	// Unit is what its values measure.
	Unit Unit
	// HigherIsBetter is true for throughput; for latencies and errors lower is better.
	HigherIsBetter bool
	// Description says what the value is.
	Description string

	// value returns the metric of c (a command of stage, or of the whole run merged when
	// stage is nil) and false when there is nothing to measure (nothing timed, nothing
	// sent).
	value func(r *resultfmt.Result, stage *resultfmt.StageResult, c *resultfmt.CommandResult) (float64, bool)
}

// Value returns the metric of command c within stage of run r, or of the whole run when
// stage is nil and c holds the command's figures merged over the stages (r.WholeRun).
// ok is false when c has nothing to measure: no request was timed, or none was sent.
func (m *Metric) Value(r *resultfmt.Result, stage *resultfmt.StageResult, c *resultfmt.CommandResult) (v float64, ok bool) {
	return m.value(r, stage, c)
}

// Worse reports whether going from old to new is a change for the worse.
func (m *Metric) Worse(old, new float64) bool {
	if m.HigherIsBetter {
		return new < old
	}
	return new > old
}

// latencyMetric is a figure of the corrected latency (timed from the intended send).
func latencyMetric(name, what string, pick func(resultfmt.Latency) float64) *Metric {
	return &Metric{
		Name:        name,
		Unit:        Microseconds,
		Description: what + " of corrected latency (reply − intended send)",
		value: func(_ *resultfmt.Result, _ *resultfmt.StageResult, c *resultfmt.CommandResult) (float64, bool) {
			if c.Corrected.Count == 0 {
				return 0, false
			}
			return pick(c.Corrected), true
		},
	}
}

// metrics are the metrics there are, in the order tables list them.
var metrics = []*Metric{
	{
		Name:           "throughput",
		Unit:           PerSecond,
		HigherIsBetter: true,
		Description:    "OK replies per second",
		value: func(_ *resultfmt.Result, _ *resultfmt.StageResult, c *resultfmt.CommandResult) (float64, bool) {
			return c.ThroughputPerS, c.Counts.Sent > 0
		},
	},
	latencyMetric("p50", "median", func(l resultfmt.Latency) float64 { return float64(l.P50US) }),
	latencyMetric("p90", "90th percentile", func(l resultfmt.Latency) float64 { return float64(l.P90US) }),
	latencyMetric("p99", "99th percentile", func(l resultfmt.Latency) float64 { return float64(l.P99US) }),
	latencyMetric("p99.9", "99.9th percentile", func(l resultfmt.Latency) float64 { return float64(l.P999US) }),
	latencyMetric("max", "maximum", func(l resultfmt.Latency) float64 { return float64(l.MaxUS) }),
	latencyMetric("mean", "mean", func(l resultfmt.Latency) float64 { return l.MeanUS }),
	{
		Name:        "errors",
		Unit:        Percent,
		Description: "failed requests in % of those the generator tried to send (exceptions, unexpected replies, timeouts, abandoned, send errors); duplicate and late replies are not errors",
		value: func(_ *resultfmt.Result, _ *resultfmt.StageResult, c *resultfmt.CommandResult) (float64, bool) {
			// A send the transport refused is an attempt that never counted as sent: it
			// counts in the denominator too, so the rate stays within 0–100%.
			tried := c.Counts.Sent + c.Counts.SendErrors
			if tried == 0 {
				return 0, false
			}
			return 100 * float64(c.Counts.Errors()) / float64(tried), true
		},
	},
	serviceMetric("server-p50", "median", func(l resultfmt.Latency) float64 { return float64(l.P50US) }),
	serviceMetric("server-p99", "99th percentile", func(l resultfmt.Latency) float64 { return float64(l.P99US) }),
}

// serviceMetric is a figure of the server's own service time for the command, from its
// performance reports (Result.ServerView): the stage's join, or the whole run's when stage
// is nil. Runs against a server that sends no report have no value.
func serviceMetric(name, what string, pick func(resultfmt.Latency) float64) *Metric {
	return &Metric{
		Name:        name,
		Unit:        Microseconds,
		Description: what + " of the server's service time (its PERFRPRT histogram)",
		value: func(r *resultfmt.Result, stage *resultfmt.StageResult, c *resultfmt.CommandResult) (float64, bool) {
			sv := r.ServerView
			if sv == nil {
				return 0, false
			}
			join := sv.Total
			if stage != nil {
				join = nil
				for i := range sv.Stages {
					if sv.Stages[i].Name == stage.Name {
						join = &sv.Stages[i]
					}
				}
			}
			if join == nil {
				return 0, false
			}
			for _, cj := range join.Commands {
				if cj.Command == c.Command && cj.ServiceTime.Count > 0 {
					return pick(cj.ServiceTime), true
				}
			}
			return 0, false
		},
	}
}

// metricAliases are other spellings of metric names.
var metricAliases = map[string]string{
	"p999":       "p99.9",
	"error_rate": "errors",
	"error-rate": "errors",
	"rps":        "throughput",
}

// DefaultCompareMetrics are the metrics Compare compares unless told otherwise.
var DefaultCompareMetrics = []string{"throughput", "p50", "p99", "p99.9", "errors", "server-p50", "server-p99"}

// Metrics returns every metric, in table order.
func Metrics() []*Metric { return append([]*Metric(nil), metrics...) }

// metricNames lists the metrics' names for error messages.
func metricNames() string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// LookupMetric returns the metric of that name (case-insensitive; p999 is p99.9).
func LookupMetric(name string) (*Metric, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := metricAliases[n]; ok {
		n = a
	}
	for _, m := range metrics {
		if m.Name == n {
			return m, nil
		}
	}
	return nil, fmt.Errorf("unknown metric %q: use one of %s", name, metricNames())
}

// ParseValue reads a threshold's or rule's value in the metric's unit: a duration with
// its unit for latencies (500us, 500µs, 2ms, 1.5s), a percentage with % for errors, and
// a rate for throughput (1000/s or 1000). It returns the value in u.
func (u Unit) ParseValue(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch u {
	case PerSecond:
		num := strings.TrimSpace(strings.TrimSuffix(s, "/s"))
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("%q is not a rate: write a number of replies per second, e.g. 1000/s", s)
		}
		return v, nil
	case Percent:
		num, ok := strings.CutSuffix(s, "%")
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return 0, fmt.Errorf("%q is not a percentage: write one from 0%% to 100%% with its %% sign, e.g. 0.1%%", s)
		}
		return v, nil
	default:
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return 0, fmt.Errorf("%q has no unit: write a duration such as 500us, 2ms or 1.5s", s)
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not a duration: write one such as 500us, 2ms or 1.5s", s)
		}
		return float64(d) / float64(time.Microsecond), nil
	}
}
