package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCIGateScript runs examples/ci/gate.sh, the example CI gate, against two `dmbench
// serve` processes, one of them delaying every reply by 3 ms: with the slow one as the
// broker under test the gate fails with compare's exit code 4; with the same broker on
// both sides it passes. Either way it leaves the artifacts it documents.
//
// Five 0.5 s runs a side of testdata/tiny.yaml. The rule is p50:+1ms rather than the
// script's default p50:+20%: the 3 ms delay exceeds either, and an absolute rule cannot
// trip on a same-broker comparison that drifts under the rest of the suite's load.
func TestCIGateScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "examples", "ci", "gate.sh"))
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := filepath.Abs(filepath.Join("testdata", "tiny.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bin := dmbenchBinary(t)
	fast := serveProcess(t, bin)
	slow := serveProcess(t, bin, "--latency", "3ms")

	tests := []struct {
		name      string
		newTarget string
		wantExit  int
		wantOut   string
	}{
		{"slower broker fails the gate", slow, 4, "tiny: REGRESSION beyond --fail-on"},
		{"same broker passes", fast, 0, "tiny: no regression beyond the rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(),
				"DMBENCH="+bin, "OLD_TARGET="+fast, "NEW_TARGET="+tt.newTarget,
				"SCENARIOS="+tiny, "RUNS=5", "FAIL_ON=p50:+1ms", "OUT="+out, "BENCH_COUNT=0",
				"GITHUB_STEP_SUMMARY=")
			output, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantExit || !strings.Contains(string(output), tt.wantOut) {
				t.Fatalf("gate.sh exited %d, want %d and %q; it printed:\n%s", code, tt.wantExit, tt.wantOut, output)
			}
			for _, f := range []string{"old", "new", "run-old.txt", "run-new.txt", "compare.txt", "compare.html"} {
				if _, err := os.Stat(filepath.Join(out, "tiny", f)); err != nil {
					t.Errorf("artifact: %v", err)
				}
			}
		})
	}
}

// serveProcess starts `dmbench serve` with args on a free port, waits until it listens
// and returns its base address; the test's cleanup stops it with SIGTERM.
func serveProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	base := freePort(t) - 1
	cmd := exec.Command(bin, append([]string{"serve", "--port", strconv.Itoa(base)}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("dmbench serve did not stop within 10s of SIGTERM")
		}
	})
	ready := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "stop with") {
				ready <- lines
				lines = nil
			}
		}
		ready <- lines
		stopped <- cmd.Wait()
	}()
	select {
	case lines := <-ready:
		if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "stop with") {
			t.Fatalf("dmbench serve %v did not start; it printed:\n%s", args, strings.Join(lines, "\n"))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("dmbench serve %v did not start within 10s", args)
	}
	return "tcp://127.0.0.1:" + strconv.Itoa(base)
}
