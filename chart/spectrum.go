package chart

import (
	"fmt"
	"math"
	"slices"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/dmbench/dmbench/resultfmt"
)

// spectrumTicks is the spectrum's resolution: points per half distance to 100%, as in
// the .hgrm files and HdrHistogram's own tools.
const spectrumTicks = 5

// QuantilePoint is one point of a percentile spectrum: ValueUS is the latency that
// Percentile (0–100) of the requests did not exceed; X is 1/(1−q), the spectrum's axis.
type QuantilePoint struct {
	Percentile float64
	X          float64
	ValueUS    float64
}

// SpectrumLine is one run's spectrum of one kind of latency.
type SpectrumLine struct {
	Label     string
	Run       int  // index in Spectrum.Runs: its colour and marker
	Corrected bool // false: uncorrected (reply − actual send), drawn dashed
	Count     int64
	Points    []QuantilePoint
	// Marks are the values at 90%, 99%, 99.9%, ... as far as the count reaches, where
	// the line's markers sit.
	Marks []QuantilePoint
}

// Spectrum is what the percentile-spectrum chart draws: per run, the corrected (and
// uncorrected) latency of Command (or all commands merged) over all stages, warm-up
// excluded, as HdrHistogram's percentile distribution.
type Spectrum struct {
	Runs     []Run
	Command  string
	Commands []string
	Lines    []SpectrumLine
	SLO      *SLO
	// Skipped names runs left out, with why.
	Skipped []string
}

// NewSpectrum reads the spectra of runs. The points are HdrHistogram's percentile
// iteration (5 per halving of the distance to 100%, as in .hgrm files); the last, at
// 100%, has no place on the 1/(1−q) axis, so the maximum is drawn at X = count, the
// rank of the last of count values.
func NewSpectrum(runs []Run, opts Options) (*Spectrum, error) {
	if err := CheckCommand(opts.Command, runs); err != nil {
		return nil, err
	}
	s := &Spectrum{Runs: runs, Command: opts.Command, SLO: opts.SLO}
	for i, run := range runs {
		cmds := commandsOf(run.Result, opts.Command)
		for _, c := range cmds {
			if !slices.Contains(s.Commands, c) {
				s.Commands = append(s.Commands, c)
			}
		}
		kinds := []resultfmt.HistogramKind{resultfmt.Corrected, resultfmt.Uncorrected}
		if opts.NoUncorrected {
			kinds = kinds[:1]
		}
		for _, kind := range kinds {
			h, err := mergedLatency(run.Result, cmds, kind)
			if err != nil {
				return nil, fmt.Errorf("percentile spectrum of %s: %w", run.Label, err)
			}
			if h.TotalCount() == 0 {
				if kind == resultfmt.Corrected {
					s.Skipped = append(s.Skipped, run.Label+": no latency recorded")
					break
				}
				continue
			}
			s.Lines = append(s.Lines, SpectrumLine{
				Label: run.Label, Run: i, Corrected: kind == resultfmt.Corrected,
				Count: h.TotalCount(), Points: quantilePoints(h), Marks: decadeMarks(h),
			})
		}
	}
	if len(s.Lines) == 0 {
		return nil, noData("no run has latency to draw a spectrum of")
	}
	return s, nil
}

// quantilePoints returns h's percentile spectrum on the 1/(1−q) axis.
func quantilePoints(h *hdrhistogram.Histogram) []QuantilePoint {
	var out []QuantilePoint
	n := float64(h.TotalCount())
	for _, b := range h.CumulativeDistributionWithTicks(spectrumTicks) {
		q := b.Quantile / 100
		if q >= 1 {
			break
		}
		x := 1 / (1 - q)
		if x > n { // beyond the last value's rank: the maximum is drawn below
			break
		}
		out = append(out, QuantilePoint{Percentile: b.Quantile, X: x, ValueUS: float64(b.ValueAt)})
	}
	last := 1.0
	if len(out) > 0 {
		last = out[len(out)-1].X
	}
	out = append(out, QuantilePoint{Percentile: 100, X: math.Max(n, last), ValueUS: float64(h.Max())})
	return out
}

// Figure draws the spectra on HdrHistogram's axes: x = 1/(1−q), log, labelled in
// percentiles; latency on a log axis.
func (s *Spectrum) Figure() (*Figure, error) {
	f := newFigure("Percentile spectrum · "+runTitle(s.Runs), targetText(s.Runs)+" · "+commandText(s.Command, s.Commands), 10, 6)
	p := newPlot("percentile (axis: 1/(1 − q), log scale)", "latency (log scale)")
	p.Add(grid(true))
	xHi, yLo, yHi := 10.0, math.Inf(1), 0.0
	for _, l := range s.Lines {
		xys := make(plotter.XYs, 0, len(l.Points))
		for _, q := range l.Points {
			v := math.Max(q.ValueUS, 1)
			xys = append(xys, plotter.XY{X: q.X, Y: v})
			xHi, yLo, yHi = math.Max(xHi, q.X), math.Min(yLo, v), math.Max(yHi, v)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("percentile spectrum: %s: %w", l.Label, err)
		}
		line.LineStyle = lineStyle(seriesColor(l.Run), 1.4, nil)
		name := l.Label + " corrected"
		if !l.Corrected {
			line.LineStyle = lineStyle(seriesColor(l.Run), 1, dashPatterns[1])
			name = l.Label + " uncorrected"
		}
		p.Add(line)
		// Markers at 90%, 99%, 99.9%...: a run's shape tells its lines apart in greyscale.
		marks := make(plotter.XYs, len(l.Marks))
		for i, m := range l.Marks {
			marks[i] = plotter.XY{X: m.X, Y: math.Max(m.ValueUS, 1)}
		}
		sc, err := plotter.NewScatter(marks)
		if err == nil {
			sc.GlyphStyle = seriesGlyph(l.Run, vg.Points(2.8))
			if !l.Corrected {
				sc.GlyphStyle.Radius = vg.Points(2)
			}
			p.Add(sc)
			f.addLegend(name, line, sc)
		} else {
			f.addLegend(name, line)
		}
	}
	if s.SLO != nil {
		yLo, yHi = math.Min(yLo, s.SLO.LimitUS), math.Max(yHi, s.SLO.LimitUS)
		h := &hrule{y: s.SLO.LimitUS, name: "SLO " + s.SLO.Text, style: lineStyle(black, 1, dashPatterns[3])}
		p.Add(h)
		f.addLegend("SLO "+s.SLO.Text, h)
		if pc := s.SLO.Percentile; pc > 0 && pc < 100 {
			p.Add(&rules{xs: []float64{1 / (1 - pc/100)}, style: lineStyle(ruleGrey, 0.8, dashPatterns[2])})
		}
	}
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, percentileTicks{}
	p.X.Min, p.X.Max = 1, math.Pow10(int(math.Ceil(math.Log10(xHi))))
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{formatMicros}
	p.Y.Min, p.Y.Max = niceLogRange(yLo, yHi)
	f.addPanel(p, 1)
	f.Notes = append(f.Notes, "Over all stages, warm-up excluded. Corrected latency (solid) counts from each request's intended send time; uncorrected (dashed) from its actual send.",
		"Markers sit at 90%, 99%, 99.9%, ...; each line ends at its maximum, placed at 1/(1 − q) = the number of values.")
	for _, sk := range s.Skipped {
		f.Notes = append(f.Notes, "Left out: "+sk+".")
	}
	return f, nil
}

// decadeMarks returns h's values at 90%, 99%, 99.9%, ... up to the last the count
// reaches (1/(1−q) ≤ count).
func decadeMarks(h *hdrhistogram.Histogram) []QuantilePoint {
	var out []QuantilePoint
	n := float64(h.TotalCount())
	for x := 10.0; x <= n; x *= 10 {
		pct := 100 * (1 - 1/x)
		out = append(out, QuantilePoint{Percentile: pct, X: x, ValueUS: float64(h.ValueAtQuantile(pct))})
	}
	return out
}
