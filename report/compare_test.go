package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
)

// synthMeta is the metadata of the synthetic runs compared below.
func synthMeta() Meta {
	m := Meta{
		Tool: "dmbench", ToolVersion: "v0.1.0", GoVersion: "go1.26.8", Host: "bench-1",
		OS: "linux", Arch: "amd64", NumCPU: 2, GOMAXPROCS: 2, Transport: "native",
		Target: Target{Address: "tcp://127.0.0.1:40001", Embedded: true, BrokerMode: "reference"},
	}
	m.SetScenario("pipeline", "bundled:pipeline", []byte("name: pipeline\n"))
	return m
}

// fig is one run's figures of one command.
type fig struct {
	tput      float64 // OK/s
	p50       int64   // µs; p99 is 3×, p99.9 10×
	sent, err uint64
	untimed   bool // sent without ack: no latency
}

// synthRun builds a result with one stage per entry of stages, each holding commands.
func synthRun(meta Meta, start time.Time, stages ...synthStage) *Result {
	r := &Result{Meta: meta, Stages: []StageResult{}, Stalls: []Stall{}}
	r.Meta.SchemaVersion = SchemaVersion
	r.Meta.Start, r.Meta.End = start, start.Add(10*time.Second)
	for _, s := range stages {
		sr := StageResult{Name: s.name, DurationUS: 10_000_000, MeasuredStart: start, MeasuredUS: 10_000_000}
		for _, c := range s.cmds {
			sent := c.f.sent
			if sent == 0 {
				sent = 10_000
			}
			cr := CommandResult{
				Command:        c.cmd,
				Counts:         Counts{Sent: sent, OK: sent - c.f.err, Timeouts: c.f.err},
				ThroughputPerS: c.f.tput,
			}
			if c.f.untimed {
				cr.Counts = Counts{Sent: sent, NoAck: sent}
			} else {
				cr.Corrected = Latency{Count: int64(sent), P50US: c.f.p50, P90US: 2 * c.f.p50, P99US: 3 * c.f.p50, P999US: 10 * c.f.p50, MaxUS: 20 * c.f.p50, MeanUS: float64(c.f.p50)}
			}
			sr.Commands = append(sr.Commands, cr)
		}
		r.Stages = append(r.Stages, sr)
	}
	return r
}

type synthStage struct {
	name string
	cmds []synthCmd
}

type synthCmd struct {
	cmd string
	f   fig
}

func one(stage, cmd string, f fig) synthStage {
	return synthStage{stage, []synthCmd{{cmd, f}}}
}

// side makes one run per p50 (and throughput) value.
func side(p50 []int64, tput []float64) []*Result {
	var out []*Result
	for i := range p50 {
		out = append(out, synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{tput: tput[i], p50: p50[i]})))
	}
	return out
}

// normal draws n values from N(mean, sd) with a fixed seed.
func normal(seed uint64, n int, mean, sd float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*rng.NormFloat64()
	}
	return out
}

func ints(fs []float64) []int64 {
	out := make([]int64, len(fs))
	for i, f := range fs {
		out[i] = int64(math.Round(f))
	}
	return out
}

func findRow(t *testing.T, c *Comparison, stage, cmd, metric string) *CompareRow {
	t.Helper()
	for i := range c.Rows {
		if r := &c.Rows[i]; r.Stage == stage && r.Command == cmd && r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row %s/%s %s in %d rows", stage, cmd, metric, len(c.Rows))
	return nil
}

// TestCompareStatistics checks the verdicts on samples drawn with fixed seeds: equal
// distributions are not significant, shifted ones are, with the sign of the shift.
func TestCompareStatistics(t *testing.T) {
	tests := []struct {
		name             string
		n                int
		oldP50, newP50   float64 // means; sd 3%
		oldTput, newTput float64
		metric           string
		wantSignificant  bool
		wantSign         string // first byte of Delta when significant
		wantVerdict      string
		wantWarning      string // in the row's warnings
	}{
		{name: "equal latency", n: 8, oldP50: 1000, newP50: 1000, oldTput: 500, newTput: 500, metric: "p50", wantVerdict: "~"},
		{name: "equal throughput", n: 8, oldP50: 1000, newP50: 1000, oldTput: 500, newTput: 500, metric: "throughput", wantVerdict: "~"},
		{name: "latency up is worse", n: 8, oldP50: 1000, newP50: 1300, oldTput: 500, newTput: 500, metric: "p50", wantSignificant: true, wantSign: "+", wantVerdict: "worse"},
		{name: "p99 follows", n: 6, oldP50: 1000, newP50: 1300, oldTput: 500, newTput: 500, metric: "p99", wantSignificant: true, wantSign: "+", wantVerdict: "worse"},
		{name: "latency down is better", n: 5, oldP50: 1000, newP50: 700, oldTput: 500, newTput: 500, metric: "p50", wantSignificant: true, wantSign: "-", wantVerdict: "better"},
		{name: "throughput down is worse", n: 5, oldP50: 1000, newP50: 1000, oldTput: 500, newTput: 400, metric: "throughput", wantSignificant: true, wantSign: "-", wantVerdict: "worse"},
		{name: "throughput up is better", n: 5, oldP50: 1000, newP50: 1000, oldTput: 400, newTput: 500, metric: "throughput", wantSignificant: true, wantSign: "+", wantVerdict: "better"},
		{name: "three runs cannot tell", n: 3, oldP50: 1000, newP50: 2000, oldTput: 500, newTput: 500, metric: "p50", wantVerdict: "~", wantWarning: "need >= 4 samples to detect a difference"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(100 * i)
			old := side(ints(normal(seed+1, tt.n, tt.oldP50, 0.03*tt.oldP50)), normal(seed+2, tt.n, tt.oldTput, 0.03*tt.oldTput))
			new := side(ints(normal(seed+3, tt.n, tt.newP50, 0.03*tt.newP50)), normal(seed+4, tt.n, tt.newTput, 0.03*tt.newTput))
			c, err := Compare(old, new, CompareOptions{Metrics: []string{tt.metric}})
			if err != nil {
				t.Fatal(err)
			}
			r := findRow(t, c, "steady", "HARTBEAT", tt.metric)
			if r.Significant != tt.wantSignificant {
				t.Errorf("significant = %v (p=%.4f), want %v", r.Significant, r.P, tt.wantSignificant)
			}
			if tt.wantSignificant && !strings.HasPrefix(r.Delta, tt.wantSign) {
				t.Errorf("delta %q, want sign %s", r.Delta, tt.wantSign)
			}
			if !tt.wantSignificant && r.Delta != "~" {
				t.Errorf("delta %q, want ~", r.Delta)
			}
			if r.Verdict != tt.wantVerdict {
				t.Errorf("verdict %q, want %q", r.Verdict, tt.wantVerdict)
			}
			if r.Old.N() != tt.n || r.New.N() != tt.n {
				t.Errorf("n = %d+%d, want %d each", r.Old.N(), r.New.N(), tt.n)
			}
			if tt.wantWarning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tt.wantWarning) {
				t.Errorf("warnings %q lack %q", r.Warnings, tt.wantWarning)
			}
			// The change follows the medians.
			if want := (r.New.Center/r.Old.Center - 1) * 100; math.Abs(r.Change-want) > 1e-9 {
				t.Errorf("change %.3f%%, want %.3f%%", r.Change, want)
			}
		})
	}
}

// TestCompareMedianInterval checks the summary against values worked out by hand: the
// median of 1..9 is 5, and its 95% interval from 9 runs is the 2nd to 8th value.
func TestCompareMedianInterval(t *testing.T) {
	var p50 []int64
	var tput []float64
	for _, v := range []int64{9, 1, 8, 2, 7, 3, 6, 4, 5} {
		p50 = append(p50, v*100)
		tput = append(tput, 1000)
	}
	c, err := Compare(side(p50, tput), side(p50, tput), CompareOptions{Metrics: []string{"p50"}})
	if err != nil {
		t.Fatal(err)
	}
	r := findRow(t, c, "steady", "HARTBEAT", "p50")
	tests := []struct {
		name      string
		got, want float64
	}{
		{"median", r.Old.Center, 500},
		{"low", r.Old.Lo, 200},
		{"high", r.Old.Hi, 800},
		{"p of identical sides", r.P, 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if r.Old.Confidence < 0.95 {
		t.Errorf("confidence %v below the 0.95 asked for", r.Old.Confidence)
	}
	if r.Old.RangeString() != "60%" {
		t.Errorf("range %q, want 60%% (max(800/500−1, 1−200/500))", r.Old.RangeString())
	}
}

func TestCompareMatching(t *testing.T) {
	old := []*Result{
		synthRun(synthMeta(), t0,
			one("steady", "HARTBEAT", fig{tput: 100, p50: 100}),
			synthStage{"steady", []synthCmd{{"GROUPADD", fig{tput: 10, untimed: true}}}},
			one("", "HARTBEAT", fig{tput: 100, p50: 100}),
			one("ramp", "GROUPDIS", fig{tput: 100, p50: 100})),
	}
	new := []*Result{
		synthRun(synthMeta(), t0.Add(time.Hour),
			one("steady", "HARTBEAT", fig{tput: 100, p50: 100}),
			synthStage{"steady", []synthCmd{{"GROUPADD", fig{tput: 10, untimed: true}}}},
			one("", "HARTBEAT", fig{tput: 100, p50: 100}),
			one("soak", "GROUPDIS", fig{tput: 100, p50: 100})),
	}
	c, err := Compare(old, new, CompareOptions{Metrics: []string{"p50", "errors"}})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ stage, cmd, metric string }
	got := map[key]*CompareRow{}
	for i := range c.Rows {
		r := &c.Rows[i]
		got[key{r.Stage, r.Command, r.Metric}] = r
	}
	tests := []struct {
		k            key
		exists       bool
		oldN, newN   int
		wantVerdict  string
		wantNoChange bool
	}{
		{key{"steady", "HARTBEAT", "p50"}, true, 1, 1, "~", false},
		{key{"steady#2", "GROUPADD", "errors"}, true, 1, 1, "~", false},
		{key{"steady#2", "GROUPADD", "p50"}, false, 0, 0, "", false}, // nothing timed: no latency row
		{key{"stage 3", "HARTBEAT", "p50"}, true, 1, 1, "~", false},
		{key{"ramp", "GROUPDIS", "p50"}, true, 1, 0, "", true},
		{key{"soak", "GROUPDIS", "p50"}, true, 0, 1, "", true},
	}
	for _, tt := range tests {
		r, ok := got[tt.k]
		if ok != tt.exists {
			t.Errorf("%v: row exists = %v, want %v", tt.k, ok, tt.exists)
			continue
		}
		if !ok {
			continue
		}
		if r.Old.N() != tt.oldN || r.New.N() != tt.newN || r.Verdict != tt.wantVerdict {
			t.Errorf("%v: n %d+%d verdict %q, want %d+%d %q", tt.k, r.Old.N(), r.New.N(), r.Verdict, tt.oldN, tt.newN, tt.wantVerdict)
		}
		if tt.wantNoChange && (r.Comparable() || !math.IsNaN(r.Change) || r.Delta != "") {
			t.Errorf("%v: one-sided row has a change: %v %q", tt.k, r.Change, r.Delta)
		}
	}
}

func TestCompareRejects(t *testing.T) {
	runs := side([]int64{100}, []float64{1})
	tests := []struct {
		name     string
		old, new []*Result
		opts     CompareOptions
		want     string
	}{
		{"empty old", nil, runs, CompareOptions{}, "at least one"},
		{"empty new", runs, nil, CompareOptions{}, "at least one"},
		{"unknown metric", runs, runs, CompareOptions{Metrics: []string{"p42"}}, `unknown metric "p42": use one of throughput, p50`},
		{"bad alpha", runs, runs, CompareOptions{Alpha: 2}, "between 0 and 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compare(tt.old, tt.new, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCompareSetupWarnings(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(new *Result)
		which []int    // the new runs edited (of 0 and 1)
		want  []string // empty: no warning at all
	}{
		{"same setup", func(*Result) {}, []int{0, 1}, nil},
		{"scenario text", func(r *Result) { r.Meta.SetScenario("pipeline", "p.yaml", []byte("name: pipeline\nseed: 2\n")) }, []int{0, 1},
			[]string{"scenario differs: old pipeline (sha256 "}},
		{"transport", func(r *Result) { r.Meta.Transport = "zmq4" }, []int{0, 1}, []string{"transport differs: old native, new zmq4"}},
		{"broker mode", func(r *Result) { r.Meta.Target.BrokerMode = "dmb-0.2.1" }, []int{0, 1},
			[]string{"broker differs: old embedded broker, mode reference, new embedded broker, mode dmb-0.2.1"}},
		{"external", func(r *Result) { r.Meta.Target = Target{Address: "tcp://10.0.0.5:5557"} }, []int{0, 1},
			[]string{"broker differs: old embedded broker, mode reference, new external server"}},
		{"faults", func(r *Result) { r.Meta.Target.Faults = []string{"latency 3ms"} }, []int{0, 1}, []string{"faults differs: old none, new latency 3ms"}},
		{"GOMAXPROCS", func(r *Result) { r.Meta.GOMAXPROCS = 8 }, []int{0, 1}, []string{"GOMAXPROCS differs: old 2, new 8"}},
		{"mixed within a side", func(r *Result) { r.Meta.GOMAXPROCS = 8 }, []int{1},
			[]string{"new runs differ in GOMAXPROCS: 2 (1 run), 8 (1 run)"}},
		{"interrupted", func(r *Result) { r.Meta.Interrupted = true }, []int{1}, []string{"new: 1 of 2 runs were interrupted"}},
		{"bound", func(r *Result) { r.Generator.Bound = true }, []int{0, 1}, []string{"new: in 2 of 2 runs the generator could not keep up"}},
		{"same run twice", func(r *Result) { r.Meta.Start = t0 }, []int{0}, []string{"is on both sides"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := side([]int64{100, 101}, []float64{1, 1})
			new := side([]int64{100, 101}, []float64{1, 1})
			for _, r := range new {
				r.Meta.Start = r.Meta.Start.Add(time.Hour)
			}
			for _, i := range tt.which {
				tt.edit(new[i])
			}
			c, err := Compare(old, new, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tt.want) {
				t.Errorf("%d warnings, want %d:\n%s", len(c.Warnings), len(tt.want), strings.Join(c.Warnings, "\n"))
			}
			for i, w := range tt.want {
				if i < len(c.Warnings) && !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %q lacks %q", c.Warnings[i], w)
				}
			}
		})
	}
}

// goldenComparison is a fixed comparison holding every kind of row: a significant
// regression, a change that is not significant, all-equal values, a command without
// latency, a stage on one side only, and a setup difference.
func goldenComparison(t *testing.T) *Comparison {
	t.Helper()
	oldP50 := []int64{100, 102, 98, 101, 99, 103}
	newP50 := []int64{130, 128, 133, 131, 129, 127}
	oldTput := []float64{1000, 1001, 999, 1000, 1002, 998}
	newTput := []float64{1000, 999, 1001, 1000, 1003, 998}
	var old, new []*Result
	for i := range oldP50 {
		m := synthMeta()
		m.Labels = map[string]string{"broker": "0.2.1", "run": string(rune('a' + i))}
		old = append(old, synthRun(m, t0.Add(time.Duration(i)*time.Minute),
			synthStage{"steady", []synthCmd{
				{"HARTBEAT", fig{tput: oldTput[i], p50: oldP50[i]}},
				{"GROUPADD", fig{tput: 50, sent: 500, untimed: true}},
			}},
			one("ramp", "GROUPDIS", fig{tput: 200, p50: 2000 + int64(i)*10})))
		m = synthMeta()
		m.Labels = map[string]string{"broker": "0.3.0"}
		m.Transport = "zmq4"
		new = append(new, synthRun(m, t0.Add(time.Hour+time.Duration(i)*time.Minute),
			synthStage{"steady", []synthCmd{
				{"HARTBEAT", fig{tput: newTput[i], p50: newP50[i], err: uint64(i % 2)}},
				{"GROUPADD", fig{tput: 50, sent: 500, untimed: true}},
			}}))
	}
	c, err := Compare(old, new, CompareOptions{OldName: "results/0.2.1", NewName: "results/0.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompareGolden(t *testing.T) {
	c := goldenComparison(t)
	tests := []struct {
		format Format
		file   string
		want   []string
		check  func(t *testing.T, out []byte)
	}{
		{FormatText, "compare.golden", []string{
			"warning: transport differs: old native, new zmq4",
			"+28.86% (p=0.002 n=6)",
			"~ (p=",
			"(old only)",
			"¹ all samples are equal",
		}, nil},
		{FormatMarkdown, "compare.md.golden", []string{"| steady | HARTBEAT | p50 |", "**+28.86%** worse", "old only"}, nil},
		{FormatJSON, "compare.json.golden", []string{`"verdict": "worse"`, `"ci_low": null`}, func(t *testing.T, out []byte) {
			var doc struct {
				Rows []struct {
					Metric string   `json:"metric"`
					Change *float64 `json:"change_pct"`
					Old    struct {
						Median *float64 `json:"median"`
						N      int      `json:"n"`
					} `json:"old"`
				} `json:"rows"`
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if len(doc.Rows) != len(c.Rows) || len(doc.Warnings) == 0 {
				t.Errorf("JSON holds %d rows and %d warnings, want %d rows and the warnings", len(doc.Rows), len(doc.Warnings), len(c.Rows))
			}
		}},
		{FormatCSV, "compare.csv.golden", []string{"stage,command,metric,unit,old_median"}, func(t *testing.T, out []byte) {
			recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatalf("not CSV: %v", err)
			}
			if len(recs) != len(c.Rows)+1 {
				t.Errorf("%d records, want a header and %d rows", len(recs), len(c.Rows))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteComparison(&buf, c, tt.format); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if tt.check != nil {
				tt.check(t, buf.Bytes())
			}
			golden(t, tt.file, buf.Bytes())
		})
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		err  bool
	}{
		{"text", FormatText, false},
		{"Markdown", FormatMarkdown, false},
		{"md", FormatMarkdown, false},
		{"json", FormatJSON, false},
		{"csv", FormatCSV, false},
		{"html", "", true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// writeRun writes r as a run folder under dir with a Writer and returns the folder.
func writeRun(t *testing.T, dir string, r *Result) string {
	t.Helper()
	w, err := Create(dir, r.Meta.Scenario.Name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Finish(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadSet(t *testing.T) {
	root := t.TempDir()
	set := filepath.Join(root, "set")
	var runs []string
	for i := 0; i < 3; i++ {
		runs = append(runs, writeRun(t, set, synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{tput: float64(i), p50: 100}))))
	}
	// A run still being written, and a folder that is no run, are passed over.
	if err := os.MkdirAll(filepath.Join(set, ".pipeline.tmp-123"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(set, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	single := writeRun(t, filepath.Join(root, "single"), synthRun(synthMeta(), t0.Add(time.Hour), one("steady", "HARTBEAT", fig{tput: 9, p50: 100})))
	empty := filepath.Join(root, "empty")
	if err := os.MkdirAll(filepath.Join(empty, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		paths    []string
		wantTput []float64 // the runs, by throughput
		wantErr  string
	}{
		{"set folder in name order", []string{set}, []float64{0, 1, 2}, ""},
		{"run folders", []string{runs[2], runs[0]}, []float64{2, 0}, ""},
		{"result.json", []string{filepath.Join(single, ResultFile)}, []float64{9}, ""},
		{"set and run", []string{set, single}, []float64{0, 1, 2, 9}, ""},
		{"nothing", nil, nil, "no folders given"},
		{"missing", []string{filepath.Join(root, "nope")}, nil, "does not exist"},
		{"no runs", []string{empty}, nil, "holds no result.json, no run folders (sub-folders with result.json) and no result set"},
		{"a run twice", []string{set, runs[1]}, nil, "is given twice"},
		{"result.json and its folder", []string{single, filepath.Join(single, ResultFile)}, nil, "is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSet(tt.paths...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var tput []float64
			for _, r := range got {
				tput = append(tput, r.Stages[0].Commands[0].ThroughputPerS)
			}
			if !slices.Equal(tput, tt.wantTput) {
				t.Errorf("runs %v, want %v", tput, tt.wantTput)
			}
		})
	}
}

// TestCompareRealRuns runs the embedded broker five times without and five times with
// an added reply latency of 3 ms, each a short open-loop run of HARTBEAT, and checks that
// Compare calls the p50 change a significant regression. Every run's p50 with the fault
// is at least the 3 ms it adds, while without it a run's p50 is the loopback round trip
// (well under 3 ms even on a loaded machine), so the two sides never overlap and the
// verdict does not depend on this machine's noise.
func TestCompareRealRuns(t *testing.T) {
	const runs = 5
	plan := loadgen.Plan{
		Name:    "compare-real",
		Seed:    1,
		Timeout: 2 * time.Second,
		Stages: []loadgen.Stage{{
			Name: "steady", Duration: 500 * time.Millisecond, Clients: 1,
			Open: &loadgen.Open{Rate: 200},
			Mix:  []loadgen.Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}},
		}},
	}
	measure := func(faults broker.Faults) []*Result {
		var out []*Result
		for i := 0; i < runs; i++ {
			srv, err := broker.Start(broker.Config{Addr: "tcp://127.0.0.1:0", Faults: faults})
			if err != nil {
				t.Fatalf("starting the broker: %v", err)
			}
			lr, err := loadgen.Run(context.Background(), loadgen.Config{Plan: plan, Addr: srv.Addr()})
			if cerr := srv.Close(); cerr != nil {
				t.Errorf("closing the broker: %v", cerr)
			}
			if err != nil {
				t.Fatalf("run %d: %v", i+1, err)
			}
			meta := synthMeta()
			meta.Target.Address = srv.Addr()
			if faults.Latency > 0 {
				meta.Target.Faults = []string{"latency " + faults.Latency.String()}
			}
			out = append(out, FromLoadgen(meta, lr))
		}
		return out
	}
	old := measure(broker.Faults{})
	new := measure(broker.Faults{Latency: 3 * time.Millisecond})

	c, err := Compare(old, new, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c, FormatText); err != nil {
		t.Fatal(err)
	}
	t.Logf("comparison:\n%s", buf.String())

	r := findRow(t, c, "steady", "HARTBEAT", "p50")
	if r.Old.N() != runs || r.New.N() != runs {
		t.Fatalf("n = %d+%d, want %d each", r.Old.N(), r.New.N(), runs)
	}
	if !r.Significant || !strings.HasPrefix(r.Delta, "+") || r.Verdict != "worse" {
		t.Errorf("p50 %s -> %s: delta %q, p=%.4f, verdict %q; want a significant regression with a + sign",
			micros(r.Old.Center), micros(r.New.Center), r.Delta, r.P, r.Verdict)
	}
	if r.New.Center < 3000 {
		t.Errorf("p50 with 3 ms added latency is %.0fµs, below 3 ms", r.New.Center)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "faults differs: old none, new latency 3ms") {
		t.Errorf("the fault difference is not warned about: %q", c.Warnings)
	}
	rule, err := ParseFailOn("p50:+10%")
	if err != nil {
		t.Fatal(err)
	}
	regs, err := rule.Check(c)
	if err != nil || len(regs) != 1 {
		t.Errorf("p50:+10%% found %v, %v; want the one regression", regs, err)
	}
}

// micros formats microseconds for test messages.
func micros(us float64) string { return Microseconds.Format(us) }

// TestLoadSetFolders checks what LoadSet makes of a folder that is no run and no set: the
// one set inside it is read in its place (as `run --repeat N -o DIR` leaves DIR), while
// several sets, or runs beside a set, are refused with a list of what is there.
func TestLoadSetFolders(t *testing.T) {
	run := func(i int) *Result {
		return synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{tput: float64(i), p50: 100}))
	}
	// set writes a set of n runs into dir/name and returns its folder.
	set := func(t *testing.T, dir, name string, n int) string {
		s := filepath.Join(dir, name)
		for i := 0; i < n; i++ {
			writeRun(t, s, run(i))
		}
		return s
	}
	mkdir := func(t *testing.T, dir string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		layout    func(t *testing.T, out string) (wantSet string) // writes out's contents
		wantRuns  int
		wantErr   []string
		wantNoErr string // a folder the error must not name
	}{
		{name: "one set", wantRuns: 2, layout: func(t *testing.T, out string) string {
			return set(t, out, "20261201T100000Z-pipeline-x2", 2)
		}},
		{name: "one set beside folders that are neither", wantRuns: 3, layout: func(t *testing.T, out string) string {
			mkdir(t, filepath.Join(out, "notes", "drafts"))
			writeRun(t, filepath.Join(out, ".20261201T090000Z-pipeline-x2"), run(9)) // hidden: a set being written
			return set(t, out, "20261201T100000Z-pipeline-x3", 3)
		}},
		{name: "several sets", layout: func(t *testing.T, out string) string {
			set(t, out, "20261201T100000Z-pipeline-x2", 2)
			set(t, out, "20261202T100000Z-pipeline-x3", 3)
			return ""
		}, wantErr: []string{"holds 2 result sets: 20261201T100000Z-pipeline-x2 (2 runs), 20261202T100000Z-pipeline-x3 (3 runs): name the one to read, e.g. ", "20261201T100000Z-pipeline-x2"}},
		{name: "runs beside a set", layout: func(t *testing.T, out string) string {
			writeRun(t, out, run(0))
			set(t, out, "zz-set", 2)
			return ""
		}, wantErr: []string{"holds both run folders and result sets", "1 run folder 20260102T030405", "1 result set zz-set (2 runs)", "name one set (e.g. "}},
		{name: "many sets are listed in part", layout: func(t *testing.T, out string) string {
			for i := 0; i < 10; i++ {
				set(t, out, fmt.Sprintf("set-%02d", i), 1)
			}
			return ""
		}, wantErr: []string{"holds 10 result sets: set-00 (1 run),", "set-07 (1 run) and 2 more"}, wantNoErr: "set-09"},
		{name: "nothing", layout: func(t *testing.T, out string) string {
			mkdir(t, filepath.Join(out, "a", "b"))
			return ""
		}, wantErr: []string{"holds no result.json, no run folders", "and no result set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			mkdir(t, out)
			wantSet := tt.layout(t, out)
			got, err := LoadSet(out)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("LoadSet read %d runs, want an error", len(got.Runs))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				if tt.wantNoErr != "" && strings.Contains(err.Error(), tt.wantNoErr) {
					t.Errorf("error names %q:\n%v", tt.wantNoErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []FoundSet{{Arg: out, Dir: wantSet, Runs: tt.wantRuns}}
			if len(got.Runs) != tt.wantRuns || len(got.Dirs) != tt.wantRuns || !slices.Equal(got.Found, want) {
				t.Fatalf("%d runs from %v, found %+v; want %d runs, found %+v", len(got.Runs), got.Dirs, got.Found, tt.wantRuns, want)
			}
			for _, d := range got.Dirs {
				if filepath.Dir(d) != wantSet {
					t.Errorf("run %s is not in the set %s", d, wantSet)
				}
			}
			// The set folder itself reads the same runs, with nothing found.
			direct, err := LoadSet(wantSet)
			if err != nil || len(direct.Runs) != tt.wantRuns || len(direct.Found) != 0 {
				t.Errorf("LoadSet(the set) = %+v, %v", direct, err)
			}
		})
	}
}

// TestCompareSchemaVersions checks that runs written with different schema versions,
// across the sides or within one, are refused with the runs of each version named and
// the side to run again, whatever SchemaVersion is.
func TestCompareSchemaVersions(t *testing.T) {
	const cur = SchemaVersion
	runs := func(versions ...int) []*Result {
		var out []*Result
		for i, v := range versions {
			r := synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{tput: 100, p50: 100}))
			r.Meta.SchemaVersion = v
			out = append(out, r)
		}
		return out
	}
	tests := []struct {
		name     string
		old, new []int
		wantErr  []string // nil: compared
	}{
		{name: "same version", old: []int{cur, cur}, new: []int{cur, cur}},
		{name: "old side older", old: []int{cur - 1, cur - 1}, new: []int{cur, cur},
			wantErr: []string{fmt.Sprintf("schema %d: old run 1 (started 2026-01-02T03:04:05Z on bench-1), old run 2", cur-1), fmt.Sprintf("schema %d: new run 1", cur), "re-run the old side with this dmbench"}},
		{name: "new side older", old: []int{cur}, new: []int{cur - 1},
			wantErr: []string{fmt.Sprintf("schema %d: new run 1", cur-1), "re-run the new side with this dmbench"}},
		{name: "within the old side", old: []int{cur, cur - 1, cur}, new: []int{cur},
			wantErr: []string{fmt.Sprintf("schema %d: old run 2 ", cur-1), fmt.Sprintf("schema %d: old run 1 (", cur), "re-run the old side"}},
		{name: "older on both sides", old: []int{cur, cur - 1}, new: []int{cur - 1, cur},
			wantErr: []string{fmt.Sprintf("re-run the runs of schema below %d on both sides", cur)}},
		{name: "neither is this dmbench's", old: []int{cur + 1}, new: []int{cur + 2},
			wantErr: []string{fmt.Sprintf("changed meaning between schema %d and schema %d", cur+1, cur+2), "re-run both sides"}},
		{name: "the window change", old: []int{1}, new: []int{2},
			wantErr: []string{"throughput and sent rates were computed over different windows before schema 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compare(runs(tt.old...), runs(tt.new...), CompareOptions{})
			if tt.wantErr == nil {
				if err != nil || len(c.Rows) == 0 {
					t.Fatalf("Compare = %d rows, %v; want a comparison", len(c.Rows), err)
				}
				return
			}
			if err == nil {
				t.Fatal("Compare compared runs of different schema versions")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}

	// CompareSets names the runs by their folders.
	old := &Set{Runs: runs(cur - 1), Dirs: []string{"a/set/run-1"}}
	new := &Set{Runs: runs(cur), Dirs: []string{"b/set/run-1"}}
	_, err := CompareSets(old, new, CompareOptions{})
	for _, w := range []string{fmt.Sprintf("schema %d: old a/set/run-1\n", cur-1), fmt.Sprintf("schema %d: new b/set/run-1\n", cur)} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("CompareSets error %v, want one with %q", err, w)
		}
	}
}
