package chart

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// shortfall is the share of its scheduled rate below which a stage's send rate counts
// as the generator falling short.
const shortfall = 0.95

// RatePoint is one stage of a run on the throughput–latency chart.
type RatePoint struct {
	Label         string  // the stage's name, or the run's when the series is across runs
	AchievedPerS  float64 // OK replies per second of the measured window
	SentPerS      float64 // requests sent per second of the measured window
	ScheduledPerS float64 // the schedule's mean rate over the window; 0 when unknown or closed
	P50US, P99US  float64 // corrected latency
	// Short marks a point where the generator fell short: the run was generator-bound,
	// or the stage sent less than 95% of its scheduled rate. Why says which.
	Short bool
	Why   string
}

// RateSeries is one line of points: one run's stages, or the runs of a set.
type RateSeries struct {
	Label  string
	Points []RatePoint
}

// ThroughputLatency is what the throughput–latency chart draws: per stage, the achieved
// rate against p50 and p99 of corrected latency, of Command or of all commands merged.
type ThroughputLatency struct {
	Runs     []Run
	Command  string
	Commands []string
	// AcrossRuns is true when every run has one stage: the runs make one series, sorted
	// by rate, each point a run.
	AcrossRuns bool
	Series     []RateSeries
	// Notes says which schedules could not be read.
	Notes []string
}

// NewThroughputLatency reads each stage's achieved rate and latency. A stage's
// achieved rate is its commands' OK replies per second of its measured window; its p50
// and p99 come from their corrected histograms merged. A point is Short when the run's
// generator was bound (result.generator.bound), or when the stage sent less than 95% of
// the rate its scenario scheduled (rebuilt from the scenario text result.json keeps;
// closed loops have none).
func NewThroughputLatency(runs []Run, opts Options) (*ThroughputLatency, error) {
	if err := CheckCommand(opts.Command, runs); err != nil {
		return nil, err
	}
	t := &ThroughputLatency{Runs: runs, Command: opts.Command, AcrossRuns: len(runs) > 1}
	for _, run := range runs {
		if len(run.Result.Stages) != 1 {
			t.AcrossRuns = false
		}
	}
	across := RateSeries{Label: "runs"}
	for _, run := range runs {
		r := run.Result
		cmds := commandsOf(r, opts.Command)
		for _, c := range cmds {
			if !slices.Contains(t.Commands, c) {
				t.Commands = append(t.Commands, c)
			}
		}
		sch := scheduleOf(r)
		if sch.stages == nil && !slices.Contains(t.Notes, sch.note) {
			t.Notes = append(t.Notes, sch.note)
		}
		series := RateSeries{Label: run.Label}
		for i := range r.Stages {
			s := &r.Stages[i]
			h, err := stageLatency(s, cmds)
			if err != nil {
				return nil, fmt.Errorf("throughput and latency of %s: %w", run.Label, err)
			}
			if h.TotalCount() == 0 {
				continue
			}
			p := RatePoint{Label: s.Name, P50US: float64(h.ValueAtQuantile(50)), P99US: float64(h.ValueAtQuantile(99))}
			for _, c := range s.Commands {
				if slices.Contains(cmds, c.Command) {
					p.AchievedPerS += c.ThroughputPerS
					p.SentPerS += c.SentPerS
				}
			}
			if rate, ok := sch.measuredRate(r, i, opts.Command); ok {
				p.ScheduledPerS = rate
			}
			switch {
			case r.Generator.Bound:
				p.Short, p.Why = true, "the generator was bound: "+strings.Join(r.Generator.Reasons, "; ")
			case p.ScheduledPerS > 0 && p.SentPerS < shortfall*p.ScheduledPerS:
				p.Short, p.Why = true, fmt.Sprintf("sent %s of %s scheduled", formatRate(p.SentPerS), formatRate(p.ScheduledPerS))
			}
			if t.AcrossRuns {
				p.Label = run.Label
				across.Points = append(across.Points, p)
				continue
			}
			series.Points = append(series.Points, p)
		}
		if !t.AcrossRuns && len(series.Points) > 0 {
			t.Series = append(t.Series, series)
		}
	}
	if t.AcrossRuns && len(across.Points) > 0 {
		slices.SortStableFunc(across.Points, func(a, b RatePoint) int { return cmpFloat(a.AchievedPerS, b.AchievedPerS) })
		t.Series = []RateSeries{across}
	}
	if len(t.Series) == 0 {
		return nil, noData("no stage recorded any latency")
	}
	return t, nil
}

// cmpFloat compares a and b.
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Figure draws p50 and p99 against the achieved rate, a line per series, the points
// where the generator fell short crossed out.
func (t *ThroughputLatency) Figure() (*Figure, error) {
	f := newFigure("Throughput and latency · "+runTitle(t.Runs), targetText(t.Runs)+" · "+commandText(t.Command, t.Commands), 10, 6)
	p := newPlot("achieved throughput (OK replies per second of the measured window)", "corrected latency (log scale)")
	p.Add(grid(true))
	xLo, xHi, yLo, yHi := math.Inf(1), 0.0, math.Inf(1), 0.0
	var short plotter.XYs
	var shortWhy []string
	for i, s := range t.Series {
		for _, pc := range []struct {
			name string
			pick func(*RatePoint) float64
			dash []vg.Length
		}{{"p50", func(p *RatePoint) float64 { return p.P50US }, nil}, {"p99", func(p *RatePoint) float64 { return p.P99US }, dashPatterns[1]}} {
			xys := make(plotter.XYs, len(s.Points))
			for k := range s.Points {
				pt := &s.Points[k]
				y := math.Max(pc.pick(pt), 1)
				xys[k] = plotter.XY{X: pt.AchievedPerS, Y: y}
				xLo, xHi = math.Min(xLo, pt.AchievedPerS), math.Max(xHi, pt.AchievedPerS)
				yLo, yHi = math.Min(yLo, y), math.Max(yHi, y)
				if pt.Short && pc.name == "p99" {
					short = append(short, xys[k], plotter.XY{X: xys[k].X, Y: math.Max(pt.P50US, 1)})
					why := pt.Label + ": " + pt.Why
					if len(t.Series) > 1 {
						why = s.Label + " " + why
					}
					shortWhy = append(shortWhy, why)
				}
			}
			line, sc, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, fmt.Errorf("throughput and latency: %s: %w", s.Label, err)
			}
			line.LineStyle = lineStyle(seriesColor(i), 1.3, pc.dash)
			sc.GlyphStyle = seriesGlyph(i, vg.Points(3))
			p.Add(line, sc)
			name := pc.name
			if len(t.Series) > 1 {
				name = s.Label + " " + pc.name
			}
			f.addLegend(name, line, sc)
			if pc.name == "p99" {
				texts := make([]string, len(s.Points))
				for k := range s.Points {
					texts[k] = s.Points[k].Label
				}
				p.Add(&pointLabels{xs: xs(xys), ys: ys(xys), texts: texts, style: textStyle(markSize, noteGrey)})
			}
		}
	}
	if len(short) > 0 {
		sc, err := plotter.NewScatter(short)
		if err != nil {
			return nil, fmt.Errorf("throughput and latency: short points: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: black, Radius: vg.Points(6.5), Shape: draw.RingGlyph{}}
		p.Add(sc)
		f.addLegend("generator fell short (not the server's limit)", sc)
	}
	if xHi <= 0 {
		xHi = 1
	}
	if xLo > 0 && xHi/xLo > 20 {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{formatRate}
		p.X.Min, p.X.Max = niceLogRange(xLo, xHi)
	} else {
		p.X.Min, p.X.Max = 0, xHi*1.15
		p.X.Tick.Marker = linearTicks{formatRate}
	}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{formatMicros}
	p.Y.Min, p.Y.Max = niceLogRange(yLo, yHi)
	f.addPanel(p, 1)
	if t.AcrossRuns {
		f.Notes = append(f.Notes, "One point per run (each has one stage), in order of achieved throughput; warm-up excluded.")
	} else {
		f.Notes = append(f.Notes, "One point per stage, in stage order; warm-up excluded.")
	}
	if len(shortWhy) > 0 {
		more := ""
		if len(shortWhy) > 4 {
			more = fmt.Sprintf("; and %d more", len(shortWhy)-4)
			shortWhy = shortWhy[:4]
		}
		f.Notes = append(f.Notes, "Ringed, the generator fell short: "+strings.Join(shortWhy, "; ")+more+".")
	}
	for _, n := range t.Notes {
		f.Notes = append(f.Notes, "Scheduled rates unknown: "+n+".")
	}
	return f, nil
}

// xs returns the x values of xys.
func xs(xys plotter.XYs) []float64 {
	out := make([]float64, len(xys))
	for i, p := range xys {
		out[i] = p.X
	}
	return out
}

// ys returns the y values of xys.
func ys(xys plotter.XYs) []float64 {
	out := make([]float64, len(xys))
	for i, p := range xys {
		out[i] = p.Y
	}
	return out
}
