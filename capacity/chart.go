package capacity

import (
	"fmt"
	"image/color"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dmbench/dmbench/chart"
)

// The chart package's colours (Okabe–Ito): blue for p50, vermillion for p99, bluish
// green for a pass; a failed step is a black cross.
var (
	blue        = chart.Colours.Blue
	vermillion  = chart.Colours.Vermillion
	bluishGreen = chart.Colours.BluishGreen
	black       = chart.Colours.Black
	gridGrey    = chart.Colours.GridGrey
	ruleGrey    = chart.Colours.RuleGrey
)

// DrawChart draws the capacity curve: each step's level against its corrected p50 and p99
// (ms, log scale), passing steps as filled markers, failing ones crossed, the answer as
// a vertical rule. It is saved as SVG or PNG, by path's extension.
func (r *Report) DrawChart(path string) error {
	steps := append([]Step(nil), r.Answer.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Level < steps[j].Level })
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Capacity of %s (stage %s, %s arrivals): %s", r.Scenario, r.Stage, r.Arrival, strings.Join(r.Objectives, ", "))
	if r.Answer.Level > 0 {
		p.Title.Text += " holds up to " + FormatLevel(r.Answer.Level, r.Unit)
	}
	p.X.Label.Text = "scheduled rate (requests/s)"
	if r.Mode == "connections" {
		p.X.Label.Text = "connections"
	}
	p.Y.Label.Text = "corrected latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridGrey, gridGrey
	p.Add(grid)

	type series struct {
		name  string
		col   color.Color
		value func(*Step) int64
	}
	for _, s := range []series{{"p50", blue, func(s *Step) int64 { return s.P50US }}, {"p99", vermillion, func(s *Step) int64 { return s.P99US }}} {
		var line, pass, fail plotter.XYs
		for i := range steps {
			st := &steps[i]
			v := s.value(st)
			if v <= 0 {
				continue
			}
			pt := plotter.XY{X: st.Level, Y: float64(v) / 1000}
			// The line goes through the step that decided each level: the last of the
			// search's own at it. Repeats and re-runs are markers only.
			if st.Phase != Repeat && (i+1 == len(steps) || steps[i+1].Level != st.Level || steps[i+1].Phase == Repeat) {
				line = append(line, pt)
			}
			if st.Verdict == Pass {
				pass = append(pass, pt)
			} else {
				fail = append(fail, pt)
			}
		}
		if len(line) == 0 {
			continue
		}
		l, err := plotter.NewLine(line)
		if err != nil {
			return err
		}
		l.Color, l.Width = s.col, vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(s.name, l)
		if len(pass) > 0 {
			sc, err := plotter.NewScatter(pass)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: bluishGreen, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
		if len(fail) > 0 {
			sc, err := plotter.NewScatter(fail)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: black, Radius: vg.Points(3.5), Shape: draw.CrossGlyph{}}
			p.Add(sc)
		}
	}
	// Legend entries for the markers.
	p.Legend.Add("pass", glyph{draw.GlyphStyle{Color: bluishGreen, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}})
	p.Legend.Add("fail", glyph{draw.GlyphStyle{Color: black, Radius: vg.Points(3.5), Shape: draw.CrossGlyph{}}})
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.YOffs = -vg.Points(2)
	if r.Answer.Level > 0 {
		// The answer as a vertical rule over the latencies' range.
		lo, hi := 1e18, 0.0
		for _, st := range steps {
			for _, v := range []int64{st.P50US, st.P99US} {
				if v > 0 {
					lo, hi = min(lo, float64(v)/1000), max(hi, float64(v)/1000)
				}
			}
		}
		if hi > 0 {
			l, err := plotter.NewLine(plotter.XYs{{X: r.Answer.Level, Y: lo}, {X: r.Answer.Level, Y: hi}})
			if err != nil {
				return err
			}
			l.Color, l.Dashes = ruleGrey, []vg.Length{vg.Points(4), vg.Points(2)}
			p.Add(l)
			p.Legend.Add("answer "+FormatLevel(r.Answer.Level, r.Unit), l)
		}
	}
	// Room above the data for the legend (the scale is logarithmic).
	hi := 0.0
	for _, st := range steps {
		hi = max(hi, float64(max(st.P50US, st.P99US))/1000)
	}
	if hi > 0 {
		p.Y.Max = hi * 30
	}
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// glyph is a legend thumbnail of one marker.
type glyph struct{ style draw.GlyphStyle }

func (g glyph) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(g.style, c.Center())
}
