package comparison

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dmbench/dmbench/metric"
	"github.com/dmbench/dmbench/resultfmt"
)

// # Metrics
//
// A Metric is one figure of one command that thresholds check and Compare compares. The
// list is in metrics below: a new figure (e.g. the server's service time, once results
// carry the server's view) is one entry there.

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
	Metric  *metric.Metric
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
	m, err := metric.LookupMetric(name)
	if err != nil {
		return fail("%v", err)
	}
	t.Metric = m
	if strings.TrimSpace(right) == "" {
		return fail("no value after %s", op)
	}
	if t.Limit, err = m.Unit.ParseValue(right); err != nil {
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
	case metric.PerSecond:
		return v + "/s"
	case metric.Percent:
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
func (t Threshold) Check(r *resultfmt.Result) []Violation {
	if t.Metric == nil {
		return []Violation{{Threshold: t.String(), Message: "an empty threshold; make one with ParseThreshold"}}
	}
	var (
		out     []Violation
		checked int
	)
	check := func(stage *resultfmt.StageResult, c *resultfmt.CommandResult) {
		where := c.Command + " over the whole run"
		stageName := ""
		if stage != nil {
			stageName = stage.Name
			where = fmt.Sprintf("stage %q %s", stage.Name, c.Command)
		}
		v, ok := t.Metric.Value(r, stage, c)
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
			Message: fmt.Sprintf("%s: nothing to check: %s", t, describeScope(r, t))})
	}
	return out
}

// describeScope says what a run holds, for a threshold that found nothing to check.
func describeScope(r *resultfmt.Result, t Threshold) string {
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
func CheckThresholds(r *resultfmt.Result, ts []Threshold) []Violation {
	var out []Violation
	for _, t := range ts {
		out = append(out, t.Check(r)...)
	}
	return out
}

// # Regression rules for comparisons
