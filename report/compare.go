package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/perf/benchmath"
)

// # Comparing two sets

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
	Stage   string `json:"stage"`
	Command string `json:"command"`
	Metric  string `json:"metric"`
	Unit    Unit   `json:"-"`
	Old     Stats  `json:"old"`
	New     Stats  `json:"new"`
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
func Compare(old, new []*Result, opts CompareOptions) (*Comparison, error) {
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
		names = DefaultCompareMetrics
	}
	var ms []*Metric
	seenMetric := map[string]bool{}
	for _, n := range names {
		m, err := LookupMetric(n)
		if err != nil {
			return nil, fmt.Errorf("comparing: %w", err)
		}
		if !seenMetric[m.Name] {
			seenMetric[m.Name] = true
			ms = append(ms, m)
		}
	}
	c := &Comparison{
		Old:        describeSide(nonEmpty(opts.OldName, "old"), old),
		New:        describeSide(nonEmpty(opts.NewName, "new"), new),
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
				case m.worse(row.Old.Center, row.New.Center):
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
func stageKeys(r *Result) []string {
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
func figureKeys(sets ...[]*Result) []figureKey {
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
func sideSample(runs []*Result, k figureKey, m *Metric, t *benchmath.Thresholds) *benchmath.Sample {
	var values []float64
	for _, r := range runs {
		for i, sk := range stageKeys(r) {
			if sk != k.stage {
				continue
			}
			s := &r.Stages[i]
			for ci := range s.Commands {
				if c := &s.Commands[ci]; c.Command == k.command {
					if v, ok := m.value(r, s, c); ok {
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
func describeSide(name string, runs []*Result) Side {
	side := Side{Name: name, Runs: len(runs)}
	var scen []string
	for _, r := range runs {
		if n := nonEmpty(r.Meta.Scenario.Name, "(unnamed)"); !contains(scen, n) {
			scen = append(scen, n)
		}
	}
	side.Scenario = strings.Join(scen, ", ")
	for _, k := range sortedKeys(runs[0].Meta.Labels) {
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// setupFields are the parts of a run's setup that must match for a comparison of broker
// versions to mean something.
var setupFields = []struct {
	name string
	get  func(m *Meta) string
}{
	{"scenario", func(m *Meta) string {
		if m.Scenario.SHA256 == "" {
			return nonEmpty(m.Scenario.Name, "(unnamed)")
		}
		return nonEmpty(m.Scenario.Name, "(unnamed)") + " (sha256 " + m.Scenario.SHA256[:min(12, len(m.Scenario.SHA256))] + ")"
	}},
	{"transport", func(m *Meta) string { return nonEmpty(m.Transport, "(default)") }},
	{"broker", func(m *Meta) string {
		if !m.Target.Embedded {
			return "external server"
		}
		return "embedded broker, mode " + nonEmpty(m.Target.BrokerMode, "(default)")
	}},
	{"faults", func(m *Meta) string { return nonEmpty(strings.Join(m.Target.Faults, "; "), "none") }},
	{"GOMAXPROCS", func(m *Meta) string { return strconv.Itoa(m.GOMAXPROCS) }},
	{"host", func(m *Meta) string { return nonEmpty(m.Host, "(unknown)") }},
}

// setupWarnings returns what makes a comparison doubtful: a setup that differs between
// the sides or within one, the same run on both sides, interrupted runs, and runs in
// which the generator could not keep up.
func setupWarnings(old, new []*Result) []string {
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
		runs []*Result
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

func distinct(runs []*Result, get func(*Meta) string) []countedValue {
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
		parts[i] = fmt.Sprintf("%s (%s)", v.v, plural(uint64(v.n), "run", "runs"))
	}
	return strings.Join(parts, ", ")
}

// # Printing a comparison

// Format is an output format of a comparison.
type Format string

// The formats WriteComparison prints.
const (
	FormatText     Format = "text"
	FormatMarkdown Format = "markdown"
	FormatJSON     Format = "json"
	FormatCSV      Format = "csv"
)

// ParseFormat reads a format name: text, markdown (or md), json or csv.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatText, FormatMarkdown, FormatJSON, FormatCSV:
		return f, nil
	case "md":
		return FormatMarkdown, nil
	}
	return "", fmt.Errorf("unknown format %q: use text, markdown, json or csv", s)
}

// WriteComparison prints c in the format:
//
//   - text: benchstat's layout, a table per metric with a row per stage/command: each
//     side's median ± the confidence interval's half-width in %, then the change of the
//     median, or ~ when not significant, with the p-value and the numbers of runs;
//     warnings as numbered footnotes, setup warnings at the top;
//   - markdown: the same figures in one table, with the verdict (worse/better);
//   - json: c itself (Stats.Lo and Hi as ci_low and ci_high, null when infinite);
//   - csv: a row per stage, command and metric with the raw numbers, in the metric's
//     unit (µs, /s or %); setup warnings are not in it.
func WriteComparison(w io.Writer, c *Comparison, f Format) error {
	ew := &errWriter{w: w}
	switch f {
	case FormatText, "":
		writeCompareText(ew, c)
	case FormatMarkdown:
		writeCompareMarkdown(ew, c)
	case FormatJSON:
		enc := json.NewEncoder(ew)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonComparison(c)); err != nil && ew.err == nil {
			return fmt.Errorf("report: printing the comparison as JSON: %w", err)
		}
	case FormatCSV:
		cw := csv.NewWriter(ew)
		_ = cw.Write([]string{"stage", "command", "metric", "unit",
			"old_median", "old_ci_low", "old_ci_high", "old_n",
			"new_median", "new_ci_low", "new_ci_high", "new_n",
			"change_pct", "p", "significant", "verdict", "warnings"})
		for i := range c.Rows {
			r := &c.Rows[i]
			var warns []string
			warns = append(warns, r.Old.Warnings...)
			warns = append(warns, r.New.Warnings...)
			warns = append(warns, r.Warnings...)
			_ = cw.Write([]string{r.Stage, r.Command, r.Metric, r.Unit.String(),
				csvFloat(r.Old.Center), csvFloat(r.Old.Lo), csvFloat(r.Old.Hi), strconv.Itoa(r.Old.N()),
				csvFloat(r.New.Center), csvFloat(r.New.Lo), csvFloat(r.New.Hi), strconv.Itoa(r.New.N()),
				csvFloat(r.Change), csvFloat(r.P), strconv.FormatBool(r.Significant), r.Verdict, strings.Join(dedupe(warns), "; ")})
		}
		cw.Flush()
		if err := cw.Error(); err != nil && ew.err == nil {
			return fmt.Errorf("report: printing the comparison as CSV: %w", err)
		}
	default:
		return fmt.Errorf("report: unknown format %q: use text, markdown, json or csv", f)
	}
	if ew.err != nil {
		return fmt.Errorf("report: printing the comparison: %w", errors.Unwrap(ew.err))
	}
	return nil
}

func csvFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// footnotes numbers warnings as benchstat does: each distinct message once, marked ¹ ² ³.
type footnotes struct{ list []string }

// mark returns the superscripts of msgs, adding new messages to the list.
func (f *footnotes) mark(msgs ...[]string) string {
	var marks []string
	for _, group := range msgs {
		for _, m := range group {
			i := -1
			for j, s := range f.list {
				if s == m {
					i = j
					break
				}
			}
			if i < 0 {
				f.list = append(f.list, m)
				i = len(f.list) - 1
			}
			if mk := superscript(i + 1); !contains(marks, mk) {
				marks = append(marks, mk)
			}
		}
	}
	return strings.Join(marks, " ")
}

func superscript(n int) string {
	digits := []rune("⁰¹²³⁴⁵⁶⁷⁸⁹")
	var b []rune
	for _, ch := range strconv.Itoa(n) {
		b = append(b, digits[ch-'0'])
	}
	return string(b)
}

// writeCompareHeader prints the sides and the setup warnings.
func writeCompareHeader(ew *errWriter, c *Comparison, bullet string) {
	for _, s := range []struct {
		tag  string
		side Side
	}{{"old", c.Old}, {"new", c.New}} {
		line := fmt.Sprintf("%s%s: %s, %s of %s", bullet, s.tag, s.side.Name, plural(uint64(s.side.Runs), "run", "runs"), s.side.Scenario)
		if len(s.side.Labels) > 0 {
			line += ", labels " + strings.Join(s.side.Labels, " ")
		}
		ew.printf("%s\n", line)
	}
	for _, w := range c.Warnings {
		ew.printf("%swarning: %s\n", bullet, w)
	}
}

// rowLabel names a row's stage and command.
func rowLabel(r *CompareRow) string { return r.Stage + "/" + r.Command }

// metricTitle is a table's title line.
func metricTitle(name string) string {
	desc := ""
	if m, err := LookupMetric(name); err == nil {
		desc = ": " + m.Description
	}
	return name + desc
}

func writeCompareText(ew *errWriter, c *Comparison) {
	writeCompareHeader(ew, c, "")
	ew.printf("each figure: the median of a side's runs ± its %g%% confidence interval; ~: no significant change (p > %g)\n", 100*c.Confidence, c.Alpha)
	if len(c.Rows) == 0 {
		ew.printf("\nno figures to compare: the runs share no stage and command with a value of %s\n", strings.Join(c.Metrics, ", "))
		return
	}
	for _, metric := range c.Metrics {
		var rows []*CompareRow
		for i := range c.Rows {
			if c.Rows[i].Metric == metric {
				rows = append(rows, &c.Rows[i])
			}
		}
		if len(rows) == 0 {
			continue
		}
		ew.printf("\n%s\n", metricTitle(metric))
		var notes footnotes
		t := &textTable{
			align: []byte("lrlrlrlrlrlll"),
			gap:   []int{0, 3, 1, 1, 1, 3, 1, 1, 1, 2, 1, 1, 1},
		}
		// Columns: label | old median ± ci notes | new median ± ci notes | delta (p n) notes.
		for _, r := range rows {
			cells := []string{rowLabel(r)}
			for _, s := range []Stats{r.Old, r.New} {
				if s.N() == 0 {
					cells = append(cells, "-", "", "", "")
					continue
				}
				cells = append(cells, r.Unit.Format(s.Center), "±", s.RangeString(), notes.mark(s.Warnings))
			}
			switch {
			case r.Comparable():
				cells = append(cells, r.Delta, "", compareNote(r), notes.mark(r.Warnings))
			case r.Old.N() == 0:
				cells = append(cells, "", "", "(new only)", "")
			default:
				cells = append(cells, "", "", "(old only)", "")
			}
			t.rows = append(t.rows, cells)
		}
		// cells layout: 0 label, 1-4 old, 5-8 new, 9 delta, 10 spare, 11 (p n), 12 notes.
		t.writeWithHeader(ew, []span{{1, 4, c.Old.Name}, {5, 8, c.New.Name}, {9, 12, "vs old"}})
		for i, n := range notes.list {
			ew.printf("%s %s\n", superscript(i+1), n)
		}
	}
}

// compareNote is benchstat's "(p=0.008 n=5)".
func compareNote(r *CompareRow) string {
	cmp := benchmath.Comparison{P: r.P, N1: r.Old.N(), N2: r.New.N()}
	return "(" + cmp.String() + ")"
}

// textTable aligns cells in columns; align is 'l' or 'r' per column, gap the spaces
// before each column (left out when the whole column is empty).
type textTable struct {
	align []byte
	gap   []int
	rows  [][]string
}

// span is a header title centred over columns from..to.
type span struct {
	from, to int
	title    string
}

func (t *textTable) writeWithHeader(ew *errWriter, header []span) {
	ncol := len(t.align)
	width := make([]int, ncol)
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	// start[i] is column i's offset, gap included only for non-empty columns.
	start := make([]int, ncol+1)
	pos := 0
	for i := 0; i < ncol; i++ {
		if width[i] > 0 && i > 0 {
			pos += t.gap[i]
		}
		start[i] = pos
		pos += width[i]
	}
	start[ncol] = pos
	// Widen a span's last column if its title does not fit.
	for _, h := range header {
		end := start[h.to] + width[h.to]
		if need := utf8.RuneCountInString(h.title) - (end - start[h.from]); need > 0 {
			width[h.to] += need
			for i := h.to + 1; i <= ncol; i++ {
				start[i] += need
			}
		}
	}
	line := []rune(strings.Repeat(" ", start[ncol]+1))
	for _, h := range header {
		end := start[h.to] + width[h.to]
		title := []rune(h.title)
		at := start[h.from] + (end-start[h.from]-len(title))/2
		copy(line[at:], title)
	}
	ew.printf("%s\n", strings.TrimRight(string(line), " "))
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			if width[i] == 0 {
				continue
			}
			b.WriteString(strings.Repeat(" ", start[i]-utf8.RuneCountInString(b.String())))
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if t.align[i] == 'r' {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		ew.printf("%s\n", strings.TrimRight(b.String(), " "))
	}
}

func writeCompareMarkdown(ew *errWriter, c *Comparison) {
	writeCompareHeader(ew, c, "- ")
	if len(c.Rows) == 0 {
		ew.printf("\nno figures to compare: the runs share no stage and command with a value of %s\n", strings.Join(c.Metrics, ", "))
		return
	}
	ew.printf("\nEach figure: the median of a side's runs ± its %g%% confidence interval; ~: no significant change (p > %g).\n\n", 100*c.Confidence, c.Alpha)
	ew.printf("| stage | command | metric | %s | %s | vs old | p | runs |\n", mdEscape(c.Old.Name), mdEscape(c.New.Name))
	ew.printf("|---|---|---|--:|--:|--:|--:|--:|\n")
	var notes footnotes
	for i := range c.Rows {
		r := &c.Rows[i]
		cell := func(s Stats) string {
			if s.N() == 0 {
				return "-"
			}
			return r.Unit.Format(s.Center) + " ± " + s.RangeString() + notes.mark(s.Warnings)
		}
		delta, p := "", ""
		switch {
		case r.Comparable():
			delta = r.Delta
			if r.Verdict == "worse" || r.Verdict == "better" {
				delta = "**" + r.Delta + "** " + r.Verdict
			}
			delta += notes.mark(r.Warnings)
			p = fmt.Sprintf("%.3f", r.P)
		case r.Old.N() == 0:
			delta = "new only"
		default:
			delta = "old only"
		}
		ew.printf("| %s | %s | %s | %s | %s | %s | %s | %d+%d |\n", mdEscape(r.Stage), mdEscape(r.Command), r.Metric,
			cell(r.Old), cell(r.New), delta, p, r.Old.N(), r.New.N())
	}
	if len(notes.list) > 0 {
		ew.printf("\n")
		for i, n := range notes.list {
			ew.printf("%s %s  \n", superscript(i+1), mdEscape(n))
		}
	}
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`").Replace(s)
}

// jsonFloat is a float64 that marshals NaN and ±Inf as null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// jsonStats and jsonRow are Stats and CompareRow with the fields JSON cannot hold
// (NaN, ±Inf) as nulls.
type jsonStats struct {
	Stats
	Center jsonFloat `json:"median"`
	Lo     jsonFloat `json:"ci_low"`
	Hi     jsonFloat `json:"ci_high"`
	N      int       `json:"n"`
}

type jsonRow struct {
	CompareRow
	Unit   string    `json:"unit"`
	Old    jsonStats `json:"old"`
	New    jsonStats `json:"new"`
	Change jsonFloat `json:"change_pct"`
}

type jsonDoc struct {
	*Comparison
	Rows []jsonRow `json:"rows"`
}

func jsonComparison(c *Comparison) jsonDoc {
	st := func(s Stats) jsonStats {
		if s.Values == nil {
			s.Values = []float64{}
		}
		return jsonStats{Stats: s, Center: jsonFloat(s.Center), Lo: jsonFloat(s.Lo), Hi: jsonFloat(s.Hi), N: s.N()}
	}
	doc := jsonDoc{Comparison: c, Rows: make([]jsonRow, len(c.Rows))}
	for i, r := range c.Rows {
		doc.Rows[i] = jsonRow{CompareRow: r, Unit: r.Unit.String(), Old: st(r.Old), New: st(r.New), Change: jsonFloat(r.Change)}
	}
	return doc
}
