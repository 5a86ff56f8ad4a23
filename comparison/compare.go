package comparison

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/metric"
	"github.com/dmbench/dmbench/resultfmt"
)

// CompareOptions changes what Compare compares and how.
type CompareOptions struct {
	// OldName and NewName title the two sides ("old" and "new" when empty), normally the
	// paths they were read from.
	OldName, NewName string
	// Metrics are the names of the metrics to compare, in order; nil means
	// DefaultCompareMetrics.
	Metrics []string
	// Alpha is the significance level of the Mann-Whitney U test; 0 means 0.05.
	Alpha float64
	// Confidence is the confidence level of the medians' intervals; 0 means 0.95.
	Confidence float64
}

// Comparison is two result sets compared: per stage, command and metric, each side's
// median over its runs with a confidence interval, and whether the change between them
// is significant. Compare makes one; WriteComparison prints it.
type Comparison struct {
	Old        Side    `json:"old"`
	New        Side    `json:"new"`
	Alpha      float64 `json:"alpha"`
	Confidence float64 `json:"confidence"`
	// Metrics are the names of the metrics compared, in table order.
	Metrics []string `json:"metrics"`
	// Rows are ordered by metric, then stage and command in order of first appearance.
	Rows []CompareRow `json:"rows"`
	// Warnings are differences in setup between (or within) the sides that make the
	// comparison doubtful, and runs whose figures are not to be trusted.
	Warnings []string `json:"warnings,omitempty"`
}

// Side describes one side of a comparison.
type Side struct {
	Name     string   `json:"name"`
	Runs     int      `json:"runs"`
	Scenario string   `json:"scenario"`         // scenario names, comma-separated if several
	Labels   []string `json:"labels,omitempty"` // key=value labels common to every run
}

// CompareRow is one metric of one command in one stage, compared.
type CompareRow struct {
	Stage   string      `json:"stage"`
	Command string      `json:"command"`
	Metric  string      `json:"metric"`
	Unit    metric.Unit `json:"-"`
	Old     Stats       `json:"old"`
	New     Stats       `json:"new"`
	// Change is (new/old − 1) in percent, from the medians; NaN when a side has no runs
	// or the old median is 0.
	Change float64 `json:"-"`
	// P is the Mann-Whitney U test's p-value (1 when a side has no runs).
	P float64 `json:"p"`
	// Significant is P ≤ alpha: the two sides differ.
	Significant bool `json:"significant"`
	// Delta is the change as benchstat prints it: "~" when not significant, else
	// "+12.34%", "0.00%", or "?" when the old median is 0; "" when a side has no runs.
	Delta string `json:"delta"`
	// Verdict is "worse" or "better" for a significant change (by the metric's
	// direction), "~" when not significant, "same" for equal medians, "" when a side has
	// no runs.
	Verdict string `json:"verdict"`
	// Warnings are benchmath's about the comparison, e.g. too few runs to see a difference.
	Warnings []string `json:"warnings,omitempty"`
}

// Comparable reports whether both sides have runs with this figure.
func (r *CompareRow) Comparable() bool { return r.Old.N() > 0 && r.New.N() > 0 }

// Stats summarises one side's values of a figure, one value per run.
type Stats struct {
	// Values are the runs' values, ascending.
	Values []float64 `json:"values"`
	// Center is the median; Lo and Hi bound its confidence interval (±Inf when there are
	// too few runs for one).
	Center float64 `json:"median"`
	Lo     float64 `json:"-"`
	Hi     float64 `json:"-"`
	// Confidence is the interval's actual confidence level (≥ the one asked for).
	Confidence float64 `json:"confidence"`
	// Warnings are benchmath's about the summary, e.g. too few runs for an interval.
	Warnings []string `json:"warnings,omitempty"`
}

// N returns the number of runs.
func (s Stats) N() int { return len(s.Values) }

// RangeString returns the confidence interval's half-width in percent of the median, as
// benchstat prints it: "5%", "∞" with too few runs, "?" when it straddles 0.
func (s Stats) RangeString() string {
	return benchmath.Summary{Center: s.Center, Lo: s.Lo, Hi: s.Hi}.PctRangeString()
}

// Compare compares two result sets (see ReadSet) stage by stage, command by command and
// metric by metric. Stages are matched by name (a name used twice within a run is told
// apart as name#2), commands by name. For each, every run gives one value; each side's
// values are summarised by their median with a confidence interval and the two sides are
// compared with the Mann-Whitney U test (golang.org/x/perf/benchmath, AssumeNothing), as
// benchstat does. A change is significant when p ≤ alpha; with fewer than 4 runs a side
// no change can be, and the rows carry benchmath's warning saying so (5 or more runs a
// side are needed for a 95% interval of the median, 6 for a finite one).
//
// A figure present on one side only gets a row with the other side empty. Runs written
// with different schema versions (Meta.SchemaVersion), on one side or across the two,
// are refused: a field's meaning changes between versions (see CompareSets, which names
// such runs by their folders).
func Compare(old, new []*resultfmt.Result, opts CompareOptions) (*Comparison, error) {
	if len(old) == 0 || len(new) == 0 {
		return nil, fmt.Errorf("comparing: the old side has %d runs and the new side %d: each needs at least one (5 or more for a significant difference)", len(old), len(new))
	}
	if err := checkSchemaVersions(old, new, nil, nil); err != nil {
		return nil, err
	}
	if opts.Alpha == 0 {
		opts.Alpha = benchmath.DefaultThresholds.CompareAlpha
	}
	if opts.Confidence == 0 {
		opts.Confidence = 0.95
	}
	if opts.Alpha <= 0 || opts.Alpha >= 1 || opts.Confidence <= 0 || opts.Confidence >= 1 {
		return nil, fmt.Errorf("comparing: alpha %v and confidence %v must both lie between 0 and 1, e.g. 0.05 and 0.95", opts.Alpha, opts.Confidence)
	}
	names := opts.Metrics
	if names == nil {
		names = metric.DefaultCompareMetrics
	}
	var ms []*metric.Metric
	seenMetric := map[string]bool{}
	for _, n := range names {
		m, err := metric.LookupMetric(n)
		if err != nil {
			return nil, fmt.Errorf("comparing: %w", err)
		}
		if !seenMetric[m.Name] {
			seenMetric[m.Name] = true
			ms = append(ms, m)
		}
	}
	c := &Comparison{
		Old:        describeSide(cmp.Or(opts.OldName, "old"), old),
		New:        describeSide(cmp.Or(opts.NewName, "new"), new),
		Alpha:      opts.Alpha,
		Confidence: opts.Confidence,
		Rows:       []CompareRow{},
		Warnings:   setupWarnings(old, new),
	}
	for _, m := range ms {
		c.Metrics = append(c.Metrics, m.Name)
	}

	keys := figureKeys(old, new)
	thresholds := &benchmath.Thresholds{CompareAlpha: opts.Alpha}
	for _, m := range ms {
		for _, k := range keys {
			row := CompareRow{Stage: k.stage, Command: k.command, Metric: m.Name, Unit: m.Unit, Change: math.NaN(), P: 1}
			os, ns := sideSample(old, k, m, thresholds), sideSample(new, k, m, thresholds)
			if os == nil && ns == nil {
				continue // the metric measures nothing here (e.g. latency of unacknowledged requests)
			}
			row.Old, row.New = summarise(os, opts.Confidence), summarise(ns, opts.Confidence)
			if os != nil && ns != nil {
				cmp := benchmath.AssumeNothing.Compare(os, ns)
				row.P = cmp.P
				row.Significant = cmp.P <= cmp.Alpha
				row.Delta = cmp.FormatDelta(row.Old.Center, row.New.Center)
				row.Warnings = errorStrings(cmp.Warnings)
				if row.Old.Center != 0 {
					row.Change = (row.New.Center/row.Old.Center - 1) * 100
				}
				switch {
				case !row.Significant:
					row.Verdict = "~"
				case row.Old.Center == row.New.Center:
					row.Verdict = "same"
				case m.Worse(row.Old.Center, row.New.Center):
					row.Verdict = "worse"
				default:
					row.Verdict = "better"
				}
			}
			c.Rows = append(c.Rows, row)
		}
	}
	return c, nil
}

// figureKey names a command within a stage.
type figureKey struct{ stage, command string }

// stageKeys returns the keys under which a run's stages are matched: their names, with
// #2, #3... for repeats and "stage N" for an unnamed stage.
func stageKeys(r *resultfmt.Result) []string {
	keys := make([]string, len(r.Stages))
	count := map[string]int{}
	for i, s := range r.Stages {
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("stage %d", i+1)
		}
		count[name]++
		if n := count[name]; n > 1 {
			name = fmt.Sprintf("%s#%d", name, n)
		}
		keys[i] = name
	}
	return keys
}

// figureKeys returns every stage and command of the runs, in order of first appearance.
func figureKeys(sets ...[]*resultfmt.Result) []figureKey {
	var keys []figureKey
	seen := map[figureKey]bool{}
	for _, set := range sets {
		for _, r := range set {
			for i, sk := range stageKeys(r) {
				for _, c := range r.Stages[i].Commands {
					k := figureKey{sk, c.Command}
					if !seen[k] {
						seen[k] = true
						keys = append(keys, k)
					}
				}
			}
		}
	}
	return keys
}

// sideSample collects one value per run of metric m for key k, or nil when no run has one.
func sideSample(runs []*resultfmt.Result, k figureKey, m *metric.Metric, t *benchmath.Thresholds) *benchmath.Sample {
	var values []float64
	for _, r := range runs {
		for i, sk := range stageKeys(r) {
			if sk != k.stage {
				continue
			}
			s := &r.Stages[i]
			for ci := range s.Commands {
				if c := &s.Commands[ci]; c.Command == k.command {
					if v, ok := m.Value(r, s, c); ok {
						values = append(values, v)
					}
				}
			}
		}
	}
	if len(values) == 0 {
		return nil
	}
	return benchmath.NewSample(values, t) // sorts values
}

func summarise(s *benchmath.Sample, confidence float64) Stats {
	if s == nil {
		return Stats{Center: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	sum := benchmath.AssumeNothing.Summary(s, confidence)
	return Stats{
		Values:     s.Values,
		Center:     sum.Center,
		Lo:         sum.Lo,
		Hi:         sum.Hi,
		Confidence: sum.Confidence,
		Warnings:   append(errorStrings(s.Warnings), errorStrings(sum.Warnings)...),
	}
}

func errorStrings(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// describeSide says what a side holds: how many runs, of which scenarios, and the labels
// all its runs share.
func describeSide(name string, runs []*resultfmt.Result) Side {
	side := Side{Name: name, Runs: len(runs)}
	var scen []string
	for _, r := range runs {
		if n := cmp.Or(r.Meta.Scenario.Name, "(unnamed)"); !slices.Contains(scen, n) {
			scen = append(scen, n)
		}
	}
	side.Scenario = strings.Join(scen, ", ")
	for _, k := range slices.Sorted(maps.Keys(runs[0].Meta.Labels)) {
		v := runs[0].Meta.Labels[k]
		common := true
		for _, r := range runs[1:] {
			if w, ok := r.Meta.Labels[k]; !ok || w != v {
				common = false
				break
			}
		}
		if common {
			side.Labels = append(side.Labels, k+"="+v)
		}
	}
	return side
}

// setupFields are the parts of a run's setup that must match for a comparison of broker
// versions to mean something.
var setupFields = []struct {
	name string
	get  func(m *resultfmt.Meta) string
}{
	{"scenario", func(m *resultfmt.Meta) string {
		if m.Scenario.SHA256 == "" {
			return cmp.Or(m.Scenario.Name, "(unnamed)")
		}
		return cmp.Or(m.Scenario.Name, "(unnamed)") + " (sha256 " + m.Scenario.SHA256[:min(12, len(m.Scenario.SHA256))] + ")"
	}},
	{"transport", func(m *resultfmt.Meta) string { return cmp.Or(m.Transport, "(default)") }},
	{"broker", func(m *resultfmt.Meta) string {
		if !m.Target.Embedded {
			return "external server"
		}
		return "embedded broker, mode " + cmp.Or(m.Target.BrokerMode, "(default)")
	}},
	{"faults", func(m *resultfmt.Meta) string { return cmp.Or(strings.Join(m.Target.Faults, "; "), "none") }},
	{"GOMAXPROCS", func(m *resultfmt.Meta) string { return strconv.Itoa(m.GOMAXPROCS) }},
	{"host", func(m *resultfmt.Meta) string { return cmp.Or(m.Host, "(unknown)") }},
}

// setupWarnings returns what makes a comparison doubtful: a setup that differs between
// the sides or within one, the same run on both sides, interrupted runs, and runs in
// which the generator could not keep up.
func setupWarnings(old, new []*resultfmt.Result) []string {
	var out []string
	for _, f := range setupFields {
		ov, nv := distinct(old, f.get), distinct(new, f.get)
		for _, side := range []struct {
			name string
			vals []countedValue
		}{{"old", ov}, {"new", nv}} {
			if len(side.vals) > 1 {
				out = append(out, fmt.Sprintf("%s runs differ in %s: %s", side.name, f.name, joinCounted(side.vals)))
			}
		}
		// When the values overlap but differ, a side is mixed and was warned about above.
		if disjoint(ov, nv) {
			out = append(out, fmt.Sprintf("%s differs: old %s, new %s", f.name, joinCounted(ov), joinCounted(nv)))
		}
	}
	for _, o := range old {
		for _, n := range new {
			if !o.Meta.Start.IsZero() && o.Meta.Start.Equal(n.Meta.Start) && o.Meta.Host == n.Meta.Host && o.Meta.Scenario.SHA256 == n.Meta.Scenario.SHA256 {
				out = append(out, fmt.Sprintf("the run of %s started %s is on both sides", o.Meta.Host, o.Meta.Start.UTC().Format("2006-01-02T15:04:05Z")))
			}
		}
	}
	for _, side := range []struct {
		name string
		runs []*resultfmt.Result
	}{{"old", old}, {"new", new}} {
		var interrupted, bound int
		for _, r := range side.runs {
			if r.Meta.Interrupted {
				interrupted++
			}
			if r.Generator.Bound {
				bound++
			}
		}
		if interrupted > 0 {
			out = append(out, fmt.Sprintf("%s: %d of %d runs were interrupted: their figures cover less than the whole scenario", side.name, interrupted, len(side.runs)))
		}
		if bound > 0 {
			out = append(out, fmt.Sprintf("%s: in %d of %d runs the generator could not keep up: those figures measure dmbench, not the server", side.name, bound, len(side.runs)))
		}
	}
	return out
}

// countedValue is a distinct value and how many runs have it.
type countedValue struct {
	v string
	n int
}

func distinct(runs []*resultfmt.Result, get func(*resultfmt.Meta) string) []countedValue {
	var out []countedValue
next:
	for _, r := range runs {
		v := get(&r.Meta)
		for i := range out {
			if out[i].v == v {
				out[i].n++
				continue next
			}
		}
		out = append(out, countedValue{v, 1})
	}
	return out
}

// disjoint reports whether no value is in both a and b.
func disjoint(a, b []countedValue) bool {
	for _, x := range a {
		for _, y := range b {
			if x.v == y.v {
				return false
			}
		}
	}
	return true
}

func joinCounted(vals []countedValue) string {
	if len(vals) == 1 {
		return vals[0].v
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprintf("%s (%s)", v.v, words.Plural(v.n, "run", "runs"))
	}
	return strings.Join(parts, ", ")
}

// # Printing a comparison
