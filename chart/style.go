package chart

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The Okabe–Ito palette (Okabe and Ito, "Color Universal Design", 2008): eight colours
// that colour-blind readers tell apart. Yellow is left out of the series colours: it
// does not read on white.
var (
	black         = color.RGBA{0x00, 0x00, 0x00, 0xff}
	orange        = color.RGBA{0xe6, 0x9f, 0x00, 0xff}
	skyBlue       = color.RGBA{0x56, 0xb4, 0xe9, 0xff}
	bluishGreen   = color.RGBA{0x00, 0x9e, 0x73, 0xff}
	blue          = color.RGBA{0x00, 0x72, 0xb2, 0xff}
	vermillion    = color.RGBA{0xd5, 0x5e, 0x00, 0xff}
	reddishPurple = color.RGBA{0xcc, 0x79, 0xa7, 0xff}
	seriesPalette = []color.Color{blue, vermillion, bluishGreen, reddishPurple, orange, skyBlue, black}
	warmupGrey    = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	stallFill     = color.NRGBA{0xe6, 0x9f, 0x00, 0x40}
	stallHatch    = color.NRGBA{0xd5, 0x5e, 0x00, 0xb0}
	ruleGrey      = color.RGBA{0x55, 0x55, 0x55, 0xff}
	gridGrey      = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	noteGrey      = color.RGBA{0x44, 0x44, 0x44, 0xff}
	rateBandFill  = color.NRGBA{0x00, 0x9e, 0x73, 0x40}
)

// Colours lends the palette to charts drawn outside this package (the capacity curve),
// so that every dmbench chart reads the same.
var Colours = struct {
	Blue, Vermillion, BluishGreen, Black, GridGrey, RuleGrey color.Color
}{blue, vermillion, bluishGreen, black, gridGrey, ruleGrey}

// Dash patterns, told apart in greyscale: solid, dashed, dotted, dash-dot, long dash,
// dash-dot-dot.
var dashPatterns = [][]vg.Length{
	nil,
	{vg.Points(5), vg.Points(2.5)},
	{vg.Points(1.2), vg.Points(1.8)},
	{vg.Points(7), vg.Points(2.5), vg.Points(1.5), vg.Points(2.5)},
	{vg.Points(10), vg.Points(3)},
	{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2), vg.Points(1.5), vg.Points(2)},
}

// Marker shapes, one per series, in the order of seriesPalette.
var glyphShapes = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.RingGlyph{},
	draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{},
}

// seriesColor returns the i-th series' colour.
func seriesColor(i int) color.Color { return seriesPalette[i%len(seriesPalette)] }

// seriesGlyph returns the i-th series' marker.
func seriesGlyph(i int, radius vg.Length) draw.GlyphStyle {
	return draw.GlyphStyle{Color: seriesColor(i), Radius: radius, Shape: glyphShapes[i%len(glyphShapes)]}
}

// seriesDashes returns the i-th series' dash pattern.
func seriesDashes(i int) []vg.Length { return dashPatterns[i%len(dashPatterns)] }

// lineStyle returns a line of the given colour, width in points and dashes.
func lineStyle(c color.Color, width float64, dashes []vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(width), Dashes: dashes}
}

// Fixed fonts and sizes, so that the same data draws the same SVG everywhere.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

const (
	titleSize    = 12
	subtitleSize = 8.5
	noteSize     = 7.5
	axisSize     = 9
	tickSize     = 8
	legendSize   = 8.5
	markSize     = 7
)

// textStyle returns a plain text style in the chart font.
func textStyle(size float64, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(sans, vg.Points(size)), Handler: plot.DefaultTextHandler}
}

// newPlot returns a panel with the chart's fonts, a light grid to be added by the
// caller, and no legend of its own (the figure draws one legend for all panels).
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.TextStyle = textStyle(axisSize, black)
	p.Title.TextStyle.XAlign = draw.XCenter
	p.Title.TextStyle.YAlign = draw.YTop
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, vg.Points(axisSize))
		a.Tick.Label.Font = font.From(sans, vg.Points(tickSize))
		a.Padding = vg.Points(3)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.Legend.TextStyle.Font = font.From(sans, vg.Points(legendSize))
	return p
}

// grid returns a light grid for a panel: horizontal lines at the y ticks, and vertical
// lines at the x ticks when vertical is set.
func grid(vertical bool) *plotter.Grid {
	g := plotter.NewGrid()
	g.Horizontal = lineStyle(gridGrey, 0.4, nil)
	g.Vertical = lineStyle(gridGrey, 0.4, nil)
	if !vertical {
		g.Vertical.Width = 0
	}
	return g
}
