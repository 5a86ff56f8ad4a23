package comparison

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dmbench/dmbench/metric"
)

// FailOn is a rule that makes a comparison fail, such as p99:+10% (the p99 got
// significantly worse by more than 10%). See ParseFailOn.
type FailOn struct {
	Metric *metric.Metric
	// Relative: Limit is a change of the median in percent of the old median. Otherwise
	// Limit is an absolute change in the metric's unit (µs, /s, or percentage points).
	Relative bool
	Limit    float64 // ≥ 0: how much worse the median may get
	text     string
}

// failOnSyntax is the help that parse errors end with.
const failOnSyntax = "want METRIC:CHANGE, e.g. p99:+10%, throughput:-5%, p50:+2ms, errors:+0.1; " +
	"CHANGE with % is relative to the old median, without it an absolute change in the metric's unit " +
	"(a duration for latencies, /s for throughput, percentage points for errors)"

// ParseFailOn reads a regression rule METRIC:CHANGE. A comparison fails the rule where
// the metric changed significantly (Mann-Whitney U, p ≤ alpha), for the worse, by more
// than CHANGE:
//
//	p99:+10%         p99 rose by more than 10% of the old median
//	throughput:-5%   throughput fell by more than 5%
//	p50:+2ms         p50 rose by more than 2 ms
//	throughput:-100/s
//	errors:+0.1      the error rate rose by more than 0.1 percentage points (also +0.1pp)
//	errors:+50%      the error rate rose by more than half (relative, like every %)
//
// The sign may be left out; given, it must point the way the metric gets worse (+ for
// latencies and errors, - for throughput). A relative rule on a metric whose old median
// is 0 fails on any significant worsening.
func ParseFailOn(s string) (FailOn, error) {
	fail := func(format string, args ...any) (FailOn, error) {
		return FailOn{}, fmt.Errorf("fail-on rule %q: %s (%s)", s, fmt.Sprintf(format, args...), failOnSyntax)
	}
	name, change, ok := strings.Cut(s, ":")
	if !ok {
		return fail("no ':' between the metric and the change")
	}
	m, err := metric.LookupMetric(name)
	if err != nil {
		return fail("%v", err)
	}
	change = strings.TrimSpace(change)
	worse, way := "+", "rises"
	if m.HigherIsBetter {
		worse, way = "-", "falls"
	}
	if change != "" && (change[0] == '+' || change[0] == '-') {
		if change[:1] != worse {
			return fail("%s gets worse as it %s: write %s:%s%s", m.Name, way, m.Name, worse, strings.TrimSpace(change[1:]))
		}
		change = strings.TrimSpace(change[1:])
	}
	if change == "" {
		return fail("no change after ':'")
	}
	f := FailOn{Metric: m, text: strings.TrimSpace(s)}
	if num, rel := strings.CutSuffix(change, "%"); rel {
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return fail("%q is not a percentage", change)
		}
		f.Relative, f.Limit = true, v
		return f, nil
	}
	if m.Unit == metric.Percent {
		num := strings.TrimSpace(strings.TrimSuffix(change, "pp"))
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return fail("%q is not a number of percentage points", change)
		}
		f.Limit = v
		return f, nil
	}
	if f.Limit, err = m.Unit.ParseValue(change); err != nil {
		return fail("%v", err)
	}
	return f, nil
}

// String returns the rule as it was written.
func (f FailOn) String() string {
	if f.text != "" || f.Metric == nil {
		return f.text
	}
	sign := "+"
	if f.Metric.HigherIsBetter {
		sign = "-"
	}
	v := strconv.FormatFloat(f.Limit, 'f', -1, 64)
	switch {
	case f.Relative:
		v += "%"
	case f.Metric.Unit == metric.Microseconds:
		v += "us"
	case f.Metric.Unit == metric.PerSecond:
		v += "/s"
	}
	return f.Metric.Name + ":" + sign + v
}

// Regression is a row of a comparison that failed a FailOn rule.
type Regression struct {
	Rule    string  `json:"rule"`
	Stage   string  `json:"stage"`
	Command string  `json:"command"`
	Metric  string  `json:"metric"`
	Old     float64 `json:"old"`    // old median, in the metric's unit
	New     float64 `json:"new"`    // new median
	Change  float64 `json:"change"` // in percent of the old median; +Inf when old was 0
	P       float64 `json:"p"`
	Message string  `json:"message"`
}

// String returns the regression's message.
func (r Regression) String() string { return r.Message }

// Check returns the rows of c that fail the rule: the metric's change is significant,
// for the worse, and beyond the limit. It is an error when c has no row of the metric
// with figures on both sides, since the rule would then pass without checking anything.
func (f FailOn) Check(c *Comparison) ([]Regression, error) {
	if f.Metric == nil {
		return nil, errors.New("an empty fail-on rule; make one with ParseFailOn")
	}
	var (
		out      []Regression
		compared bool
	)
	for i := range c.Rows {
		row := &c.Rows[i]
		if row.Metric != f.Metric.Name || !row.Comparable() {
			continue
		}
		compared = true
		old, new := row.Old.Center, row.New.Center
		if !row.Significant || !f.Metric.Worse(old, new) {
			continue
		}
		change := row.Change
		if old == 0 {
			change = math.Inf(1)
		}
		var beyond bool
		if f.Relative {
			beyond = math.Abs(change) > f.Limit
		} else {
			beyond = math.Abs(new-old) > f.Limit
		}
		if !beyond {
			continue
		}
		u := f.Metric.Unit
		out = append(out, Regression{
			Rule: f.String(), Stage: row.Stage, Command: row.Command, Metric: row.Metric,
			Old: old, New: new, Change: change, P: row.P,
			Message: fmt.Sprintf("%s: stage %q %s: %s went from %s to %s (%s, p=%.3f)",
				f, row.Stage, row.Command, row.Metric, u.Format(old), u.Format(new), row.Delta, row.P),
		})
	}
	if !compared {
		return nil, fmt.Errorf("fail-on rule %s: the comparison has no %s with figures on both sides, so the rule checks nothing: compare that metric, or drop the rule", f, f.Metric.Name)
	}
	return out, nil
}
