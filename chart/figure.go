package chart

import (
	"bufio"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/dmbench/dmbench/resultfmt"
)

// Format is a file format a Figure is written in.
type Format string

// The formats a Figure is written in.
const (
	SVG Format = "svg"
	PNG Format = "png"
)

// DPI is the resolution of PNG output: a figure of W×H inches is W·DPI × H·DPI pixels.
const DPI = vgimg.DefaultDPI

// FormatOf returns the format a file's extension names: .svg or .png (any case).
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		return SVG, nil
	case ".png":
		return PNG, nil
	case "":
		return "", fmt.Errorf("%s has no extension: name a .svg or .png file", path)
	}
	return "", fmt.Errorf("%s: cannot write %s files: name a .svg or .png file", path, filepath.Ext(path))
}

// Figure is a chart ready to be written: a title, a line saying what was measured
// against what, panels laid out in columns with their x (or y) axes aligned, one legend
// for them all on the right, and notes at the bottom.
type Figure struct {
	// Title names the chart and the scenario; Subtitle the target, broker and command.
	Title, Subtitle string
	// Notes say what a reader needs to read the chart right (downsampling, what was
	// left out and why), one line each.
	Notes []string
	// Width and Height are the figure's size (see SetPixels).
	Width, Height vg.Length
	// Columns lays the panels out in this many columns, row by row; 0 means 1.
	Columns int

	panels []panel
	legend plot.Legend
}

// panel is one plot of a figure, its share of the figure's height and its axis labels,
// which the figure draws itself: gonum/plot centres an axis label on the arithmetic
// middle of the axis's range, which on a log axis lies near its end, and pads the
// plot for it there.
type panel struct {
	p              *plot.Plot
	weight         float64
	xLabel, yLabel string
}

// newFigure returns a figure of the given size in inches.
func newFigure(title, subtitle string, wIn, hIn float64) *Figure {
	l := plot.NewLegend()
	l.TextStyle = textStyle(legendSize, black)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(24)
	l.Padding = vg.Points(3)
	return &Figure{
		Title: title, Subtitle: subtitle,
		Width: vg.Length(wIn) * vg.Inch, Height: vg.Length(hIn) * vg.Inch,
		legend: l,
	}
}

// addPanel adds a panel taking weight shares of its column's height.
func (f *Figure) addPanel(p *plot.Plot, weight float64) {
	f.panels = append(f.panels, panel{p: p, weight: weight, xLabel: p.X.Label.Text, yLabel: p.Y.Label.Text})
	p.X.Label.Text, p.Y.Label.Text = "", ""
}

// addLegend adds a legend entry drawn with thumbs.
func (f *Figure) addLegend(name string, thumbs ...plot.Thumbnailer) {
	f.legend.Add(name, thumbs...)
}

// Panels returns how many panels the figure has.
func (f *Figure) Panels() int { return len(f.panels) }

// SetPixels sets the figure's size so that its PNG is w×h pixels (at DPI); its SVG is
// then w×h · 72/DPI points.
func (f *Figure) SetPixels(w, h int) {
	f.Width = vg.Length(w) * vg.Inch / DPI
	f.Height = vg.Length(h) * vg.Inch / DPI
}

// Draw draws the figure onto c.
func (f *Figure) Draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pad := vg.Points(8)
	c = draw.Crop(c, pad, -pad, pad/2, -pad)

	top := c.Max.Y
	for _, t := range []struct {
		text string
		size float64
		clr  color.Color
	}{{f.Title, titleSize, black}, {f.Subtitle, subtitleSize, noteGrey}} {
		if t.text == "" {
			continue
		}
		sty := textStyle(t.size, t.clr)
		sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
		for _, line := range wrap(sty, t.text, c.Max.X-c.Min.X) {
			c.FillText(sty, vg.Point{X: c.Min.X, Y: top}, line)
			top -= sty.Height(line) + vg.Points(1)
		}
		top -= vg.Points(1)
	}
	bottom := c.Min.Y
	nsty := textStyle(noteSize, noteGrey)
	nsty.XAlign, nsty.YAlign = draw.XLeft, draw.YBottom
	var lines []string
	for _, n := range f.Notes {
		lines = append(lines, wrap(nsty, n, c.Max.X-c.Min.X)...)
	}
	for i := len(lines) - 1; i >= 0; i-- {
		c.FillText(nsty, vg.Point{X: c.Min.X, Y: bottom}, lines[i])
		bottom += nsty.Height(lines[i]) + vg.Points(0.5)
	}
	area := c
	area.Min.Y, area.Max.Y = bottom+vg.Points(4), top-vg.Points(6)

	if w := f.legendWidth(); w > 0 {
		la := area
		la.Min.X = area.Max.X - w
		la.Max.Y -= vg.Points(4)
		f.legend.Draw(la)
		area.Max.X -= w + vg.Points(10)
	}
	f.drawPanels(area)
}

// wrap breaks s into lines no wider than width in style sty, between words.
func wrap(sty text.Style, s string, width vg.Length) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		next := w
		if line != "" {
			next = line + " " + w
		}
		if line != "" && sty.Width(next) > width {
			lines = append(lines, line)
			next = "    " + w
		}
		line = next
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// legendWidth returns the width the legend takes, 0 without entries.
func (f *Figure) legendWidth() vg.Length {
	r := f.legend.Rectangle(draw.Canvas{})
	return r.Max.X - r.Min.X
}

// drawPanels lays the panels out in area and draws them, their data areas aligned
// within each column and each row.
func (f *Figure) drawPanels(area draw.Canvas) {
	n := len(f.panels)
	if n == 0 {
		return
	}
	cols := max(f.Columns, 1)
	rows := (n + cols - 1) / cols
	gap := vg.Points(8)
	rowWeight := make([]float64, rows)
	total := 0.0
	for i, p := range f.panels {
		r := i / cols
		rowWeight[r] = math.Max(rowWeight[r], p.weight)
	}
	for _, w := range rowWeight {
		total += w
	}
	height := area.Max.Y - area.Min.Y - gap*vg.Length(rows-1)
	width := (area.Max.X - area.Min.X - gap*vg.Length(cols-1)) / vg.Length(cols)
	cs := make([]draw.Canvas, n)
	edges := make([]vg.Point, n) // each panel's bottom left corner, where its labels go
	y := area.Max.Y
	for r := 0; r < rows; r++ {
		h := height * vg.Length(rowWeight[r]/total)
		for col := 0; col < cols; col++ {
			i := r*cols + col
			if i >= n {
				break
			}
			x := area.Min.X + vg.Length(col)*(width+gap)
			cs[i] = draw.Canvas{Canvas: area.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - h}, Max: vg.Point{X: x + width, Y: y},
			}}
			edges[i] = cs[i].Min
			lsty := textStyle(axisSize, black)
			if t := f.panels[i].yLabel; t != "" {
				cs[i].Min.X += lsty.Height(t) + vg.Points(3)
			}
			if t := f.panels[i].xLabel; t != "" {
				cs[i].Min.Y += lsty.Height(t) + vg.Points(1)
			}
		}
		y -= h + gap
	}
	// Align the data areas: the widest axis margin of a column (a row) sets everyone's.
	left, right := make([]vg.Length, cols), make([]vg.Length, cols)
	below, above := make([]vg.Length, rows), make([]vg.Length, rows)
	margins := make([][4]vg.Length, n)
	for i, p := range f.panels {
		dc := p.p.DataCanvas(cs[i])
		m := [4]vg.Length{dc.Min.X - cs[i].Min.X, cs[i].Max.X - dc.Max.X, dc.Min.Y - cs[i].Min.Y, cs[i].Max.Y - dc.Max.Y}
		margins[i] = m
		col, r := i%cols, i/cols
		left[col], right[col] = max(left[col], m[0]), max(right[col], m[1])
		below[r], above[r] = max(below[r], m[2]), max(above[r], m[3])
	}
	for i, p := range f.panels {
		col, r, m := i%cols, i/cols, margins[i]
		c := draw.Crop(cs[i], left[col]-m[0], -(right[col] - m[1]), below[r]-m[2], -(above[r] - m[3]))
		p.p.Draw(c)
		dc := p.p.DataCanvas(c)
		sty := textStyle(axisSize, black)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
		descent := sty.FontExtents().Descent
		if p.xLabel != "" {
			c.FillText(sty, vg.Point{X: dc.Center().X, Y: edges[i].Y + descent}, p.xLabel)
		}
		if p.yLabel != "" {
			sty.Rotation = math.Pi / 2
			c.FillText(sty, vg.Point{X: edges[i].X + sty.Height(p.yLabel) - descent, Y: dc.Center().Y}, p.yLabel)
		}
	}
}

// Write draws the figure and writes it to w in format.
func (f *Figure) Write(w io.Writer, format Format) (err error) {
	var cw vg.CanvasWriterTo
	switch format {
	case SVG:
		cw = vgsvg.New(f.Width, f.Height)
	case PNG:
		cw = vgimg.PngCanvas{Canvas: vgimg.New(f.Width, f.Height)}
	default:
		return fmt.Errorf("chart: format %q: want svg or png", format)
	}
	defer func() {
		// gonum/plot panics on data it cannot place (e.g. a value ≤ 0 on a log axis);
		// the New* functions keep such data out, so this is a bug, reported as an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("chart: drawing %q: %v (this is a bug in dmbench)", f.Title, p)
		}
	}()
	f.Draw(draw.New(cw))
	_, err = cw.WriteTo(w)
	return err
}

// Save writes the figure to path, in the format its extension names (.svg or .png). The
// file appears whole or not at all: it is written beside path and renamed into place.
func (f *Figure) Save(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	return resultfmt.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := f.Write(bw, format); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// ErrNoData is returned (wrapped, with the reason) when the results hold nothing the
// chart asked for can be drawn from: no interval logs, no server reports, no latency.
var ErrNoData = errors.New("nothing to draw")

// noData returns ErrNoData with its reason.
func noData(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNoData, fmt.Sprintf(format, args...))
}
