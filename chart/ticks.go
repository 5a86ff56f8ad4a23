package chart

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// formatMicros writes a latency in microseconds with its unit, compactly, for an axis:
// 250µs, 1ms, 2.5ms, 1.2s.
func formatMicros(us float64) string {
	switch a := math.Abs(us); {
	case a >= 1e6:
		return compact(us/1e6) + "s"
	case a >= 1e3:
		return compact(us/1e3) + "ms"
	default:
		return compact(us) + "µs"
	}
}

// formatRate writes a rate per second with its unit, compactly: 500/s, 1.5k/s, 2M/s.
func formatRate(perS float64) string {
	switch a := math.Abs(perS); {
	case a >= 1e6:
		return compact(perS/1e6) + "M/s"
	case a >= 1e3:
		return compact(perS/1e3) + "k/s"
	default:
		return compact(perS) + "/s"
	}
}

// formatSeconds writes a time since the run's start: 0s, 45s, 2m, 1m30s, 1h5m.
func formatSeconds(s float64) string {
	if s == 0 {
		return "0s"
	}
	sign := ""
	if s < 0 {
		sign, s = "-", -s
	}
	if s < 60 && s != math.Trunc(s) {
		return sign + compact(s) + "s"
	}
	t := int64(math.Round(s))
	h, m, sec := t/3600, t/60%60, t%60
	var b strings.Builder
	b.WriteString(sign)
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if sec > 0 || (h == 0 && m == 0) {
		fmt.Fprintf(&b, "%ds", sec)
	}
	return b.String()
}

// compact writes v with 3 significant digits (all the digits of a whole number of 100
// or more), without trailing zeros or an exponent.
func compact(v float64) string {
	dec := 0
	if a := math.Abs(v); a > 0 && a < 100 {
		dec = min(2-int(math.Floor(math.Log10(a))), 9)
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// logTicks marks a log axis: decades labelled, and 2 and 5 times them as well when the
// axis spans few decades; format writes a label.
type logTicks struct{ format func(float64) string }

var _ plot.Ticker = logTicks{}

// Ticks implements plot.Ticker.
func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	first, last := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	decades := last - first
	var ticks []plot.Tick
	labelled := 0
	for e := first; e <= last; e++ {
		base := math.Pow10(e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			tk := plot.Tick{Value: v}
			end := math.Abs(v-lo) <= 1e-9*lo || math.Abs(v-hi) <= 1e-9*hi // the axis starts or ends here
			if m == 1 || ((decades <= 3 || end) && (m == 2 || m == 5)) {
				tk.Label = t.format(v)
				labelled++
			}
			ticks = append(ticks, tk)
		}
	}
	if labelled < 2 { // within one decade: label every mark
		for i := range ticks {
			ticks[i].Label = t.format(ticks[i].Value)
		}
	}
	return ticks
}

// niceLogRange widens [lo, hi] (both > 0) outwards to the nearest 1, 2 or 5 times a
// power of ten, so that a log axis starts and ends on a labelled mark.
func niceLogRange(lo, hi float64) (float64, float64) {
	if lo <= 0 {
		lo = 1
	}
	if hi < lo {
		hi = lo
	}
	below := func(v float64) float64 {
		e := math.Pow10(int(math.Floor(math.Log10(v))))
		for _, m := range []float64{5, 2, 1} {
			if m*e <= v*(1+1e-9) {
				return m * e
			}
		}
		return e
	}
	above := func(v float64) float64 {
		e := math.Pow10(int(math.Floor(math.Log10(v))))
		for _, m := range []float64{1, 2, 5, 10} {
			if m*e >= v*(1-1e-9) {
				return m * e
			}
		}
		return 10 * e
	}
	lo, hi = below(lo), above(hi)
	if hi <= lo {
		hi = above(lo * 1.01)
	}
	return lo, hi
}

// linearTicks marks a linear axis with plot.DefaultTicks' marks and writes its labels
// with format.
type linearTicks struct{ format func(float64) string }

var _ plot.Ticker = linearTicks{}

// Ticks implements plot.Ticker.
func (t linearTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = t.format(ticks[i].Value)
		}
	}
	return ticks
}

// timeTicks marks an axis of seconds since the run's start at steps of whole seconds,
// minutes or hours, about 6 to 12 of them.
type timeTicks struct{}

var _ plot.Ticker = timeTicks{}

// timeSteps are the steps timeTicks chooses from, in seconds.
var timeSteps = []float64{0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

// Ticks implements plot.Ticker.
func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if span <= 0 {
		return []plot.Tick{{Value: lo, Label: formatSeconds(lo)}}
	}
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= 12 {
			step = s
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: formatSeconds(v)})
		if half := v + step/2; half < hi {
			ticks = append(ticks, plot.Tick{Value: half})
		}
	}
	return ticks
}

// percentileTicks marks HdrHistogram's percentile axis, x = 1/(1−q): 0% at 1, 50% at 2,
// 90% at 10, 99% at 100, 99.9% at 1000 and so on, with minor marks between.
type percentileTicks struct{}

var _ plot.Ticker = percentileTicks{}

// Ticks implements plot.Ticker.
func (percentileTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := 0; e <= 12; e++ {
		base := math.Pow10(e)
		if base > hi*(1+1e-9) {
			break
		}
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 || (e == 0 && m == 2) {
				tk.Label = percentileLabel(1 - 1/v)
			}
			ticks = append(ticks, tk)
		}
	}
	return ticks
}

// percentileLabel writes the quantile q (0 ≤ q < 1) as a percentage with as many nines
// as it has: 0.5 is 50%, 0.999 is 99.9%, 0.99999 is 99.999%.
func percentileLabel(q float64) string {
	p := q * 100
	for dec := 0; dec <= 10; dec++ {
		s := strconv.FormatFloat(p, 'f', dec, 64)
		if v, _ := strconv.ParseFloat(s, 64); math.Abs(v-p) < 1e-9*math.Max(1, p) {
			return s + "%"
		}
	}
	return strconv.FormatFloat(p, 'g', 8, 64) + "%"
}

// categoryTicks labels integer positions 0, 1, ... of an axis with names.
func categoryTicks(names []string) plot.ConstantTicks {
	ticks := make(plot.ConstantTicks, len(names))
	for i, n := range names {
		ticks[i] = plot.Tick{Value: float64(i), Label: n}
	}
	return ticks
}
