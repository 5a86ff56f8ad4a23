package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
)

// dmbenchBinary builds the CLI once for the tests that need a real process (signals).
func dmbenchBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dmbench")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// onlyRun returns the single run folder under out.
func onlyRun(t *testing.T, out string) string {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		dirs = append(dirs, e.Name())
	}
	if len(dirs) != 1 || strings.HasPrefix(dirs[0], ".") {
		t.Fatalf("result folder holds %v, want one run folder", dirs)
	}
	return filepath.Join(out, dirs[0])
}

func TestValidateExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"validate", "keepalive-storm", "../../scenarios/testdata/minimal.good.yaml"}, exitOK},
		{[]string{"validate", "../../scenarios/testdata/values.bad.yaml"}, exitUsage},
		{[]string{"validate", "no-such-scenario"}, exitUsage},
		{[]string{"run", "../../scenarios/testdata/values.bad.yaml", "-o", "unused"}, exitUsage},
		{[]string{"run", "pipeline", "--no-such-flag"}, exitUsage},
		{[]string{"run", "pipeline", "--target", "tcp://127.0.0.1:5556", "--pause", "1s/5s"}, exitUsage},
		{[]string{"serve", "--port", "0"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := run(tt.args); got != tt.want {
				t.Errorf("exit code %d, want %d", got, tt.want)
			}
		})
	}
	if _, err := os.Stat("unused"); err == nil {
		t.Error("an invalid scenario created a result folder")
	}
}

// TestRunShortScenario runs a bundled scenario end to end against the embedded broker and
// reads the result back.
func TestRunShortScenario(t *testing.T) {
	out := t.TempDir()
	t.Setenv("CI", "true")
	if code := run([]string{"run", "pipeline", "--short", "-o", out, "--label", "broker=embedded"}); code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	dir := onlyRun(t, out)
	res, err := resultfmt.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Meta.Target.Embedded || res.Meta.Labels["broker"] != "embedded" || res.Meta.Scenario.Name != "pipeline" {
		t.Errorf("meta = %+v", res.Meta)
	}
	var ok uint64
	for _, s := range res.Stages {
		for _, c := range s.Commands {
			ok += c.Counts.OK
			if c.Counts.Errors() != 0 {
				t.Errorf("stage %s %s: %d errors against a healthy broker", s.Name, c.Command, c.Counts.Errors())
			}
		}
	}
	if ok == 0 {
		t.Error("no request succeeded")
	}
	for _, f := range []string{"result.json", "GROUPADD.hlog", "GROUPADD.hgrm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestRunInterrupted sends SIGINT to a running dmbench: it must exit 130 and leave a
// complete, readable result of what it gathered.
func TestRunInterrupted(t *testing.T) {
	bin := dmbenchBinary(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", "group-churn", "--clients", "4", "-o", out)
	cmd.Env = append(os.Environ(), "CI=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("dmbench did not stop within 30 s of SIGINT\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit code %d, want %d\n%s", code, exitInterrupted, stderr.String())
	}
	dir := onlyRun(t, out)
	res, err := resultfmt.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	// group-churn warms up for its first seconds: count what was sent in warm-up and stages.
	var sent, answered uint64
	stages := res.Stages
	if res.Warmup != nil {
		stages = append(stages, *res.Warmup)
	}
	for _, s := range stages {
		for _, c := range s.Commands {
			sent += c.Counts.Sent
			answered += c.Counts.OK + c.Counts.Exceptions + c.Counts.Unexpected + c.Counts.Timeouts + c.Counts.Abandoned
		}
	}
	if !res.Meta.Interrupted || sent == 0 || answered != sent {
		t.Errorf("interrupted result is incomplete: interrupted %v, %d sent, %d accounted for", res.Meta.Interrupted, sent, answered)
	}
	if !strings.Contains(stdout.String(), "GROUPADD") {
		t.Errorf("no summary printed:\n%s", stdout.String())
	}
}

func TestRunJSONSummary(t *testing.T) {
	out := t.TempDir()
	t.Setenv("CI", "true")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	code := run([]string{"run", "pipeline", "--short", "--json", "-o", out})
	os.Stdout = stdout
	w.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r)
	if code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	var v map[string]any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatalf("--json printed something that is not JSON: %v\n%s", err, buf.String())
	}
}

// TestRunRepeatWritesASet runs a scenario three times into one result set, which
// resultfmt.ReadSet reads back as three runs.
func TestRunRepeatWritesASet(t *testing.T) {
	out := t.TempDir()
	t.Setenv("CI", "true")
	if code := run([]string{"run", "testdata/tiny.yaml", "--short", "--repeat", "3", "-o", out}); code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	set := onlyRun(t, out)
	runs, err := resultfmt.ReadSet(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("the set holds %d runs, want 3", len(runs))
	}
	for _, r := range runs {
		if r.Meta.Scenario.Name != "tiny" || !r.Meta.Target.Embedded {
			t.Errorf("run meta %+v", r.Meta)
		}
	}
}

// TestRunThresholds checks objectives that cannot hold (p99 under a nanosecond) and ones
// that always hold on a healthy broker, so the verdict does not depend on machine noise.
func TestRunThresholds(t *testing.T) {
	t.Setenv("CI", "true")
	tests := []struct {
		thresholds []string
		want       int
	}{
		{[]string{"p99<1ns"}, exitThreshold},
		{[]string{"p99<60s", "errors<50%"}, exitOK},
		{[]string{"p99<fast"}, exitUsage},
		{[]string{"server-p99<60s"}, exitOK},        // the embedded broker reports its service time
		{[]string{"server-p99<1ns"}, exitThreshold}, // and it is never that fast
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.thresholds, " "), func(t *testing.T) {
			args := []string{"run", "testdata/tiny.yaml", "--short", "-o", t.TempDir()}
			for _, th := range tt.thresholds {
				args = append(args, "--threshold", th)
			}
			if got := run(args); got != tt.want {
				t.Errorf("exit code %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRunServerView checks the server view end to end: the reference broker's reports
// join the client's counts exactly over the whole run; DMB 0.2.1 (compat mode) sends no
// report, which the result says, and the run goes on; --server-view off never asks.
func TestRunServerView(t *testing.T) {
	t.Setenv("CI", "true")
	tests := []struct {
		name      string
		args      []string
		available bool
		noReport  string // a part of the reason, when no report
	}{
		{"reference", nil, true, ""},
		{"compat", []string{"--compat", "dmb-0.2.1"}, false, "echo"},
		{"off", []string{"--server-view", "off"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"run", "testdata/tiny.yaml", "--short", "-o", out}, tt.args...)
			if code := run(args); code != exitOK {
				t.Fatalf("exit code %d", code)
			}
			res, err := resultfmt.Read(onlyRun(t, out))
			if err != nil {
				t.Fatal(err)
			}
			sv := res.ServerView
			if tt.name == "off" {
				if sv != nil && len(sv.Snapshots) > 0 {
					t.Errorf("--server-view off sent %d PERFMNCE", sv.Sent)
				}
				return
			}
			if sv == nil || sv.Available != tt.available || !strings.Contains(sv.NoReport, tt.noReport) {
				t.Fatalf("server view %+v, want available %v with a reason containing %q", sv, tt.available, tt.noReport)
			}
			if !tt.available {
				if sv.Sent != 1 {
					t.Errorf("asked %d times after the first echo, want once", sv.Sent)
				}
				return
			}
			if sv.Total == nil || !sv.Total.Exact {
				t.Fatalf("no exact whole-run join: %+v", sv.Total)
			}
			for _, c := range sv.Total.Commands {
				if c.Server == nil || c.ClientSent != c.Server.Received || c.ClientOK != c.Server.Completed {
					t.Errorf("%s: client sent %d ok %d, server %+v: the counts should join exactly", c.Command, c.ClientSent, c.ClientOK, c.Server)
				}
			}
		})
	}
}
