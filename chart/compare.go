package chart

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/metric"
)

// Median is one side's summary of a figure: the median over its runs, the confidence
// interval's bounds (±Inf with too few runs for one; NaN when the side has no runs) and
// the runs' values.
type Median struct {
	Center, Lo, Hi float64
	Values         []float64
}

// MedianPair is one stage and command of a metric, compared.
type MedianPair struct {
	Stage, Command string
	Old, New       Median
	Delta          string // as benchstat prints it: "~", "+12.34%", ...
	Verdict        string // "worse", "better", "~", "same", or "" when a side has no runs
}

// MetricPanel is one metric's rows.
type MetricPanel struct {
	Metric      string
	Description string
	Unit        metric.Unit
	Rows        []MedianPair
}

// Comparison is what the comparison chart draws: per metric, each stage and command's
// OLD and NEW medians with their confidence intervals.
type Comparison struct {
	Old, New   comparison.Side
	Confidence float64
	Panels     []MetricPanel
}

// NewComparison takes c's rows metric by metric. A metric without a row (nothing
// measured it, e.g. server-p99 against a server that sends no report) gets no panel.
func NewComparison(c *comparison.Comparison) (*Comparison, error) {
	out := &Comparison{Old: c.Old, New: c.New, Confidence: c.Confidence}
	for _, name := range c.Metrics {
		m, err := metric.LookupMetric(name)
		if err != nil {
			return nil, err
		}
		desc, _, _ := strings.Cut(m.Description, " (")
		mp := MetricPanel{Metric: m.Name, Description: desc, Unit: m.Unit}
		for _, row := range c.Rows {
			if row.Metric != m.Name {
				continue
			}
			mp.Rows = append(mp.Rows, MedianPair{
				Stage: row.Stage, Command: row.Command,
				Old:   Median{row.Old.Center, row.Old.Lo, row.Old.Hi, row.Old.Values},
				New:   Median{row.New.Center, row.New.Lo, row.New.Hi, row.New.Values},
				Delta: row.Delta, Verdict: row.Verdict,
			})
		}
		if len(mp.Rows) > 0 {
			out.Panels = append(out.Panels, mp)
		}
	}
	if len(out.Panels) == 0 {
		return nil, noData("the comparison has no rows")
	}
	return out, nil
}

// sideText describes a side for the subtitle.
func sideText(tag string, s comparison.Side) string {
	name := s.Name
	if len(name) > 60 {
		name = "…" + name[len(name)-59:]
	}
	t := fmt.Sprintf("%s %s (%s", tag, name, words.Plural(s.Runs, "run", "runs"))
	for _, l := range s.Labels {
		if strings.HasPrefix(l, "broker=") {
			t += ", " + l
		}
	}
	return t + ")"
}

// Figure draws a panel per metric: for each stage and command, OLD and NEW medians side
// by side with their confidence intervals as error bars, each run's value as a small
// dot, and the change (or ~) above.
func (c *Comparison) Figure() (*Figure, error) {
	title := "Comparison · " + c.Old.Scenario
	if c.New.Scenario != c.Old.Scenario {
		title += " vs " + c.New.Scenario
	}
	// Two columns when the panels are many and narrow enough for their rows' names.
	cols, widest := 1, 0
	for _, p := range c.Panels {
		widest = max(widest, len(p.Rows))
	}
	if len(c.Panels) > 2 && widest <= 4 {
		cols = 2
	}
	rows := (len(c.Panels) + cols - 1) / cols
	f := newFigure(title, sideText("OLD", c.Old)+" → "+sideText("NEW", c.New), 11, 1.3+2.2*float64(rows))
	f.Columns = cols
	for i, mp := range c.Panels {
		p, err := c.panel(f, mp, i == 0)
		if err != nil {
			return nil, err
		}
		f.addPanel(p, 1)
	}
	f.Notes = append(f.Notes, fmt.Sprintf("Medians over each side's runs with their %.0f%% confidence intervals (error bars; none with too few runs); dots are the runs' values. Above NEW: the change of the median, ~ when not significant (Mann-Whitney U).", 100*c.Confidence))
	return f, nil
}

// panel draws one metric; legend adds the legend entries (once, for the first panel).
func (c *Comparison) panel(f *Figure, mp MetricPanel, legend bool) (*plot.Plot, error) {
	p := newPlot("", "")
	p.Title.Text = mp.Metric + ": " + mp.Description
	p.Add(grid(false))
	names := make([]string, len(mp.Rows))
	lo, hi := math.Inf(1), math.Inf(-1)
	var labels pointLabels
	labels.style = textStyle(markSize, black)
	for k, side := range []struct {
		tag    string
		offset float64
		pick   func(*MedianPair) Median
	}{{"OLD", -0.15, func(r *MedianPair) Median { return r.Old }}, {"NEW", +0.15, func(r *MedianPair) Median { return r.New }}} {
		var centers, dots plotter.XYs
		var bars errPoints
		for i := range mp.Rows {
			row := &mp.Rows[i]
			names[i] = row.Command
			if row.Stage != "" {
				names[i] = row.Stage + "\n" + row.Command
			}
			m := side.pick(row)
			x := float64(i) + side.offset
			if math.IsNaN(m.Center) {
				continue
			}
			centers = append(centers, plotter.XY{X: x, Y: m.Center})
			lo, hi = math.Min(lo, m.Center), math.Max(hi, m.Center)
			for _, v := range m.Values {
				dots = append(dots, plotter.XY{X: x + 0.06, Y: v})
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			if !math.IsInf(m.Lo, 0) && !math.IsInf(m.Hi, 0) && !math.IsNaN(m.Lo) && !math.IsNaN(m.Hi) {
				bars.XYs = append(bars.XYs, plotter.XY{X: x, Y: m.Center})
				bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{m.Center - m.Lo, m.Hi - m.Center})
				lo, hi = math.Min(lo, m.Lo), math.Max(hi, m.Hi)
			}
			if side.tag == "NEW" && row.Delta != "" {
				labels.xs, labels.ys = append(labels.xs, x-0.1), append(labels.ys, m.Center)
				labels.texts = append(labels.texts, deltaText(row))
			}
		}
		clr := seriesColor(k)
		if len(bars.XYs) > 0 {
			eb, err := plotter.NewYErrorBars(bars)
			if err != nil {
				return nil, fmt.Errorf("comparison %s: %w", mp.Metric, err)
			}
			eb.LineStyle = lineStyle(clr, 1.2, nil)
			eb.CapWidth = vg.Points(6)
			p.Add(eb)
			if legend && k == 0 {
				f.addLegend(fmt.Sprintf("%.0f%% confidence interval", 100*c.Confidence), errThumb{eb.LineStyle})
			}
		}
		if len(dots) > 0 {
			sc, err := plotter.NewScatter(dots)
			if err != nil {
				return nil, fmt.Errorf("comparison %s: %w", mp.Metric, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: clr, Radius: vg.Points(1.3), Shape: draw.RingGlyph{}}
			p.Add(sc)
		}
		if len(centers) > 0 {
			sc, err := plotter.NewScatter(centers)
			if err != nil {
				return nil, fmt.Errorf("comparison %s: %w", mp.Metric, err)
			}
			sc.GlyphStyle = seriesGlyph(k, vg.Points(3.5))
			if k == 1 {
				sc.GlyphStyle.Shape = draw.BoxGlyph{}
			}
			p.Add(sc)
			if legend {
				f.addLegend(side.tag+" median", sc)
			}
		}
	}
	p.Add(&labels)
	p.X.Tick.Marker = categoryTicks(names)
	p.X.Min, p.X.Max = -0.6, float64(len(mp.Rows))-0.4
	format := unitFormat(mp.Unit)
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if mp.Unit == metric.Microseconds && lo > 0 && hi/lo > 20 {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{format}
		p.Y.Min, p.Y.Max = niceLogRange(lo, hi*1.3)
	} else {
		p.Y.Tick.Marker = linearTicks{format}
		p.Y.Min, p.Y.Max = 0, math.Max(hi*1.2, 1e-9)
		if hi == 0 {
			p.Y.Max = 1
		}
	}
	return p, nil
}

// errPoints are points with their errors, for plotter.NewYErrorBars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// errThumb draws an error bar in a legend.
type errThumb struct{ style draw.LineStyle }

// Thumbnail implements plot.Thumbnailer.
func (e errThumb) Thumbnail(c *draw.Canvas) {
	x, w := (c.Min.X+c.Max.X)/2, vg.Points(3)
	c.StrokeLine2(e.style, x, c.Min.Y, x, c.Max.Y)
	c.StrokeLine2(e.style, x-w, c.Min.Y, x+w, c.Min.Y)
	c.StrokeLine2(e.style, x-w, c.Max.Y, x+w, c.Max.Y)
}

// deltaText is the change printed above NEW: "+12.34% worse", "~".
func deltaText(r *MedianPair) string {
	switch r.Verdict {
	case "worse", "better":
		return r.Delta + " " + r.Verdict
	}
	return r.Delta
}

// unitFormat returns the tick label writer of a metric's unit.
func unitFormat(u metric.Unit) func(float64) string {
	switch u {
	case metric.PerSecond:
		return formatRate
	case metric.Percent:
		return func(v float64) string { return compact(v) + "%" }
	default:
		return formatMicros
	}
}
