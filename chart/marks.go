package chart

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Span is a stretch of a run, in seconds since its start: a stage, the warm-up, a stall.
type Span struct {
	Name       string
	Start, End float64
}

// bands shades spans of the x axis over the whole height of a panel, optionally hatched
// (so that they read in greyscale) and named at the top. A span narrower than a point
// is drawn a point wide, so that a short stall stays visible on a long run.
type bands struct {
	spans []Span
	fill  color.Color
	hatch color.Color // nil: no hatching
	label string      // drawn at the top left of each span wide enough; "" for none
}

var (
	_ plot.Plotter     = (*bands)(nil)
	_ plot.Thumbnailer = (*bands)(nil)
)

// Plot implements plot.Plotter.
func (b *bands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := textStyle(markSize, noteGrey)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	for _, s := range b.spans {
		lo, hi := max(s.Start, p.X.Min), min(s.End, p.X.Max)
		if hi < lo {
			continue
		}
		x0, x1 := trX(lo), trX(hi)
		if x1-x0 < vg.Points(1) {
			x1 = x0 + vg.Points(1)
		}
		r := vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y}, Max: vg.Point{X: x1, Y: c.Max.Y}}
		b.drawRect(&c, r)
		if b.label != "" && x1-x0 > sty.Width(b.label)+vg.Points(4) {
			c.FillText(sty, vg.Point{X: x0 + vg.Points(2), Y: c.Max.Y - vg.Points(2)}, b.label)
		}
	}
}

// drawRect fills r and hatches it.
func (b *bands) drawRect(c *draw.Canvas, r vg.Rectangle) {
	c.SetColor(b.fill)
	c.Fill(r.Path())
	if b.hatch == nil {
		return
	}
	// Lines at 45°, 4 points apart, clipped to r: x = d + t·h, y = Min.Y + t·h.
	h := r.Max.Y - r.Min.Y
	sty := lineStyle(b.hatch, 0.6, nil)
	const gap = 4
	for d := r.Min.X - h; d < r.Max.X; d += vg.Points(gap) {
		t0 := max(0, (r.Min.X-d)/h)
		t1 := min(1, (r.Max.X-d)/h)
		if t1 <= t0 {
			continue
		}
		c.StrokeLine2(sty, d+t0*h, r.Min.Y+t0*h, d+t1*h, r.Min.Y+t1*h)
	}
}

// Thumbnail implements plot.Thumbnailer.
func (b *bands) Thumbnail(c *draw.Canvas) {
	b.drawRect(c, c.Rectangle)
}

// rules draws vertical lines across a panel, each named at its top when names are given
// and the name does not run into the one before.
type rules struct {
	xs    []float64
	names []string // one per x, or nil
	style draw.LineStyle
}

var _ plot.Plotter = (*rules)(nil)

// Plot implements plot.Plotter.
func (r *rules) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := textStyle(markSize, ruleGrey)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	free := c.Min.X // where the next name may start without covering the last
	for i, x := range r.xs {
		if x < p.X.Min || x > p.X.Max {
			continue
		}
		X := trX(x)
		c.StrokeLine2(r.style, X, c.Min.Y, X, c.Max.Y)
		if i < len(r.names) && r.names[i] != "" && X >= free {
			c.FillText(sty, vg.Point{X: X + vg.Points(2), Y: c.Max.Y - vg.Points(10)}, r.names[i])
			free = X + vg.Points(6) + sty.Width(r.names[i])
		}
	}
}

// Thumbnail implements plot.Thumbnailer.
func (r *rules) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(r.style, x, c.Min.Y, x, c.Max.Y)
}

// hrule draws a horizontal line across a panel at y, named at its right end.
type hrule struct {
	y     float64
	name  string
	style draw.LineStyle
}

var _ plot.Plotter = (*hrule)(nil)

// Plot implements plot.Plotter.
func (h *hrule) Plot(c draw.Canvas, p *plot.Plot) {
	if h.y < p.Y.Min || h.y > p.Y.Max {
		return
	}
	_, trY := p.Transforms(&c)
	Y := trY(h.y)
	c.StrokeLine2(h.style, c.Min.X, Y, c.Max.X, Y)
	if h.name != "" {
		sty := textStyle(markSize, h.style.Color)
		sty.XAlign, sty.YAlign = draw.XRight, draw.YBottom
		c.FillText(sty, vg.Point{X: c.Max.X - vg.Points(2), Y: Y + vg.Points(1.5)}, h.name)
	}
}

// Thumbnail implements plot.Thumbnailer.
func (h *hrule) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
}

// pointLabels writes a short text beside each point (e.g. a stage's name), in data
// coordinates, offset a little up and right.
type pointLabels struct {
	xs, ys []float64
	texts  []string
	style  text.Style
}

var _ plot.Plotter = (*pointLabels)(nil)

// Plot implements plot.Plotter.
func (l *pointLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, t := range l.texts {
		if t == "" {
			continue
		}
		c.FillText(l.style, vg.Point{X: trX(l.xs[i]) + vg.Points(4), Y: trY(l.ys[i]) + vg.Points(3)}, t)
	}
}
