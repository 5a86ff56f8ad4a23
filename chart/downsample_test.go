package chart_test

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dmbench/dmbench/chart"
	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
)

// TestDownsampleKeepsPeaks writes a run of 1201 one-second intervals (20 minutes) with a
// one-second spike and a second without replies, and checks that the 1000-point chart
// keeps, for every point, the highest p50, p99 and max of its intervals as read back
// from the interval log with HdrHistogram's reader: the spike at full height, no average.
func TestDownsampleKeepsPeaks(t *testing.T) {
	const n, spike, silent = 1201, 777, 1000
	r, _ := resultfixture.ChartRun("0.2.1", 1)
	r.Meta.End = r.Meta.Start.Add(n * time.Second)
	var ivs []loadgen.Interval
	for k := 0; k < n; k++ {
		start := resultfixture.T0.Add(time.Duration(k) * time.Second)
		h := resultfixture.Spread(100+k%7, 200+int64(k%13)*10, 300)
		switch k {
		case spike:
			h = resultfixture.Spread(100, 200, 300, resultfixture.Repeat(1_500_000, 3)...)
		case silent:
			h = loadgen.NewHistogram()
		}
		ivs = append(ivs, loadgen.Interval{Start: start, End: start.Add(time.Second), Command: protocol.Heartbeat, Corrected: h, Uncorrected: h})
	}
	dir, err := resultfixture.WriteRun(t.TempDir(), r, ivs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "HARTBEAT.hlog"))
	if err != nil {
		t.Fatal(err)
	}
	read, err := chart.ReadIntervalLog(f)
	f.Close()
	if err != nil || len(read) != n {
		t.Fatalf("read %d intervals (%v), want %d", len(read), err, n)
	}

	d, err := chart.NewLatencyOverTime(chart.Run{Dir: dir, Result: r}, chart.Options{Command: "HARTBEAT"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Intervals != n || d.PerPoint != 2 || len(d.Points) != 601 {
		t.Fatalf("%d intervals in %d points of %d: want %d in 601 of 2 (at most %d points)", d.Intervals, len(d.Points), d.PerPoint, n, chart.DefaultMaxPoints)
	}
	var total int64
	for i, p := range d.Points {
		group := read[i*d.PerPoint : min((i+1)*d.PerPoint, n)]
		var p50, p99, mx, count float64
		lo, hi := math.Inf(1), 0.0
		for _, iv := range group {
			c := float64(iv.Hist.TotalCount())
			count += c
			lo, hi = math.Min(lo, c), math.Max(hi, c)
			if c > 0 {
				p50 = math.Max(p50, float64(iv.Hist.ValueAtQuantile(50)))
				p99 = math.Max(p99, float64(iv.Hist.ValueAtQuantile(99)))
				mx = math.Max(mx, float64(iv.Hist.Max()))
			}
		}
		if p.P50US != p50 || p.P99US != p99 || p.MaxUS != mx || float64(p.Count) != count || p.RateMinPerS != lo || p.RateMaxPerS != hi {
			t.Errorf("point %d (%.0f–%.0f s): p50 %v p99 %v max %v count %d rates %v–%v; its intervals give %v %v %v %v %v–%v",
				i, p.Start, p.End, p.P50US, p.P99US, p.MaxUS, p.Count, p.RateMinPerS, p.RateMaxPerS, p50, p99, mx, count, lo, hi)
		}
		total += p.Count
	}
	peak := d.Points[spike/d.PerPoint]
	if peak.MaxUS < 1_490_000 || peak.P99US < 1_490_000 {
		t.Errorf("the spike's point shows max %vµs, p99 %vµs: want the spike's 1.5 s", peak.MaxUS, peak.P99US)
	}
	if quiet := d.Points[silent/d.PerPoint]; quiet.RateMinPerS != 0 {
		t.Errorf("the point holding the silent second has lowest rate %v/s, want 0", quiet.RateMinPerS)
	}
	if f, err := d.Figure(); err != nil {
		t.Fatal(err)
	} else if err := f.Write(io.Discard, chart.SVG); err != nil {
		t.Fatal(err)
	}
}
