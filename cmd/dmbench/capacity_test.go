package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmbench/dmbench/capacity"
	"github.com/dmbench/dmbench/resultfmt"
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
		{name: "bad precision", args: []string{"capacity", "testdata/tiny.yaml", "--slo", "p99<5ms", "--precision", "150%"}, want: exitUsage, wantErr: []string{"--precision"}},
	})
}

func stepsText(rep *capacity.Report) string {
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	return b.String()
}
