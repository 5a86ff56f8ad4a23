package merge_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/merge"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
)

// TestReadLogTimes writes intervals at every millisecond offset of a second, some
// seconds apart, with hdrhistogram-go's log writer relative to a base time, as
// resultfmt.Writer does, and reads them back: the times are absolute and exact to the
// millisecond (the seconds Merge aligns by), the tags and histograms those written.
func TestReadLogTimes(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var buf bytes.Buffer
	lw := hdrhistogram.NewHistogramLogWriter(&buf)
	lw.SetBaseTime(base.UnixMilli())
	for _, step := range []func() error{
		func() error { return lw.OutputStartTime(base.UnixMilli()) },
		func() error { return lw.OutputBaseTime(base.UnixMilli()) },
		lw.OutputLegend,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	var want []resultfmt.LogInterval
	for ms := range 1000 {
		start := base.Add(time.Duration(ms)*time.Millisecond + time.Duration(ms%7)*time.Hour)
		h := hdrhistogram.New(1, 100_000, 2) // small: a thousand of them
		for v := range ms%5 + 1 {
			if err := h.RecordValue(int64(100 + ms + v)); err != nil {
				t.Fatal(err)
			}
		}
		h.SetStartTimeMs(start.UnixMilli())
		h.SetEndTimeMs(start.Add(time.Second).UnixMilli())
		tag := []string{"HARTBEAT", "HARTBEAT.warmup"}[ms%2]
		h.SetTag(tag)
		if err := lw.OutputIntervalHistogram(h); err != nil {
			t.Fatal(err)
		}
		want = append(want, resultfmt.LogInterval{Tag: tag, Start: start, End: start.Add(time.Second), Hist: h})
	}
	got, err := resultfmt.ReadIntervalLog(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d intervals, wrote %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Tag != w.Tag || !slices.Equal(g.Hist.Export().Counts, w.Hist.Export().Counts) {
			t.Errorf("interval %d: %s %s–%s (%d values), wrote %s %s–%s (%d values)", i, g.Tag, g.Start, g.End, g.Hist.TotalCount(), w.Tag, w.Start, w.End, w.Hist.TotalCount())
		}
	}
}

// TestReadLogErrors: a histogram that does not decode is an error naming the interval;
// lines that hold no interval are passed over.
func TestReadLogErrors(t *testing.T) {
	header := "#[BaseTime: 1767323045 (seconds since epoch)]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
	tests := []struct {
		name, log string
		n         int    // intervals read
		want      string // part of the error; "" for none
	}{
		{"no intervals", header, 0, ""},
		{"bad histogram", header + "Tag=HARTBEAT,0.000,1.000,0.1,HISTFAAAAbad\n", 0, "interval 1:"},
		{"a tag alone", header + "Tag=HARTBEAT\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ivs, err := resultfmt.ReadIntervalLog(strings.NewReader(tt.log))
			if len(ivs) != tt.n || (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%d intervals, error %v; want %d, %q", len(ivs), err, tt.n, tt.want)
			}
		})
	}
}

// logShard writes a shard's run folder holding result.json and interval logs with the
// given intervals (uncorrected ones too when uncorrected), and returns it as an Input.
func logShard(t *testing.T, index, count int, ivs []loadgen.Interval, uncorrected bool) merge.Input {
	t.Helper()
	in := handShard(index, count, nil)
	w, err := resultfmt.Create(t.TempDir(), "ping")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.LogUncorrected = uncorrected
	for _, iv := range ivs {
		if err := w.Interval(iv); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := w.Finish(in.Result)
	if err != nil {
		t.Fatal(err)
	}
	in.Dir = dir
	return in
}

// second is one interval of value µs, n times, of HARTBEAT (warm-up's when warmup),
// starting at.
func second(at time.Time, value int64, n int, warmup bool) loadgen.Interval {
	return loadgen.Interval{
		Start: at, End: at.Add(time.Second), Command: protocol.Heartbeat, Warmup: warmup,
		Corrected:   resultfixture.Spread(n, value, 1),
		Uncorrected: resultfixture.Spread(n, value/2, 1),
	}
}

// TestMergeLogsAlignedByAbsoluteTime merges three shards' logs whose intervals start at
// known offsets, in logs with different base times: A at T, T+1 s, T+2 s (and its
// warm-up at T); B 300 ms later than A, from T+0.3 s to T+3.3 s, in a log based a second
// later; C a whole second later, at T+2 s and T+3 s. Each merged second of the grid from
// T holds the intervals that start in it, once per tag.
func TestMergeLogsAlignedByAbsoluteTime(t *testing.T) {
	T := t0.Add(800 * time.Millisecond)
	at := func(s float64) time.Time { return T.Add(time.Duration(s * float64(time.Second))) }
	a := []loadgen.Interval{second(at(0), 100, 1, true), second(at(0), 100, 10, false), second(at(1), 100, 11, false), second(at(2), 100, 12, false)}
	b := []loadgen.Interval{second(at(0.3), 200, 20, false), second(at(1.3), 200, 21, false), second(at(2.3), 200, 22, false), second(at(3.3), 200, 23, false)}
	c := []loadgen.Interval{second(at(2), 300, 30, false), second(at(3), 300, 31, false)}
	in := []merge.Input{logShard(t, 0, 3, a, true), logShard(t, 1, 3, b, false), logShard(t, 2, 3, c, false)}

	ivs, notes, err := merge.Logs(in)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(parts ...loadgen.Interval) *hdrhistogram.Histogram {
		h := loadgen.NewHistogram()
		for _, p := range parts {
			h.Merge(p.Corrected)
		}
		return h
	}
	wantSlots := []struct {
		start  time.Time
		warmup bool
		hist   *hdrhistogram.Histogram
	}{
		{at(0), true, sum(a[0])},
		{at(0), false, sum(a[1], b[0])},
		{at(1), false, sum(a[2], b[1])},
		{at(2), false, sum(a[3], b[2], c[0])},
		{at(3), false, sum(b[3], c[1])},
	}
	if len(ivs) != len(wantSlots) {
		t.Fatalf("%d merged intervals, want %d", len(ivs), len(wantSlots))
	}
	for i, w := range wantSlots {
		g := ivs[i]
		if !g.Start.Equal(w.start) || !g.End.Equal(w.start.Add(time.Second)) || g.Warmup != w.warmup || g.Command != protocol.Heartbeat {
			t.Errorf("interval %d: %s warm-up %v %s–%s, want warm-up %v from %s", i, g.Command, g.Warmup, g.Start, g.End, w.warmup, w.start)
		}
		if !slices.Equal(g.Corrected.Export().Counts, w.hist.Export().Counts) {
			t.Errorf("interval %d at %s: %d values (min %d max %d), want %d (min %d max %d)", i, g.Start,
				g.Corrected.TotalCount(), g.Corrected.Min(), g.Corrected.Max(), w.hist.TotalCount(), w.hist.Min(), w.hist.Max())
		}
	}
	if want := []string{"shard 2/3 has no HARTBEAT.uncorrected.hlog", "shard 3/3 has no HARTBEAT.uncorrected.hlog"}; len(notes) != 2 ||
		!strings.HasPrefix(notes[0], want[0]) || !strings.HasPrefix(notes[1], want[1]) {
		t.Errorf("notes %q, want %q", notes, want)
	}
	if u := ivs[2].Uncorrected; u == nil || u.TotalCount() != 11 {
		t.Errorf("second 1's uncorrected histogram %v: want shard 1/3's 11 values", u)
	}

	// Written and read back: one log per command, on the grid, each second once per tag.
	r, err := merge.Results(in, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	if err := merge.Write(out, r, ivs); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"HARTBEAT.hlog", "HARTBEAT.uncorrected.hlog"} {
		f, err := os.Open(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		back, err := resultfmt.ReadIntervalLog(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != len(wantSlots) {
			t.Fatalf("%s holds %d intervals, want %d", file, len(back), len(wantSlots))
		}
		for i, w := range wantSlots {
			tag := resultfmt.LogTag("HARTBEAT", w.warmup)
			if g := back[i]; !g.Start.Equal(w.start) || g.Tag != tag || file == "HARTBEAT.hlog" && g.Hist.TotalCount() != w.hist.TotalCount() {
				t.Errorf("%s interval %d: %s at %s (%d values), want %s at %s (%d values)", file, i, g.Tag, g.Start, g.Hist.TotalCount(), tag, w.start, w.hist.TotalCount())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, "HARTBEAT.hgrm")); err != nil {
		t.Error(err)
	}
}
