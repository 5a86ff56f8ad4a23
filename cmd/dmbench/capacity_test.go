package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/capacity"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/scenarios"
)

// readCapacity returns the report a capacity search printed as JSON, and checks the
// result set it names holds a run folder for each step, capacity.json and the chart.
func readCapacity(t *testing.T, stdout, stderr string) *capacity.Report {
	t.Helper()
	var rep capacity.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("the JSON plan does not parse: %v\n%s\n%s", err, stdout, stderr)
	}
	if rep.Answer == nil {
		t.Fatalf("no answer in the plan:\n%s", stdout)
	}
	runs, err := resultfmt.ReadSet(rep.Set)
	if err != nil {
		t.Fatalf("the result set %s does not read as one: %v", rep.Set, err)
	}
	if len(runs) != len(rep.Answer.Steps) {
		t.Errorf("the result set holds %d runs for %d steps", len(runs), len(rep.Answer.Steps))
	}
	for _, f := range []string{"capacity.json", "capacity.svg"} {
		if fi, err := os.Stat(filepath.Join(rep.Set, f)); err != nil || fi.Size() == 0 {
			t.Errorf("the result set has no %s: %v", f, err)
		}
	}
	return &rep
}

// TestCapacityServiceTime searches the embedded broker with a service time S of 1 ms on
// its one worker: its capacity is 1/S = 1,000/s. With constant arrivals the wait stays near
// zero below it and grows without bound above it, so the rate found for p90 < 10·S must
// lie within 25% of 1/S (it is at most 1/S, less the broker's own overhead and the
// bisection's 10% precision).
func TestCapacityServiceTime(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := captureRun(t, "capacity", "testdata/tiny.yaml", "--service-time", "1ms", "--slo", "p90<10ms",
		"--start", "800/s", "--step", "500ms", "--warmup", "300ms", "--precision", "10%", "--repeats", "1", "--budget", "40s",
		"--format", "json", "-o", out)
	if code != exitOK {
		t.Fatalf("exit code %d\n%s", code, stderr)
	}
	rep := readCapacity(t, stdout, stderr)
	a := rep.Answer
	t.Logf("found %.0f/s (1/S = 1000/s), first fail %.0f/s, stop %s: %s", a.Level, a.Fail, a.Stop, a.Because)
	if !within(a.Level, 1000, 0.25) {
		t.Errorf("found %.0f/s, want 1000/s ± 25%%; steps:\n%s", a.Level, stepsText(rep))
	}
	if a.Stop != capacity.StopPrecision || !strings.Contains(a.Because, "p90") {
		t.Errorf("stopped for %s (%s), want the precision reached against p90", a.Stop, a.Because)
	}
	if a.Elapsed > a.Budget {
		t.Errorf("took %v of a budget of %v", a.Elapsed, a.Budget)
	}
	checkStepRates(t, rep)
}

// checkStepRates checks that each step's result.json keeps the step's own scenario: one
// stage at the step's rate, so that plot's scheduled rate is the step's, not the file's.
func checkStepRates(t *testing.T, rep *capacity.Report) {
	t.Helper()
	for _, s := range rep.Answer.Steps {
		if s.Dir == "" {
			t.Errorf("step %d names no run folder", s.N)
			continue
		}
		sc := recordedScenario(t, filepath.Join(rep.Set, s.Dir))
		if sc == nil {
			continue
		}
		if len(sc.Stages) != 1 || sc.Stages[0].Name != rep.Stage || sc.Stages[0].Open == nil || float64(sc.Stages[0].Open.Rate) != s.Level {
			t.Errorf("step %d at %v/s: its result keeps the scenario %+v, want one stage %s at that rate", s.N, s.Level, sc.Stages, rep.Stage)
		}
	}
}

// recordedScenario parses the scenario text a run's result.json keeps.
func recordedScenario(t *testing.T, dir string) *scenarios.Scenario {
	t.Helper()
	runs, err := resultfmt.ReadSet(dir)
	if err != nil || len(runs) != 1 {
		t.Errorf("%s: %d runs, %v", dir, len(runs), err)
		return nil
	}
	m := runs[0].Meta
	sc, err := scenarios.Parse(m.Scenario.File, []byte(m.Scenario.Text), scenarios.LoadOptions{})
	if err != nil {
		t.Errorf("%s: the scenario text kept does not parse: %v\n%s", dir, err, m.Scenario.Text)
		return nil
	}
	return sc
}

// fillScenario is a scenario whose one stage adds a new group with one member with each
// GROUPADD, so groups and memberships rise together.
const fillScenario = `name: fill
stages:
  - name: fill
    duration: 1s
    clients: 4
    rate: 4000/s
    mix:
      - command: GROUPADD
        group: {uniform: 10000000, prefix: "g."}
        channel: {sequential: 10000000, prefix: "c."}
`

// capacityMemory runs a short search with --memory on the fill scenario and returns the
// report it printed as JSON.
func capacityMemory(t *testing.T, extra ...string) *capacity.Report {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "fill.yaml")
	if err := os.WriteFile(file, []byte(fillScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"capacity", file, "--slo", "p50<100ms", "--start", "500/s", "--step", "300ms", "--warmup", "100ms",
		"--repeats", "0", "--budget", "4s", "--memory", "--fill", "4s", "--format", "json", "-o", filepath.Join(dir, "out")}, extra...)
	code, stdout, stderr := captureRun(t, args...)
	if code != exitOK {
		t.Fatalf("exit code %d\n%s\n%s", code, stdout, stderr)
	}
	var rep capacity.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("the JSON plan does not parse: %v\n%s\n%s", err, stdout, stderr)
	}
	if rep.Memory == nil {
		t.Fatalf("the plan has no memory sizing:\n%s\n%s", stdout, stderr)
	}
	var saved capacity.Report
	data, err := os.ReadFile(filepath.Join(rep.Set, "capacity.json"))
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if err != nil || saved.Memory == nil || saved.Memory.Sentence() != rep.Memory.Sentence() {
		t.Errorf("capacity.json does not keep the memory sizing (%v)", err)
	}
	t.Log(rep.Memory.Sentence())
	return &rep
}

// TestCapacityMemoryFill fills the embedded reference broker, which reports its RSS,
// groups and memberships, and checks the cost per membership is plausible (10 B to
// 10 KB) and projected; the fill's own result keeps its rate.
func TestCapacityMemoryFill(t *testing.T) {
	rep := capacityMemory(t)
	m := rep.Memory
	if m.Cannot != "" || m.Fit == nil {
		t.Fatalf("memory was not sized: %s", m.Sentence())
	}
	if m.Source != "the server's reports" || len(m.Points) < 4 || m.Estimated {
		t.Errorf("sized from %s over %d points (estimated %v), want the server's reports over 4 or more", m.Source, len(m.Points), m.Estimated)
	}
	if !m.Fit.Together || m.Fit.PerMembership < 10 || m.Fit.PerMembership > 10_000 {
		t.Errorf("fit %+v: want groups and memberships together, 10 B to 10 KB per membership", m.Fit)
	}
	if m.Project != 1_000_000 || !within(m.Projected, float64(m.Project)*m.Fit.PerMembership, 0.01) {
		t.Errorf("projected %v bytes for %d groups, want %d × %v (one membership each)", m.Projected, m.Project, m.Project, m.Fit.PerMembership)
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	if !strings.Contains(text.String(), "1,000,000 groups of 1 membership(s) would need ≈") {
		t.Errorf("the text plan gives no projection:\n%s", text.String())
	}
	checkStepRates(t, rep)
	if sc := recordedScenario(t, filepath.Join(rep.Set, m.Dir)); sc != nil && float64(sc.Stages[0].Open.Rate) != m.RatePerS {
		t.Errorf("the fill's result keeps the rate %v, want %v", sc.Stages[0].Open.Rate, m.RatePerS)
	}
}

// TestCapacityMemoryNoReport: DMB 0.2.1 sends no report, so without --server-pid memory
// cannot be sized and the plan says so; with this process's PID (the embedded broker
// lives in it) RSS is read from /proc and a figure is given.
func TestCapacityMemoryNoReport(t *testing.T) {
	m := capacityMemory(t, "--compat", "dmb-0.2.1").Memory
	if m.Fit != nil || !strings.Contains(m.Cannot, "no --server-pid was given") {
		t.Errorf("without a report or --server-pid: %s", m.Sentence())
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc here")
	}
	m = capacityMemory(t, "--compat", "dmb-0.2.1", "--server-pid", strconv.Itoa(os.Getpid())).Memory
	if m.Cannot != "" || m.Fit == nil || !m.Estimated || !strings.HasPrefix(m.Source, "/proc/") || len(m.Points) < 10 {
		t.Errorf("with --server-pid: %s (%d points)", m.Sentence(), len(m.Points))
	}
}

// TestCapacityPauseStalls: a broker that pauses 300 ms every second stalls (the stall
// threshold is 100 ms) at any rate, so the search stops for the stall, says it happened
// at every level tried, finds no rate and exits 3.
func TestCapacityPauseStalls(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := captureRun(t, "capacity", "testdata/tiny.yaml", "--pause", "300ms/1s", "--stall-threshold", "100ms",
		"--slo", "p50<100ms", "--step", "1s", "--warmup", "200ms", "--budget", "20s", "-o", out)
	if code != exitThreshold {
		t.Fatalf("exit code %d, want %d\n%s\n%s", code, exitThreshold, stdout, stderr)
	}
	if !strings.Contains(stdout, "stalled at every level tried (200/s and 100/s)") || !strings.Contains(stdout, "not a matter of load") {
		t.Errorf("the plan does not say the server stalled at every rate:\n%s", stdout)
	}
	if n := strings.Count(stdout, "FAIL stalled"); n != 2 {
		t.Errorf("%d steps failed for a stall, want 2:\n%s", n, stdout)
	}
}

// TestCapacityConnectionsFDLimit runs the connection search in a child whose
// file-descriptor limit is 256: with the broker embedded each connection takes two, so
// it holds (256 − 64 reserved) / 2 = 96 connections and must stop there, naming the
// limit as the generator's.
func TestCapacityConnectionsFDLimit(t *testing.T) {
	bin := dmbenchBinary(t)
	out := t.TempDir()
	cmd := exec.Command("bash", "-c", `ulimit -n 256 && exec "$@"`, "bash", bin, "capacity", "testdata/tiny.yaml", "--connections",
		"--conn-rate", "20/s", "--conn-start", "16", "--slo", "p50<50ms", "--step", "500ms", "--warmup", "200ms", "--repeats", "1",
		"--budget", "30s", "--format", "json", "-o", out)
	cmd.Env = append(os.Environ(), "CI=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitOK {
		t.Fatalf("exit code %d (%v)\n%s", code, err, stderr.String())
	}
	rep := readCapacity(t, stdout.String(), stderr.String())
	a := rep.Answer
	if a.Stop != capacity.StopLimit || a.Level != 96 {
		t.Errorf("stopped for %s at %v connections (%s); want the fd limit at 96\n%s", a.Stop, a.Level, a.Because, stepsText(rep))
	}
	for _, want := range []string{"RLIMIT_NOFILE) of 256", "generator's limit", "dmbench serve"} {
		if !strings.Contains(a.Because, want) {
			t.Errorf("the stop does not say %q: %s", want, a.Because)
		}
	}
}

func TestCapacityRefusesBeforeStarting(t *testing.T) {
	runCLICases(t, []cliCase{
		{name: "no objective", args: []string{"capacity", "testdata/tiny.yaml"}, want: exitUsage, wantErr: []string{"at least one objective"}},
		{name: "unknown stage", args: []string{"capacity", "testdata/tiny.yaml", "--slo", "p99<5ms", "--stage", "nope"}, want: exitUsage, wantErr: []string{"has no such stage"}},
		{name: "bad arrival", args: []string{"capacity", "testdata/tiny.yaml", "--slo", "p99<5ms", "--arrival", "bursty"}, want: exitUsage, wantErr: []string{"constant or poisson"}},
		{name: "bad fill", args: []string{"capacity", "testdata/tiny.yaml", "--slo", "p99<5ms", "--memory", "--fill", "0s"}, want: exitUsage, wantErr: []string{"--fill"}},
		{name: "bad precision", args: []string{"capacity", "testdata/tiny.yaml", "--slo", "p99<5ms", "--precision", "150%"}, want: exitUsage, wantErr: []string{"--precision"}},
	})
}

func stepsText(rep *capacity.Report) string {
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	return b.String()
}

// TestCapacityStepSource: every stage of every bundled scenario (anchors, merge keys and
// short overlays included) turned into a capacity step writes back as text that reads as
// the step, so each step's result.json keeps its own plan.
func TestCapacityStepSource(t *testing.T) {
	for _, info := range scenarios.Bundled() {
		name := info.Name
		sc, err := scenarios.Load(name, scenarios.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range sc.Stages {
			for _, poisson := range []bool{false, true} {
				step := stepScenario(sc, i, st.Clients+1, 1234.5, poisson, 700*time.Millisecond, 2500*time.Millisecond)
				if string(step.Source) == string(sc.Source) {
					t.Errorf("%s stage %s: the step keeps the file's text", name, st.Name)
					continue
				}
				back, err := scenarios.Parse(sc.File, step.Source, scenarios.LoadOptions{})
				if err != nil {
					t.Errorf("%s stage %s: the step's text does not parse: %v\n%s", name, st.Name, err, step.Source)
					continue
				}
				bs := back.Stages[0]
				if len(back.Stages) != 1 || bs.Name != st.Name || bs.Open.Rate != 1234.5 || bs.Duration != 3200*time.Millisecond ||
					bs.Clients != st.Clients+1 || back.Warmup != 700*time.Millisecond || (bs.Open.Arrival == scenarios.Poisson) != poisson {
					t.Errorf("%s stage %s: the step's text reads back as %+v, warm-up %v", name, st.Name, bs, back.Warmup)
				}
			}
		}
	}
}
