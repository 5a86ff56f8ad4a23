package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/perf/benchmath"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/metric"
)

// Format is an output format of a comparison.
type Format string

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
func WriteComparison(w io.Writer, c *comparison.Comparison, f Format) error {
	ew := &errWriter{w: w}
	switch f {
	case FormatText, "":
		writeCompareText(ew, c)
	case FormatMarkdown:
		writeCompareMarkdown(ew, c)
	case FormatJSON:
		if err := writeJSON(ew, jsonComparison(c)); err != nil && ew.err == nil {
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
			// The stages', commands' names and warnings may come from someone else's
			// result.json: escaped, so that the CSV shown on a terminal cannot drive it.
			_ = cw.Write([]string{termtext.Escape(r.Stage), termtext.Escape(r.Command), r.Metric, r.Unit.String(),
				csvFloat(r.Old.Center), csvFloat(r.Old.Lo), csvFloat(r.Old.Hi), strconv.Itoa(r.Old.N()),
				csvFloat(r.New.Center), csvFloat(r.New.Lo), csvFloat(r.New.Hi), strconv.Itoa(r.New.N()),
				csvFloat(r.Change), csvFloat(r.P), strconv.FormatBool(r.Significant), r.Verdict, termtext.Escape(strings.Join(dedupe(warns), "; "))})
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
		if !slices.Contains(out, s) {
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
			if mk := superscript(i + 1); !slices.Contains(marks, mk) {
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
func writeCompareHeader(ew *errWriter, c *comparison.Comparison, bullet string) {
	for _, s := range []struct {
		tag  string
		side comparison.Side
	}{{"old", c.Old}, {"new", c.New}} {
		line := fmt.Sprintf("%s%s: %s, %s of %s", bullet, s.tag, s.side.Name, words.Plural(s.side.Runs, "run", "runs"), s.side.Scenario)
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
func rowLabel(r *comparison.CompareRow) string { return r.Stage + "/" + r.Command }

// metricTitle is a table's title line.
func metricTitle(name string) string {
	desc := ""
	if m, err := metric.LookupMetric(name); err == nil {
		desc = ": " + m.Description
	}
	return name + desc
}

func writeCompareText(ew *errWriter, c *comparison.Comparison) {
	writeCompareHeader(ew, c, "")
	ew.printf("each figure: the median of a side's runs ± its %g%% confidence interval; ~: no significant change (p > %g)\n", 100*c.Confidence, c.Alpha)
	if len(c.Rows) == 0 {
		ew.printf("\nno figures to compare: the runs share no stage and command with a value of %s\n", strings.Join(c.Metrics, ", "))
		return
	}
	for _, metric := range c.Metrics {
		var rows []*comparison.CompareRow
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
			for _, s := range []comparison.Stats{r.Old, r.New} {
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
func compareNote(r *comparison.CompareRow) string {
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

// writeWithHeader writes the table under the header's titles. Cells and titles are
// escaped (termtext.Escape) before they are measured: a stage's name from someone else's
// result.json must neither drive the terminal nor misalign the table.
func (t *textTable) writeWithHeader(ew *errWriter, header []span) {
	for _, r := range t.rows {
		for i, c := range r {
			r[i] = termtext.Escape(c)
		}
	}
	for i := range header {
		header[i].title = termtext.Escape(header[i].title)
	}
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

func writeCompareMarkdown(ew *errWriter, c *comparison.Comparison) {
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
		cell := func(s comparison.Stats) string {
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
	comparison.Stats
	Center jsonFloat `json:"median"`
	Lo     jsonFloat `json:"ci_low"`
	Hi     jsonFloat `json:"ci_high"`
	N      int       `json:"n"`
}

type jsonRow struct {
	comparison.CompareRow
	Unit   string    `json:"unit"`
	Old    jsonStats `json:"old"`
	New    jsonStats `json:"new"`
	Change jsonFloat `json:"change_pct"`
}

type jsonDoc struct {
	*comparison.Comparison
	Rows []jsonRow `json:"rows"`
}

func jsonComparison(c *comparison.Comparison) jsonDoc {
	st := func(s comparison.Stats) jsonStats {
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

// The formats WriteComparison prints.
const (
	FormatText     Format = "text"
	FormatMarkdown Format = "markdown"
	FormatJSON     Format = "json"
	FormatCSV      Format = "csv"
)
