package comparison

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/metric"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
)

// side makes one run per p50 (and throughput) value.
func side(p50 []int64, tput []float64) []*resultfmt.Result {
	var out []*resultfmt.Result
	for i := range p50 {
		out = append(out, synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{Tput: tput[i], P50: p50[i]})))
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
	old := []*resultfmt.Result{
		synthRun(synthMeta(), t0,
			one("steady", "HARTBEAT", fig{Tput: 100, P50: 100}),
			synthStage{Name: "steady", Cmds: []synthCmd{{Cmd: "GROUPADD", F: fig{Tput: 10, Untimed: true}}}},
			one("", "HARTBEAT", fig{Tput: 100, P50: 100}),
			one("ramp", "GROUPDIS", fig{Tput: 100, P50: 100})),
	}
	new := []*resultfmt.Result{
		synthRun(synthMeta(), t0.Add(time.Hour),
			one("steady", "HARTBEAT", fig{Tput: 100, P50: 100}),
			synthStage{Name: "steady", Cmds: []synthCmd{{Cmd: "GROUPADD", F: fig{Tput: 10, Untimed: true}}}},
			one("", "HARTBEAT", fig{Tput: 100, P50: 100}),
			one("soak", "GROUPDIS", fig{Tput: 100, P50: 100})),
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
		old, new []*resultfmt.Result
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
		edit  func(new *resultfmt.Result)
		which []int    // the new runs edited (of 0 and 1)
		want  []string // empty: no warning at all
	}{
		{"same setup", func(*resultfmt.Result) {}, []int{0, 1}, nil},
		{"scenario text", func(r *resultfmt.Result) {
			r.Meta.SetScenario("pipeline", "p.yaml", []byte("name: pipeline\nseed: 2\n"))
		}, []int{0, 1},
			[]string{"scenario differs: old pipeline (sha256 "}},
		{"transport", func(r *resultfmt.Result) { r.Meta.Transport = "zmq4" }, []int{0, 1}, []string{"transport differs: old native, new zmq4"}},
		{"broker mode", func(r *resultfmt.Result) { r.Meta.Target.BrokerMode = "dmb-0.2.1" }, []int{0, 1},
			[]string{"broker differs: old embedded broker, mode reference, new embedded broker, mode dmb-0.2.1"}},
		{"external", func(r *resultfmt.Result) { r.Meta.Target = resultfmt.Target{Address: "tcp://10.0.0.5:5557"} }, []int{0, 1},
			[]string{"broker differs: old embedded broker, mode reference, new external server"}},
		{"faults", func(r *resultfmt.Result) { r.Meta.Target.Faults = []string{"latency 3ms"} }, []int{0, 1}, []string{"faults differs: old none, new latency 3ms"}},
		{"GOMAXPROCS", func(r *resultfmt.Result) { r.Meta.GOMAXPROCS = 8 }, []int{0, 1}, []string{"GOMAXPROCS differs: old 2, new 8"}},
		{"mixed within a side", func(r *resultfmt.Result) { r.Meta.GOMAXPROCS = 8 }, []int{1},
			[]string{"new runs differ in GOMAXPROCS: 2 (1 run), 8 (1 run)"}},
		{"interrupted", func(r *resultfmt.Result) { r.Meta.Interrupted = true }, []int{1}, []string{"new: 1 of 2 runs were interrupted"}},
		{"bound", func(r *resultfmt.Result) { r.Generator.Bound = true }, []int{0, 1}, []string{"new: in 2 of 2 runs the generator could not keep up"}},
		{"same run twice", func(r *resultfmt.Result) { r.Meta.Start = t0 }, []int{0}, []string{"is on both sides"}},
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
	measure := func(faults broker.Faults) []*resultfmt.Result {
		var out []*resultfmt.Result
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
			out = append(out, resultfmt.FromLoadgen(meta, lr))
		}
		return out
	}
	old := measure(broker.Faults{})
	new := measure(broker.Faults{Latency: 3 * time.Millisecond})

	c, err := Compare(old, new, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
func micros(us float64) string { return metric.Microseconds.Format(us) }

// TestCompareSchemaVersions checks that runs written with different schema versions,
// across the sides or within one, are refused with the runs of each version named and
// the side to run again, whatever SchemaVersion is.
func TestCompareSchemaVersions(t *testing.T) {
	const cur = resultfmt.SchemaVersion
	runs := func(versions ...int) []*resultfmt.Result {
		var out []*resultfmt.Result
		for i, v := range versions {
			r := synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{Tput: 100, P50: 100}))
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
	old := &resultfmt.Set{Runs: runs(cur - 1), Dirs: []string{"a/set/run-1"}}
	new := &resultfmt.Set{Runs: runs(cur), Dirs: []string{"b/set/run-1"}}
	_, err := CompareSets(old, new, CompareOptions{})
	for _, w := range []string{fmt.Sprintf("schema %d: old a/set/run-1\n", cur-1), fmt.Sprintf("schema %d: new b/set/run-1\n", cur)} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("CompareSets error %v, want one with %q", err, w)
		}
	}
}
