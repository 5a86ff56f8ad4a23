package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// # Metrics
//
// A Metric is one figure of one command that thresholds check and Compare compares. The
// list is in metrics below: a new figure (e.g. the server's service time, once results
// carry the server's view) is one entry there.

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
			return sig4(v/1e6) + "M/s"
		case ref >= 1e3:
			return sig4(v/1e3) + "k/s"
		default:
			return sig4(v) + "/s"
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
			return sig4(v/1e6) + "s"
		case ref >= 1e3:
			return sig4(v/1e3) + "ms"
		default:
			return sig4(v) + "µs"
		}
	}
}

// sig4 formats f with 4 significant digits (as benchstat does), or as a whole number
// from 1000 up.
func sig4(f float64) string {
	switch a := math.Abs(f); {
	case a < 9.9995:
		return fmt.Sprintf("%.3f", f)
	case a < 99.995:
		return fmt.Sprintf("%.2f", f)
	case a < 999.95:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.0f", f)
	}
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
	value func(r *Result, stage *StageResult, c *CommandResult) (float64, bool)
}

// Value returns the metric of command c within stage of run r, or of the whole run when
// stage is nil and c holds the command's figures merged over the stages (r.WholeRun).
// ok is false when c has nothing to measure: no request was timed, or none was sent.
func (m *Metric) Value(r *Result, stage *StageResult, c *CommandResult) (v float64, ok bool) {
	return m.value(r, stage, c)
}

// worse reports whether going from old to new is a change for the worse.
func (m *Metric) worse(old, new float64) bool {
	if m.HigherIsBetter {
		return new < old
	}
	return new > old
}

// latencyMetric is a figure of the corrected latency (timed from the intended send).
func latencyMetric(name, what string, pick func(Latency) float64) *Metric {
	return &Metric{
		Name:        name,
		Unit:        Microseconds,
		Description: what + " of corrected latency (reply − intended send)",
		value: func(_ *Result, _ *StageResult, c *CommandResult) (float64, bool) {
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
		value: func(_ *Result, _ *StageResult, c *CommandResult) (float64, bool) {
			return c.ThroughputPerS, c.Counts.Sent > 0
		},
	},
	latencyMetric("p50", "median", func(l Latency) float64 { return float64(l.P50US) }),
	latencyMetric("p90", "90th percentile", func(l Latency) float64 { return float64(l.P90US) }),
	latencyMetric("p99", "99th percentile", func(l Latency) float64 { return float64(l.P99US) }),
	latencyMetric("p99.9", "99.9th percentile", func(l Latency) float64 { return float64(l.P999US) }),
	latencyMetric("max", "maximum", func(l Latency) float64 { return float64(l.MaxUS) }),
	latencyMetric("mean", "mean", func(l Latency) float64 { return l.MeanUS }),
	{
		Name:        "errors",
		Unit:        Percent,
		Description: "failed requests in % of those sent (exceptions, unexpected replies, timeouts, abandoned, send errors)",
		value: func(_ *Result, _ *StageResult, c *CommandResult) (float64, bool) {
			if c.Counts.Sent == 0 {
				return 0, false
			}
			return 100 * float64(c.Counts.Errors()) / float64(c.Counts.Sent), true
		},
	},
	serviceMetric("server-p50", "median", func(l Latency) float64 { return float64(l.P50US) }),
	serviceMetric("server-p99", "99th percentile", func(l Latency) float64 { return float64(l.P99US) }),
}

// serviceMetric is a figure of the server's own service time for the command, from its
// performance reports (Result.ServerView): the stage's join, or the whole run's when stage
// is nil. Runs against a server that sends no report have no value.
func serviceMetric(name, what string, pick func(Latency) float64) *Metric {
	return &Metric{
		Name:        name,
		Unit:        Microseconds,
		Description: what + " of the server's service time (its PERFRPRT histogram)",
		value: func(r *Result, stage *StageResult, c *CommandResult) (float64, bool) {
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

// parseValue reads a threshold's or rule's value in the metric's unit: a duration with
// its unit for latencies (500us, 500µs, 2ms, 1.5s), a percentage with % for errors, and
// a rate for throughput (1000/s or 1000). It returns the value in u.
func (u Unit) parseValue(s string) (float64, error) {
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

// # Thresholds

// Op is a threshold's comparison.
type Op string

// The comparisons a threshold may use.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
)

func (o Op) holds(v, limit float64) bool {
	switch o {
	case Less:
		return v < limit
	case LessEqual:
		return v <= limit
	case Greater:
		return v > limit
	default:
		return v >= limit
	}
}

// Threshold is an objective one run must meet, such as p99<5ms (k6's thresholds). It is
// checked per command; its scope decides over what:
//
//   - no stage selector: each command over the whole run, stages merged and warm-up
//     excluded: latencies from the merged histogram, errors from the summed counts,
//     throughput as OK replies over the summed measured windows (warm-up excluded);
//   - {stage=NAME}: each command within the stage(s) of that name;
//   - {stage=*}: each command within each stage separately.
//
// {command=NAME} restricts it to one command. Commands with nothing to measure (a
// latency when nothing was timed, e.g. requests without ack) are passed over, unless the
// threshold names the command; a threshold that finds nothing at all to check is
// violated, so a mistyped name cannot pass silently.
type Threshold struct {
	Metric  *Metric
	Op      Op
	Limit   float64 // in the metric's unit: µs, /s or %
	Command string  // "" for every command
	Stage   string  // "" for the whole run, "*" for every stage, else a stage's name
	text    string
}

// thresholdSyntax is the help that parse errors end with.
const thresholdSyntax = "want METRIC OP VALUE, e.g. p99<5ms, p50<=2ms, errors<0.1%, throughput>=1000/s; " +
	"OP is <, <=, > or >=; VALUE is a duration for latencies, a percentage for errors, a rate for throughput; " +
	"{command=NAME,stage=NAME or *} after the metric narrows it"

// ParseThreshold reads a threshold such as "p99<5ms", "errors<0.1%", "p50<=2ms",
// "throughput>=1000/s" or "p99{command=GROUPADD,stage=*}<10ms". Spaces around the parts
// are allowed. Metrics: throughput, p50, p90, p99, p99.9, max, mean (corrected latency)
// and errors.
func ParseThreshold(s string) (Threshold, error) {
	fail := func(format string, args ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("threshold %q: %s (%s)", s, fmt.Sprintf(format, args...), thresholdSyntax)
	}
	i := strings.IndexAny(s, "<>")
	if i < 0 {
		return fail("no comparison")
	}
	left, right := strings.TrimSpace(s[:i]), s[i:]
	op := Op(right[:1])
	right = right[1:]
	if strings.HasPrefix(right, "=") {
		op += "="
		right = right[1:]
	}
	if strings.ContainsAny(right, "<>") {
		return fail("more than one comparison")
	}
	t := Threshold{Op: op}
	name := left
	if j := strings.IndexByte(left, '{'); j >= 0 {
		if !strings.HasSuffix(left, "}") {
			return fail("the selector after the metric must end with }")
		}
		name = strings.TrimSpace(left[:j])
		if err := t.parseSelector(left[j+1 : len(left)-1]); err != nil {
			return fail("%v", err)
		}
	}
	if name == "" {
		return fail("no metric before %s", op)
	}
	m, err := LookupMetric(name)
	if err != nil {
		return fail("%v", err)
	}
	t.Metric = m
	if strings.TrimSpace(right) == "" {
		return fail("no value after %s", op)
	}
	if t.Limit, err = m.Unit.parseValue(right); err != nil {
		return fail("%v", err)
	}
	t.text = strings.TrimSpace(s)
	return t, nil
}

// parseSelector reads "command=NAME,stage=NAME" (":" may stand for "=").
func (t *Threshold) parseSelector(sel string) error {
	seen := map[string]bool{}
	for _, part := range strings.Split(sel, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			k, v, ok = strings.Cut(part, ":")
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || v == "" {
			return fmt.Errorf("selector part %q: want key=value", strings.TrimSpace(part))
		}
		if seen[k] {
			return fmt.Errorf("selector key %q given twice", k)
		}
		seen[k] = true
		switch k {
		case "command":
			t.Command = strings.ToUpper(v)
		case "stage":
			t.Stage = v
		default:
			return fmt.Errorf("selector key %q: the keys are command and stage", k)
		}
	}
	return nil
}

// ParseThresholds reads each argument with ParseThreshold and reports every malformed
// one at once.
func ParseThresholds(args []string) ([]Threshold, error) {
	var (
		out  []Threshold
		errs []error
	)
	for _, a := range args {
		t, err := ParseThreshold(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// String returns the threshold as it was written.
func (t Threshold) String() string {
	if t.text != "" {
		return t.text
	}
	if t.Metric == nil {
		return "(no threshold)"
	}
	var sel []string
	if t.Command != "" {
		sel = append(sel, "command="+t.Command)
	}
	if t.Stage != "" {
		sel = append(sel, "stage="+t.Stage)
	}
	s := t.Metric.Name
	if len(sel) > 0 {
		s += "{" + strings.Join(sel, ",") + "}"
	}
	return s + string(t.Op) + t.limitText()
}

// limitText writes the limit back in the syntax ParseThreshold reads.
func (t Threshold) limitText() string {
	v := strconv.FormatFloat(t.Limit, 'f', -1, 64)
	switch t.Metric.Unit {
	case PerSecond:
		return v + "/s"
	case Percent:
		return v + "%"
	default:
		return v + "us"
	}
}

// Violation is one way a run failed a threshold.
type Violation struct {
	Threshold string `json:"threshold"`
	// Stage is the stage's name, or "" when the threshold is over the whole run.
	Stage   string `json:"stage,omitempty"`
	Command string `json:"command,omitempty"`
	// Value is what was measured, in the metric's unit; Measured is false when there was
	// nothing to measure (the violation is then that nothing could be checked).
	Value    float64 `json:"value"`
	Measured bool    `json:"measured"`
	// Message says it all in one sentence.
	Message string `json:"message"`
}

// String returns the violation's message.
func (v Violation) String() string { return v.Message }

// Check checks r against the threshold and returns every violation: one per command (and
// stage, when the threshold is per stage) whose figure misses it, or one saying there
// was nothing to check. See Threshold for the scopes. r's warm-up is never checked.
func (t Threshold) Check(r *Result) []Violation {
	if t.Metric == nil {
		return []Violation{{Threshold: t.String(), Message: "an empty threshold; make one with ParseThreshold"}}
	}
	var (
		out     []Violation
		checked int
	)
	check := func(stage *StageResult, c *CommandResult) {
		where := c.Command + " over the whole run"
		stageName := ""
		if stage != nil {
			stageName = stage.Name
			where = fmt.Sprintf("stage %q %s", stage.Name, c.Command)
		}
		v, ok := t.Metric.value(r, stage, c)
		if !ok {
			if t.Command != "" {
				out = append(out, Violation{Threshold: t.String(), Stage: stageName, Command: c.Command,
					Message: fmt.Sprintf("%s: %s: nothing to measure (%d sent, %d timed)", t, where, c.Counts.Sent, c.Corrected.Count)})
			}
			return
		}
		checked++
		if !t.Op.holds(v, t.Limit) {
			out = append(out, Violation{Threshold: t.String(), Stage: stageName, Command: c.Command, Value: v, Measured: true,
				Message: fmt.Sprintf("%s: %s: %s is %s", t, where, t.Metric.Name, t.Metric.Unit.Format(v))})
		}
	}
	wants := func(cmd string) bool { return t.Command == "" || t.Command == cmd }

	if t.Stage == "" {
		for _, cmd := range r.Commands() {
			if !wants(cmd) {
				continue
			}
			c, err := r.WholeRun(cmd)
			if err != nil {
				out = append(out, Violation{Threshold: t.String(), Command: cmd,
					Message: fmt.Sprintf("%s: %s over the whole run could not be checked: %v", t, cmd, err)})
				checked++ // reported already; not "nothing to check"
				continue
			}
			check(nil, &c)
		}
	} else {
		for si := range r.Stages {
			s := &r.Stages[si]
			if t.Stage != "*" && s.Name != t.Stage {
				continue
			}
			for ci := range s.Commands {
				if wants(s.Commands[ci].Command) {
					check(s, &s.Commands[ci])
				}
			}
		}
	}
	if checked == 0 && len(out) == 0 {
		out = append(out, Violation{Threshold: t.String(), Command: t.Command,
			Message: fmt.Sprintf("%s: nothing to check: %s", t, r.describeScope(t))})
	}
	return out
}

// describeScope says what a run holds, for a threshold that found nothing to check.
func (r *Result) describeScope(t Threshold) string {
	var stages []string
	for _, s := range r.Stages {
		stages = append(stages, strconv.Quote(s.Name))
	}
	if len(stages) == 0 {
		return "the run has no stages"
	}
	return fmt.Sprintf("no command with a %s in the selected stages (stages %s; commands %s)",
		t.Metric.Name, strings.Join(stages, ", "), strings.Join(r.Commands(), ", "))
}

// CheckThresholds checks r against each threshold and returns all violations, in the
// thresholds' order.
func CheckThresholds(r *Result, ts []Threshold) []Violation {
	var out []Violation
	for _, t := range ts {
		out = append(out, t.Check(r)...)
	}
	return out
}

// WholeRun returns cmd's figures over all stages (warm-up excluded): counts summed,
// corrected latency from the merged histograms, throughput and send rate over the summed
// measured windows of the stages. The uncorrected and send-delay figures are left empty. A command the
// result does not hold gives zero figures.
func (r *Result) WholeRun(cmd string) (CommandResult, error) {
	var (
		only  *CommandResult
		n     int
		total time.Duration
	)
	for si := range r.Stages {
		total += r.Stages[si].Measured()
		for ci := range r.Stages[si].Commands {
			if c := &r.Stages[si].Commands[ci]; c.Command == cmd {
				only = c
				n++
			}
		}
	}
	out := CommandResult{Command: cmd}
	if n == 1 {
		out.Counts, out.Corrected = only.Counts, only.Corrected
	} else {
		h, counts, err := r.Merged(cmd, Corrected)
		if err != nil {
			return out, err
		}
		if out.Corrected, err = NewLatency(h); err != nil {
			return out, err
		}
		out.Counts = counts
	}
	if secs := total.Seconds(); secs > 0 {
		out.ThroughputPerS = float64(out.Counts.OK) / secs
		out.SentPerS = float64(out.Counts.Sent) / secs
	}
	return out, nil
}

// # Regression rules for comparisons

// FailOn is a rule that makes a comparison fail, such as p99:+10% (the p99 got
// significantly worse by more than 10%). See ParseFailOn.
type FailOn struct {
	Metric *Metric
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
	m, err := LookupMetric(name)
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
	if m.Unit == Percent {
		num := strings.TrimSpace(strings.TrimSuffix(change, "pp"))
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return fail("%q is not a number of percentage points", change)
		}
		f.Limit = v
		return f, nil
	}
	if f.Limit, err = m.Unit.parseValue(change); err != nil {
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
	case f.Metric.Unit == Microseconds:
		v += "us"
	case f.Metric.Unit == PerSecond:
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
		if !row.Significant || !f.Metric.worse(old, new) {
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
