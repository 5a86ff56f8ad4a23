package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"time"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/resultfmt"
)

// Chart is a drawn chart for an HTML page: its title and its SVG document.
type Chart struct {
	Title string
	SVG   []byte
}

//go:embed html.tmpl
var pageSource string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"micros": fmtMicros,
	"rate":   fmtRate,
	"dur":    fmtDuration,
	"utc":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"errs":   func(c resultfmt.Counts) uint64 { return c.Errors() },
	"mulf":   func(f float64) float64 { return 100 * f },
	"warmed": func(s resultfmt.StageResult) bool { return s.MeasuredStart.Sub(s.Start) > time.Millisecond },
}).Parse(pageSource))

// pageData is what html.tmpl draws.
type pageData struct {
	Title      string
	Result     *resultfmt.Result // nil for a comparison page
	Summary    string            // the text summary, as a run prints it
	Comparison *comparison.Comparison
	Compare    string // the comparison as text, as compare prints it
	Charts     []inlineChart
}

type inlineChart struct {
	Title string
	SVG   template.HTML
}

// xmlProlog matches what precedes an SVG document's <svg> element.
var xmlProlog = regexp.MustCompile(`(?s)^.*?(<svg[\s>])`)

// inline turns charts into SVG elements for the page: each document's XML prolog is cut,
// so that the <svg> sits in the HTML itself. The SVG comes from package chart, not from
// outside, so it is trusted as markup; titles are escaped like every other string.
func inline(charts []Chart) []inlineChart {
	out := make([]inlineChart, 0, len(charts))
	for _, c := range charts {
		svg := xmlProlog.ReplaceAll(c.SVG, []byte("$1"))
		out = append(out, inlineChart{Title: c.Title, SVG: template.HTML(svg)}) // #nosec: our own SVG
	}
	return out
}

// HTML writes one self-contained HTML page for a run: its metadata, the summary table
// per stage, the server's view, stalls, the generator's self-watch, and the charts inline
// as SVG. It fetches nothing: no script, font or style from elsewhere, so it opens from a
// mail attachment or a CI artifact and prints as it shows.
func HTML(w io.Writer, r *resultfmt.Result, charts []Chart) error {
	var sum bytes.Buffer
	if err := Summary(&sum, r, SummaryOptions{}); err != nil {
		return err
	}
	title := "dmbench: " + cmp.Or(r.Meta.Scenario.Name, "run")
	if r.Meta.Target.Address != "" {
		title += " against " + r.Meta.Target.Address
	}
	return write(w, pageData{Title: title, Result: r, Summary: sum.String(), Charts: inline(charts)})
}

// ComparisonHTML writes one self-contained HTML page for a comparison of two sets: the
// table with ~ where a change is not significant, and the charts (the comparison chart).
func ComparisonHTML(w io.Writer, c *comparison.Comparison, charts []Chart) error {
	var txt bytes.Buffer
	if err := WriteComparison(&txt, c, FormatText); err != nil {
		return err
	}
	title := fmt.Sprintf("dmbench: %s vs %s", c.Old.Name, c.New.Name)
	return write(w, pageData{Title: title, Comparison: c, Compare: txt.String(), Charts: inline(charts)})
}

// write renders d. html/template escapes what markup could make of the result's strings
// (<, &, quotes); what it leaves, control characters and bidi overrides from a result file
// or a server's report, is escaped visibly here (termtext.EscapeLines): they would reorder
// a cell in the browser, or act on a terminal the page is printed to. The page's own
// text, and package chart's SVG, hold none.
func write(w io.Writer, d pageData) error {
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		return fmt.Errorf("report: the HTML page: %w", err)
	}
	if _, err := io.WriteString(w, termtext.EscapeLines(b.String())); err != nil {
		return fmt.Errorf("report: writing the HTML page: %w", err)
	}
	return nil
}
