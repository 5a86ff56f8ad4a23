package chart

import (
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dmbench/dmbench/internal/words"
)

// TimePoint is one point of a latency-over-time line: one interval of the run's
// interval logs, or, when the run was downsampled, several consecutive ones. Times are
// seconds since the run's start, latencies microseconds.
type TimePoint struct {
	Start, End float64
	Intervals  int   // 1 s intervals it stands for
	Count      int64 // latencies recorded (replies timed, by reply time) in them
	// The worst interval's figures: the highest p50, p99 and max among the intervals
	// that recorded anything. All 0 when Count is 0 (no reply: no latency to draw).
	P50US, P99US, MaxUS float64
	// RatePerS is Count over the point's time; RateMinPerS and RateMaxPerS are the lowest
	// and highest of its intervals' own rates (equal to RatePerS for one interval).
	RatePerS, RateMinPerS, RateMaxPerS float64
}

// LatencyOverTime is what the latency-over-time chart draws: per interval (or group of
// intervals) p50, p99 and max of corrected latency and the achieved rate, with the
// stages, warm-up, stalls and scheduled rate placed in time. Times are seconds since
// the run's start (meta.start).
type LatencyOverTime struct {
	Run      Run
	Command  string   // "" for all commands merged
	Commands []string // the commands drawn
	// Intervals is the number of intervals read; PerPoint how many make one point
	// (1 unless the run had more than MaxPoints).
	Intervals, PerPoint int
	Points              []TimePoint
	Stages              []Span
	Warmup              *Span // nil without a warm-up
	Stalls              []Span
	// Scheduled is the open-loop stages' scheduled send rate (of Command's share of the
	// mix); ScheduledNote says why it is missing, when it is.
	Scheduled     []RateSegment
	ScheduledNote string
	// End is the time the chart runs to: the later of the run's end and the last
	// interval's.
	End float64
}

// seconds returns d in seconds.
func seconds(d time.Duration) float64 { return d.Seconds() }

// NewLatencyOverTime reads run's interval logs (<COMMAND>.hlog in run.Dir) of
// opts.Command, or of every command merged interval by interval, and places the run's
// stages, warm-up (the first stage's start to its measured start) and stalls beside
// them.
//
// A run of more than opts.MaxPoints intervals is downsampled honestly: consecutive
// intervals are grouped, PerPoint = ⌈intervals / MaxPoints⌉ to a point, and each point
// keeps the highest p50, the highest p99 and the highest max of its group, so a spike of
// one second shows at full height on a run of days. Its rate is the group's count over
// its time, and the range of its intervals' own rates is kept beside it.
func NewLatencyOverTime(run Run, opts Options) (*LatencyOverTime, error) {
	r := run.Result
	if err := CheckCommand(opts.Command, []Run{run}); err != nil {
		return nil, err
	}
	if run.Dir == "" {
		return nil, noData("latency over time needs the run's folder (its interval logs)")
	}
	cmds := commandsOf(r, opts.Command)
	if opts.Command == "" && r.Warmup != nil { // a command seen only in the warm-up
		for _, c := range r.Warmup.Commands {
			if !slices.Contains(cmds, c.Command) {
				cmds = append(cmds, c.Command)
			}
		}
	}
	ivs, err := RunIntervals(run.Dir, cmds)
	if err != nil {
		return nil, err
	}
	maxPoints := opts.MaxPoints
	if maxPoints <= 0 {
		maxPoints = DefaultMaxPoints
	}
	t0 := r.Meta.Start
	d := &LatencyOverTime{Run: run, Command: opts.Command, Commands: cmds, Intervals: len(ivs)}
	d.PerPoint = max(1, (len(ivs)+maxPoints-1)/maxPoints)
	d.Points = downsample(ivs, t0, d.PerPoint)
	for _, s := range r.Stages {
		d.Stages = append(d.Stages, Span{Name: s.Name, Start: seconds(s.Start.Sub(t0)), End: seconds(s.End.Sub(t0))})
	}
	if len(r.Stages) > 0 {
		if s := r.Stages[0]; s.MeasuredStart.After(s.Start) {
			d.Warmup = &Span{Name: "warm-up", Start: seconds(s.Start.Sub(t0)), End: seconds(s.MeasuredStart.Sub(t0))}
		}
	}
	for _, s := range r.Stalls {
		start := float64(s.OffsetUS) / 1e6
		d.Stalls = append(d.Stalls, Span{Name: "stall", Start: start, End: start + float64(s.DurationUS)/1e6})
	}
	sch := scheduleOf(r)
	if sch.stages != nil {
		d.Scheduled = sch.segments(r, opts.Command)
		if len(d.Scheduled) == 0 {
			d.ScheduledNote = "no open-loop stage: closed loops have no scheduled rate"
		}
	} else {
		d.ScheduledNote = sch.note
	}
	d.End = seconds(r.Meta.End.Sub(t0))
	if n := len(d.Points); n > 0 {
		d.End = math.Max(d.End, d.Points[n-1].End)
	}
	return d, nil
}

// downsample turns intervals into points, per intervals to a point (see
// NewLatencyOverTime): latencies by the maximum, never an average.
func downsample(ivs []Interval, t0 time.Time, per int) []TimePoint {
	var out []TimePoint
	for i := 0; i < len(ivs); i += per {
		group := ivs[i:min(i+per, len(ivs))]
		p := TimePoint{
			Start:     seconds(group[0].Start.Sub(t0)),
			End:       seconds(group[len(group)-1].End.Sub(t0)),
			Intervals: len(group),
		}
		p.RateMinPerS = math.Inf(1)
		for _, iv := range group {
			h := iv.Hist
			n := h.TotalCount()
			p.Count += n
			if secs := seconds(iv.End.Sub(iv.Start)); secs > 0 {
				rate := float64(n) / secs
				p.RateMinPerS, p.RateMaxPerS = math.Min(p.RateMinPerS, rate), math.Max(p.RateMaxPerS, rate)
			}
			if n == 0 {
				continue
			}
			p.P50US = math.Max(p.P50US, float64(h.ValueAtQuantile(50)))
			p.P99US = math.Max(p.P99US, float64(h.ValueAtQuantile(99)))
			p.MaxUS = math.Max(p.MaxUS, float64(h.Max()))
		}
		if math.IsInf(p.RateMinPerS, 1) {
			p.RateMinPerS = 0
		}
		if secs := p.End - p.Start; secs > 0 {
			p.RatePerS = float64(p.Count) / secs
		}
		out = append(out, p)
	}
	return out
}

// steps returns pick's values as a step line, split where a point recorded nothing: one
// run of XYs per stretch of points with a value, each point drawn flat from its start to
// its end.
func (d *LatencyOverTime) steps(pick func(*TimePoint) float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range d.Points {
		p := &d.Points[i]
		v := pick(p)
		if p.Count == 0 || v <= 0 {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: p.Start, Y: v}, plotter.XY{X: p.End, Y: v})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Figure draws the chart: latency on a log axis above, the rate below, sharing the time
// axis.
func (d *LatencyOverTime) Figure() (*Figure, error) {
	r := d.Run.Result
	f := newFigure("Latency over time · "+runTitle([]Run{d.Run}), runSubtitle(d.Run, commandText(d.Command, d.Commands)), 10, 6.2)
	lat := newPlot("", "corrected latency (log scale)")
	rate := newPlot("time since the run's start", "replies timed per second")
	for _, p := range []*plot.Plot{lat, rate} {
		p.X.Min, p.X.Max = 0, math.Max(d.End, 1)
		p.X.Tick.Marker = timeTicks{}
	}
	lat.X.Tick.Label.Color = noteGrey

	// Shading first, lines over it.
	warm := &bands{fill: warmupGrey, label: "warm-up"}
	if d.Warmup != nil {
		warm.spans = []Span{*d.Warmup}
	}
	stalls := &bands{spans: d.Stalls, fill: stallFill, hatch: stallHatch, label: "stall"}
	var starts []float64
	var names []string
	for i, s := range d.Stages {
		if i > 0 || len(d.Stages) > 1 {
			starts, names = append(starts, s.Start), append(names, s.Name)
		}
	}
	if n := len(d.Stages); n > 0 {
		starts, names = append(starts, d.Stages[n-1].End), append(names, "")
	}
	stageRules := &rules{xs: starts, names: names, style: lineStyle(ruleGrey, 0.8, []vg.Length{vg.Points(3), vg.Points(2)})}
	lat.Add(warm, stalls, grid(false), stageRules)
	rateWarm, rateStalls := *warm, *stalls
	rateWarm.label, rateStalls.label = "", ""
	rate.Add(&rateWarm, &rateStalls, grid(false), &rules{xs: starts, style: stageRules.style})

	lo, hi := math.Inf(1), 0.0
	for _, p := range d.Points {
		if p.Count == 0 {
			continue
		}
		if p.P50US > 0 {
			lo = math.Min(lo, p.P50US)
		}
		hi = math.Max(hi, p.MaxUS)
	}
	series := []struct {
		name  string
		pick  func(*TimePoint) float64
		style draw.LineStyle
	}{
		{"p50", func(p *TimePoint) float64 { return p.P50US }, lineStyle(blue, 1.3, nil)},
		{"p99", func(p *TimePoint) float64 { return p.P99US }, lineStyle(vermillion, 1.3, dashPatterns[1])},
		{"max", func(p *TimePoint) float64 { return p.MaxUS }, lineStyle(black, 0.9, dashPatterns[2])},
	}
	if d.PerPoint > 1 {
		for i := range series {
			series[i].name += fmt.Sprintf(" (worst 1 s of each %d)", d.PerPoint)
		}
	}
	for _, s := range series {
		var thumb *plotter.Line
		for _, xys := range d.steps(s.pick) {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("latency over time: %s: %w", s.name, err)
			}
			l.LineStyle = s.style
			lat.Add(l)
			thumb = l
		}
		if thumb != nil {
			f.addLegend(s.name, thumb)
		}
	}
	if math.IsInf(lo, 1) { // nothing recorded at all: an empty latency panel
		lo, hi = 100, 1000
	}
	lat.Y.Scale, lat.Y.Tick.Marker = plot.LogScale{}, logTicks{formatMicros}
	lat.Y.Min, lat.Y.Max = niceLogRange(lo, hi)

	if err := d.addRates(f, rate); err != nil {
		return nil, err
	}
	if len(d.Stages) > 0 {
		f.addLegend("stage boundary", stageRules)
	}
	if d.Warmup != nil {
		f.addLegend("warm-up (not measured)", warm)
	}
	if len(d.Stalls) > 0 {
		f.addLegend("stall (no reply)", stalls)
	}
	f.addPanel(lat, 2)
	f.addPanel(rate, 1)

	f.Notes = append(f.Notes, fmt.Sprintf("%s of corrected latency (reply − intended send), by reply time; %s.",
		words.Plural(d.Intervals, "one-second interval", "one-second intervals"), d.pointsNote()))
	if d.ScheduledNote != "" {
		f.Notes = append(f.Notes, "Scheduled rate not drawn: "+d.ScheduledNote+".")
	}
	if len(r.Stalls) > 0 {
		f.Notes = append(f.Notes, fmt.Sprintf("%s: no reply for at least the stall threshold with requests outstanding.", words.Plural(len(r.Stalls), "stall", "stalls")))
	}
	return f, nil
}

// pointsNote says what a point stands for.
func (d *LatencyOverTime) pointsNote() string {
	if d.PerPoint == 1 {
		return "one point per interval"
	}
	return fmt.Sprintf("downsampled to %d points of %d intervals each: a point shows the highest p50, p99 and max of its intervals (never an average), its rate the group's, the band the range of its 1 s rates",
		len(d.Points), d.PerPoint)
}

// addRates draws the achieved rate (and its range when downsampled) and the scheduled
// rate onto the rate panel.
func (d *LatencyOverTime) addRates(f *Figure, rate *plot.Plot) error {
	hi := 0.0
	var line plotter.XYs
	var band plotter.XYs // upper edge forwards, lower edge backwards
	for _, p := range d.Points {
		line = append(line, plotter.XY{X: p.Start, Y: p.RatePerS}, plotter.XY{X: p.End, Y: p.RatePerS})
		hi = math.Max(hi, p.RateMaxPerS)
	}
	if d.PerPoint > 1 {
		for _, p := range d.Points {
			band = append(band, plotter.XY{X: p.Start, Y: p.RateMaxPerS}, plotter.XY{X: p.End, Y: p.RateMaxPerS})
		}
		for i := len(d.Points) - 1; i >= 0; i-- {
			p := d.Points[i]
			band = append(band, plotter.XY{X: p.End, Y: p.RateMinPerS}, plotter.XY{X: p.Start, Y: p.RateMinPerS})
		}
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return fmt.Errorf("latency over time: rate range: %w", err)
		}
		poly.Color, poly.LineStyle.Width = rateBandFill, 0
		rate.Add(poly)
		f.addLegend("range of 1 s rates", poly)
	}
	if len(line) > 0 {
		l, err := plotter.NewLine(line)
		if err != nil {
			return fmt.Errorf("latency over time: rate: %w", err)
		}
		l.LineStyle = lineStyle(bluishGreen, 1.3, nil)
		rate.Add(l)
		f.addLegend("achieved (replies timed/s)", l)
	}
	var thumb *plotter.Line
	for _, s := range d.Scheduled {
		l, err := plotter.NewLine(plotter.XYs{{X: s.Start, Y: s.From}, {X: s.End, Y: s.To}})
		if err != nil {
			return fmt.Errorf("latency over time: scheduled rate: %w", err)
		}
		l.LineStyle = lineStyle(black, 1, dashPatterns[3])
		rate.Add(l)
		thumb = l
		hi = math.Max(hi, math.Max(s.From, s.To))
	}
	if thumb != nil {
		f.addLegend("scheduled send rate", thumb)
	}
	rate.Y.Min, rate.Y.Max = 0, math.Max(hi*1.1, 1)
	rate.Y.Tick.Marker = linearTicks{formatRate}
	return nil
}
