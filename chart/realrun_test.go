package chart_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/chart"
	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/scenarios"
	"github.com/dmbench/dmbench/serverview"
)

// pausedScenario is a 5 s open loop in two stages (200/s, then 400/s of two commands)
// after a 500 ms warm-up, short enough for a unit test.
const pausedScenario = `name: paused
seed: 1
warmup: 500ms
timeout: 2s
stages:
  - name: low
    duration: 2500ms
    clients: 2
    rate: 200/s
    mix:
      - command: HARTBEAT
  - name: high
    duration: 2500ms
    rate: 400/s
    mix:
      - command: HARTBEAT
      - command: GROUPADD
        group: {uniform: 10}
        channel: {uniform: 10}
`

// The broker's pause fault in the real run: 400 ms every 2 s, in windows from the
// broker's start.
const (
	pauseLen   = 400 * time.Millisecond
	pauseEvery = 2 * time.Second
)

// pausedRun is the real run the tests share: made once, against an embedded broker
// pausing pauseLen every pauseEvery, with the server view on.
type pausedRun struct {
	run      chart.Run
	srvStart time.Time // when the broker started: its pause windows count from here
}

var (
	sharedOnce sync.Once
	shared     *pausedRun
	sharedErr  error
	sharedDir  string
)

// realPausedRun returns the shared paused run, making it on first use.
func realPausedRun(t *testing.T) *pausedRun {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = makePausedRun(sharedDir) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// makePausedRun runs pausedScenario as dmbench run does (loadgen, the server view, the
// result writer) against a broker started here with the pause fault, into a run folder
// under out.
func makePausedRun(out string) (*pausedRun, error) {
	sc, err := scenarios.Parse("paused.yaml", []byte(pausedScenario), scenarios.LoadOptions{})
	if err != nil {
		return nil, err
	}
	faults := broker.Faults{Pause: pauseLen, PauseEvery: pauseEvery}
	srv, err := broker.Start(broker.Config{Addr: "tcp://127.0.0.1:0", Faults: faults})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	srvStart := time.Now().Add(-time.Duration(srv.Report().UptimeSeconds * float64(time.Second)))

	ctx := context.Background()
	poller, err := serverview.Start(ctx, srv.Addr(), "", 500*time.Millisecond, time.Second)
	if err != nil {
		return nil, err
	}
	defer poller.Stop()
	poller.Poll(serverview.LabelStart)
	w, err := resultfmt.Create(out, sc.Name)
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	lr, err := loadgen.Run(ctx, loadgen.Config{
		Plan: sc.Plan(), Addr: srv.Addr(), Intervals: w, OnStage: poller.Stage,
		StallThreshold: 200 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	view := poller.Stop()
	meta := resultfmt.NewMeta()
	meta.SetScenario(sc.Name, "paused.yaml", []byte(pausedScenario))
	meta.Seed = sc.Seed
	meta.Transport = "native"
	meta.Target = resultfmt.Target{Address: srv.Addr(), Embedded: true, BrokerMode: string(srv.Mode()), Faults: []string{faults.String()}}
	meta.Labels = map[string]string{"broker": "embedded"}
	res := resultfmt.FromLoadgen(meta, lr)
	res.SetServerView(view)
	dir, err := w.Finish(res)
	if err != nil {
		return nil, err
	}
	back, err := resultfmt.Read(dir)
	if err != nil {
		return nil, err
	}
	return &pausedRun{run: chart.Run{Label: "paused", Dir: dir, Result: back}, srvStart: srvStart}, nil
}

// pauses returns the broker's pause windows in seconds since the run's start, up to end.
func (p *pausedRun) pauses(end float64) []chart.Span {
	var out []chart.Span
	t0 := p.run.Result.Meta.Start
	for k := 1; ; k++ {
		start := p.srvStart.Add(time.Duration(k) * pauseEvery).Sub(t0).Seconds()
		if start > end {
			return out
		}
		out = append(out, chart.Span{Name: "pause", Start: start, End: start + pauseLen.Seconds()})
	}
}

// TestPausePlotted plots a run against a broker that pauses 400 ms every 2 s and checks,
// from the data the chart is drawn from, that the hatched stall bands and the latency
// peaks sit where the pauses were, within an interval, and nowhere else.
func TestPausePlotted(t *testing.T) {
	p := realPausedRun(t)
	d, err := chart.NewLatencyOverTime(p.run, chart.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.PerPoint != 1 || len(d.Points) < 5 {
		t.Fatalf("%d points of %d intervals each: want one point per interval of a 5 s run", len(d.Points), d.PerPoint)
	}
	runEnd := d.Stages[len(d.Stages)-1].End
	pauses := p.pauses(d.End)
	t.Logf("pauses %v, stalls %v, run's stages end at %.3f s", pauses, d.Stalls, runEnd)
	for _, pt := range d.Points {
		t.Logf("interval %.3f–%.3f s: %d replies, p50 %.0fµs p99 %.0fµs max %.0fµs", pt.Start, pt.End, pt.Count, pt.P50US, pt.P99US, pt.MaxUS)
	}
	overlaps := func(a, b chart.Span, slack float64) bool { return a.Start < b.End+slack && b.Start < a.End+slack }

	// Every stall is a pause, and every pause while requests were sent is a stall.
	for _, s := range d.Stalls {
		found := false
		for _, pz := range pauses {
			found = found || overlaps(s, pz, 0.05)
		}
		if !found {
			t.Errorf("stall band %.3f–%.3f s matches no pause of %v", s.Start, s.End, pauses)
		}
	}
	for _, pz := range pauses {
		if pz.Start < 0.2 || pz.End > runEnd-0.2 {
			continue // at the very start or after the sends ended: maybe nothing outstanding
		}
		found := false
		for _, s := range d.Stalls {
			found = found || overlaps(s, pz, 0.05)
		}
		if !found {
			t.Errorf("pause %.3f–%.3f s has no stall band (stalls %v)", pz.Start, pz.End, d.Stalls)
		}
	}

	// The interval in which a pause ended holds its peak (replies held up to 400 ms);
	// intervals clear of every pause stay far below it.
	peaks := 0
	for _, pz := range pauses {
		if pz.End > runEnd {
			continue
		}
		// The highest max among the intervals overlapping the pause or the half second
		// after it (the replies it held come when it ends).
		peak := -1
		for i, pt := range d.Points {
			if overlaps(chart.Span{Start: pt.Start, End: pt.End}, chart.Span{Start: pz.Start, End: pz.End + 0.5}, 0) && (peak < 0 || pt.MaxUS > d.Points[peak].MaxUS) {
				peak = i
			}
		}
		if peak < 0 {
			t.Errorf("pause %.3f–%.3f s: no interval covers it", pz.Start, pz.End)
			continue
		}
		got := d.Points[peak]
		if got.MaxUS < 0.6*float64(pauseLen.Microseconds()) {
			t.Errorf("pause %.3f–%.3f s: the highest max near it is %.0fµs (interval %.3f–%.3f s), want about %v", pz.Start, pz.End, got.MaxUS, got.Start, got.End, pauseLen)
		}
		if got.Start > pz.End+1 || got.End < pz.End-1 {
			t.Errorf("pause ending at %.3f s peaks in interval %.3f–%.3f s: more than an interval away", pz.End, got.Start, got.End)
		}
		peaks++
	}
	if peaks == 0 {
		t.Fatalf("no pause fell within the run (pauses %v): the test proves nothing", pauses)
	}
	for _, pt := range d.Points {
		clear := true
		for _, pz := range pauses {
			clear = clear && !overlaps(chart.Span{Start: pt.Start, End: pt.End}, pz, 0.1)
		}
		if clear && pt.Count > 0 && pt.MaxUS > 0.5*float64(pauseLen.Microseconds()) {
			t.Errorf("interval %.3f–%.3f s is clear of every pause but peaks at %.0fµs", pt.Start, pt.End, pt.MaxUS)
		}
	}
}

// svgTexts returns the text of every <text> element of an SVG document, checking that
// the document is well-formed XML with an <svg> root.
func svgTexts(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var texts []string
	root, inText := "", false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG does not parse: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			inText = e.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(e))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("the document's root is <%s>, want <svg>", root)
	}
	return texts
}

// checkDrawn draws f as SVG and PNG: the SVG must parse and show every one of want (the
// legend's entries, titles), the PNG must decode at the size asked with a drawing on it.
func checkDrawn(t *testing.T, f *chart.Figure, want ...string) {
	t.Helper()
	var svg bytes.Buffer
	if err := f.Write(&svg, chart.SVG); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(svgTexts(t, svg.Bytes()), "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the SVG has no text %q; it has:\n%s", w, all)
		}
	}
	const width, height = 900, 560
	f.SetPixels(width, height)
	var buf bytes.Buffer
	if err := f.Write(&buf, chart.PNG); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("the PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("the PNG is %dx%d, want %dx%d", b.Dx(), b.Dy(), width, height)
	}
	inked, colours := 0, map[[3]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || b < 0xf000 {
				inked++
				colours[[3]uint32{r >> 12, g >> 12, b >> 12}] = true
			}
		}
	}
	if total := width * height / 4; inked < total/100 || len(colours) < 5 {
		t.Errorf("the PNG has %d of %d sampled pixels drawn in %d colours: want a chart, not a blank", inked, total, len(colours))
	}
}

// TestEveryKindFromRealRun draws every kind of chart from the real run (the comparison:
// the run against itself) and checks each drawing and the data it was drawn from.
func TestEveryKindFromRealRun(t *testing.T) {
	p := realPausedRun(t)
	r := p.run.Result
	t.Run("latency", func(t *testing.T) {
		for _, cmd := range []string{"", "GROUPADD"} {
			d, err := chart.NewLatencyOverTime(p.run, chart.Options{Command: cmd})
			if err != nil {
				t.Fatal(err)
			}
			// A command's log starts with its first event: GROUPADD's with the second stage.
			wantIvs := int(math.Floor(r.Meta.End.Sub(r.Meta.Start).Seconds()))
			if cmd != "" {
				wantIvs -= int(math.Ceil(d.Stages[1].Start))
			}
			if d.Intervals < wantIvs || d.Intervals > wantIvs+2 || len(d.Points) != d.Intervals {
				t.Errorf("command %q: %d intervals in %d points; the run lasted %v", cmd, d.Intervals, len(d.Points), r.Meta.End.Sub(r.Meta.Start))
			}
			if len(d.Stages) != 2 || d.Warmup == nil || math.Abs(d.Warmup.End-d.Warmup.Start-0.5) > 0.01 {
				t.Errorf("command %q: stages %v, warm-up %v: want 2 stages and 500 ms of warm-up", cmd, d.Stages, d.Warmup)
			}
			// The scheduled rate, rebuilt from the scenario the result keeps: all commands
			// 200/s then 400/s; GROUPADD is half of the second stage's mix only.
			want := []float64{200, 400}
			if cmd == "GROUPADD" {
				want = []float64{200}
			}
			if len(d.Scheduled) != len(want) {
				t.Fatalf("command %q: scheduled %v (%s), want %v", cmd, d.Scheduled, d.ScheduledNote, want)
			}
			for i, s := range d.Scheduled {
				if s.From != want[i] || s.To != want[i] {
					t.Errorf("command %q: scheduled %+v, want %v/s", cmd, s, want[i])
				}
			}
			f, err := d.Figure()
			if err != nil {
				t.Fatal(err)
			}
			checkDrawn(t, f, "Latency over time · paused", "p50", "p99", "max", "scheduled send rate", "warm-up (not measured)", "stall (no reply)", "low", "high")
		}
	})
	t.Run("spectrum", func(t *testing.T) {
		slo, err := chart.ParseSLO("p99<5ms")
		if err != nil {
			t.Fatal(err)
		}
		s, err := chart.NewSpectrum([]chart.Run{p.run}, chart.Options{SLO: slo})
		if err != nil {
			t.Fatal(err)
		}
		// The run's corrected line only: its uncorrected histograms are in result.json.
		if len(s.Lines) != 2 || !s.Lines[0].Corrected || s.Lines[1].Corrected {
			t.Fatalf("%d lines: want corrected and uncorrected", len(s.Lines))
		}
		h, _, err := r.Merged("HARTBEAT", resultfmt.Corrected)
		if err != nil {
			t.Fatal(err)
		}
		g, _, _ := r.Merged("GROUPADD", resultfmt.Corrected)
		h.Merge(g)
		line := s.Lines[0]
		if line.Count != h.TotalCount() || line.Points[len(line.Points)-1].ValueUS != float64(h.Max()) {
			t.Errorf("corrected line: %d values ending at %.0fµs; the run has %d ending at %dµs", line.Count, line.Points[len(line.Points)-1].ValueUS, h.TotalCount(), h.Max())
		}
		for _, m := range line.Marks {
			if want := float64(h.ValueAtQuantile(m.Percentile)); m.ValueUS != want {
				t.Errorf("mark at %v%%: %.0fµs, want %.0fµs", m.Percentile, m.ValueUS, want)
			}
		}
		f, err := s.Figure()
		if err != nil {
			t.Fatal(err)
		}
		checkDrawn(t, f, "Percentile spectrum · paused", "paused corrected", "paused uncorrected", "SLO p99<5ms", "90%", "99%")
	})
	t.Run("throughput", func(t *testing.T) {
		d, err := chart.NewThroughputLatency([]chart.Run{p.run}, chart.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Series) != 1 || len(d.Series[0].Points) != 2 {
			t.Fatalf("series %+v: want one series of the 2 stages", d.Series)
		}
		for i, pt := range d.Series[0].Points {
			want := []float64{200, 400}[i]
			if pt.ScheduledPerS != want || !within(pt.SentPerS, want, 0.05) {
				t.Errorf("stage %s: scheduled %v/s, sent %.1f/s: want %v/s", pt.Label, pt.ScheduledPerS, pt.SentPerS, want)
			}
			if pt.Short != r.Generator.Bound {
				t.Errorf("stage %s marked short %v (%s), generator bound %v", pt.Label, pt.Short, pt.Why, r.Generator.Bound)
			}
		}
		f, err := d.Figure()
		if err != nil {
			t.Fatal(err)
		}
		checkDrawn(t, f, "Throughput and latency · paused", "p50", "p99", "low", "high")
	})
	t.Run("server", func(t *testing.T) {
		d, err := chart.NewServerTimes(p.run, chart.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Stage "low" sends HARTBEAT only; "high" both.
		if len(d.Groups) != 3 {
			t.Fatalf("groups %+v (skipped %v): want low HARTBEAT, high HARTBEAT, high GROUPADD", d.Groups, d.Skipped)
		}
		for _, g := range d.Groups {
			if g.ServiceP50US <= 0 || g.ClientP50US < g.ServiceP50US {
				t.Errorf("%s %s: client p50 %.0fµs, service p50 %.0fµs: the round trip holds the service time", g.Stage, g.Command, g.ClientP50US, g.ServiceP50US)
			}
		}
		f, err := d.Figure()
		if err != nil {
			t.Fatal(err)
		}
		checkDrawn(t, f, "Client round trip and server service time · paused", "client round trip p99", "server service time p50", "HARTBEAT", "GROUPADD")
	})
	t.Run("comparison", func(t *testing.T) {
		cmp, err := comparison.Compare([]*resultfmt.Result{r}, []*resultfmt.Result{r}, comparison.CompareOptions{OldName: "a", NewName: "b"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := chart.NewComparison(cmp)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range d.Panels {
			names = append(names, p.Metric)
		}
		if got := strings.Join(names, " "); got != "throughput p50 p99 p99.9 errors server-p50 server-p99" {
			t.Errorf("panels %s: want every default metric, the server's included", got)
		}
		f, err := d.Figure()
		if err != nil {
			t.Fatal(err)
		}
		checkDrawn(t, f, "Comparison · paused", "OLD median", "NEW median", "server-p99: 99th percentile of the server's service time")
	})
}

func within(got, want, rel float64) bool { return got >= want*(1-rel) && got <= want*(1+rel) }
