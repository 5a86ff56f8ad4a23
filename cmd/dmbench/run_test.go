package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/transport"
)

// captureRun is capture with CI set, as the runs in CI see it.
func captureRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("CI", "true")
	return capture(t, args...)
}

// commandRow returns the fields of cmd's row in the first stage table of a text summary.
func commandRow(t *testing.T, summary, cmd string) []string {
	t.Helper()
	for _, line := range strings.Split(summary, "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[0] == cmd {
			return f
		}
	}
	t.Fatalf("no %s row in the summary:\n%s", cmd, summary)
	return nil
}

func within(got, want, rel float64) bool { return got >= want*(1-rel) && got <= want*(1+rel) }

// TestRunRatesOverMeasuredWindow runs a constant 500/s stage whose first second is the
// warm-up: its throughput must be 500/s within 1% in result.json, the summary, a threshold
// and compare, since the counts exclude the warm-up and so must the time they divide by.
func TestRunRatesOverMeasuredWindow(t *testing.T) {
	const rate = 500.0
	out := t.TempDir()
	code, stdout, stderr := captureRun(t, "run", "testdata/warmup.yaml", "--repeat", "2", "-o", out, "--width", "120",
		"--threshold", "throughput>=495/s", "--threshold", "throughput<=505/s")
	if code != exitOK {
		t.Fatalf("exit code %d (a throughput threshold within 1%% of the rate missed?)\n%s", code, stderr)
	}
	set := onlyRun(t, out)
	runs, err := resultfmt.ReadSet(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		st := r.Stages[0]
		if got := st.Measured(); got < 2990*time.Millisecond || got > 3010*time.Millisecond {
			t.Errorf("measured window %v, want the 3 s after the 1 s warm-up", got)
		}
		c := st.Commands[0]
		if !within(c.ThroughputPerS, rate, 0.01) || !within(c.SentPerS, rate, 0.01) {
			t.Errorf("result.json: throughput %.1f/s, sent %.1f/s; want %.0f/s within 1%%", c.ThroughputPerS, c.SentPerS, rate)
		}
	}
	// The summary's OK/S column (at 120 columns: COMMAND SENT OK ERRORS OK/S ...).
	for i, part := range strings.Split(stdout, "warm-up:")[1:] {
		okps, err := strconv.ParseFloat(commandRow(t, part, "HARTBEAT")[4], 64)
		if err != nil || !within(okps, rate, 0.01) {
			t.Errorf("run %d: the summary prints OK/S %v (%v), want %.0f within 1%%", i+1, okps, err, rate)
		}
	}
	// Thresholds checked again on a stored run: either side of the rate.
	dir := subDirs(t, set)[0]
	for th, want := range map[string]int{"throughput>=495/s": exitOK, "throughput>=505/s": exitThreshold} {
		if got, _, _ := captureRun(t, "report", dir, "--threshold", th); got != want {
			t.Errorf("report --threshold %s: exit %d, want %d", th, got, want)
		}
	}
	// compare's medians.
	code, stdout, stderr = captureRun(t, "compare", set, set, "--format", "json")
	if code != exitOK {
		t.Fatalf("compare: exit %d\n%s", code, stderr)
	}
	var cmp struct {
		Rows []struct {
			Metric string `json:"metric"`
			Old    struct {
				Median float64 `json:"median"`
			} `json:"old"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &cmp); err != nil {
		t.Fatalf("compare --format json: %v\n%s", err, stdout)
	}
	found := false
	for _, row := range cmp.Rows {
		if row.Metric == "throughput" {
			found = true
			if !within(row.Old.Median, rate, 0.01) {
				t.Errorf("compare: median throughput %.1f/s, want %.0f/s within 1%%", row.Old.Median, rate)
			}
		}
	}
	if !found {
		t.Errorf("compare printed no throughput row:\n%s", stdout)
	}
}

// silentServer listens on a kernel-chosen port and reads every message without ever
// replying. It returns the signalling address.
func silentServer(t *testing.T) string {
	t.Helper()
	r, err := transport.Listen(transport.Native, "tcp://127.0.0.1:0", transport.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := r.Recv(); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { r.Close(); <-done })
	return r.Addr()
}

// TestRunInterruptDrain interrupts a run whose requests are all outstanding (the server
// never replies, the timeout is 30 s): the first signal stops sending and drains for the
// stated 2 s at most, a second ends the drain at once; either way the result is written,
// what was outstanding is abandoned, not timed out, and the result names the signal.
func TestRunInterruptDrain(t *testing.T) {
	bin := dmbenchBinary(t)
	addr := silentServer(t)
	tests := []struct {
		name    string
		signals []syscall.Signal
		reason  string
		cut     bool
	}{
		{"one SIGINT drains", []syscall.Signal{syscall.SIGINT}, "SIGINT", false},
		{"a second signal ends the drain", []syscall.Signal{syscall.SIGTERM, syscall.SIGINT}, "SIGTERM", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(bin, "run", "testdata/silent.yaml", "--signalling", addr, "--server-view", "off", "-o", out)
			cmd.Env = append(os.Environ(), "CI=true")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			time.Sleep(1500 * time.Millisecond)
			for i, sig := range tt.signals {
				if i > 0 {
					time.Sleep(300 * time.Millisecond)
				}
				_ = cmd.Process.Signal(sig)
			}
			select {
			case <-done:
			case <-time.After(25 * time.Second): // a bound for a hung run, not the measure
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("dmbench did not stop after %v\n%s", tt.signals, stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Fatalf("exit code %d, want %d\n%s", code, exitInterrupted, stderr.String())
			}
			if !strings.Contains(stderr.String(), "waiting at most 2s") {
				t.Errorf("stderr does not say how long the run drains:\n%s", stderr.String())
			}
			res, err := resultfmt.Read(onlyRun(t, out))
			if err != nil {
				t.Fatal(err)
			}
			d := res.Drain
			if d.LimitUS != 2_000_000 {
				t.Errorf("drain limit %d µs, want 2 s (min of the 30 s timeout and 2 s)", d.LimitUS)
			}
			if d.Outstanding == 0 || d.WaitedUS > d.LimitUS+250_000 { // the drain looks every 5 ms; a loaded machine wakes it late
				t.Errorf("drain waited %d µs of %d for %d outstanding: want some outstanding and no more than the limit", d.WaitedUS, d.LimitUS, d.Outstanding)
			}
			if d.Cut != tt.cut || (tt.cut && d.WaitedUS >= d.LimitUS) {
				t.Errorf("drain cut %v after %d µs, want cut %v", d.Cut, d.WaitedUS, tt.cut)
			}
			c := res.Stages[0].Commands[0].Counts
			if c.Sent == 0 || c.Abandoned != c.Sent || c.Timeouts != 0 {
				t.Errorf("counts %+v: every request sent should be abandoned, none timed out", c)
			}
			if !res.Meta.Interrupted || !strings.Contains(res.Meta.InterruptReason, tt.reason) {
				t.Errorf("interrupted %v, reason %q: want the reason to name %s", res.Meta.Interrupted, res.Meta.InterruptReason, tt.reason)
			}
			if !strings.Contains(stdout.String(), "HARTBEAT") {
				t.Errorf("no summary printed:\n%s", stdout.String())
			}
			// A server that never replies is reported as silent, until the end.
			if n := len(res.Stalls); n == 0 || !res.Stalls[n-1].UntilEnd || !strings.Contains(stdout.String(), "SERVER SILENT") {
				t.Errorf("stalls %+v: want the last one to last until the end, and the summary to say the server fell silent", res.Stalls)
			}
		})
	}
}

// TestRunServerKilled kills `dmbench serve` (SIGKILL) two seconds into a six-second run:
// the result must blame the server, not the generator, say why connections were lost
// and failed, and the exit code must say the server was lost.
func TestRunServerKilled(t *testing.T) {
	bin := dmbenchBinary(t)
	sig := freePort(t)
	srv := exec.Command(bin, "serve", "--port", strconv.Itoa(sig-1))
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan struct{})
	go func() { _ = srv.Wait(); close(srvDone) }()
	t.Cleanup(func() { _ = srv.Process.Kill(); <-srvDone })
	addr := fmt.Sprintf("127.0.0.1:%d", sig)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp4", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dmbench serve did not listen on %s\n%s", addr, srvOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	go func() {
		time.Sleep(2 * time.Second)
		_ = srv.Process.Kill()
	}()
	out := t.TempDir()
	code, stdout, stderr := captureRun(t, "run", "testdata/steady.yaml", "--signalling", "tcp://"+addr, "-o", out)
	if code != exitServerLost {
		t.Fatalf("exit code %d, want %d (server lost)\n%s\n%s", code, exitServerLost, stdout, stderr)
	}
	// The generator kept its schedule while the server was gone: sends refused for want of
	// a connection are the server's absence. (A loaded machine may still delay sends while
	// connected, which the self-watch reports apart: that is not what is checked here.)
	const blamesSchedule = "its schedule asked for"
	if !strings.Contains(stdout, "SERVER LOST") || strings.Contains(stdout, blamesSchedule) {
		t.Errorf("the summary should name the lost server and not say the generator fell behind its schedule:\n%s", stdout)
	}
	res, err := resultfmt.Read(onlyRun(t, out))
	if err != nil {
		t.Fatal(err)
	}
	cn := res.Connections
	if res.Generator.AchievedRatio < loadgen.BoundAchievedRatio || !cn.ServerLost || cn.ConnectedAtEnd != 0 || cn.ClientsAtEnd != 2 {
		t.Errorf("achieved ratio %.3f (%v), connections %+v: want the server lost and the schedule kept", res.Generator.AchievedRatio, res.Generator.Reasons, cn)
	}
	var lost uint64
	for cause, n := range cn.DisconnectCauses {
		if cause != loadgen.CauseClosed && cause != loadgen.CauseReset {
			t.Errorf("%d connections lost for %q; a killed server closes or resets them", n, cause)
		}
		lost += n
	}
	if lost != cn.Disconnects || lost < 2 {
		t.Errorf("disconnect causes %v do not add up to the %d disconnects of both clients", cn.DisconnectCauses, cn.Disconnects)
	}
	if cn.ConnectFailCauses[loadgen.CauseRefused] == 0 {
		t.Errorf("reconnects to the dead server should fail as refused, got %v", cn.ConnectFailCauses)
	}
	if c := res.Stages[0].Commands[0].Counts; c.SendErrors == 0 {
		t.Errorf("counts %+v: sends while disconnected should be send errors", c)
	}
}

// TestRunWriteFails runs dmbench with a file-size limit of 1 KiB (RLIMIT_FSIZE), so its
// interval log fails mid-run and result.json cannot be written: the summary must still
// print, the exit code must say the run failed, and the error must name the folder that
// holds what was written, which must exist.
func TestRunWriteFails(t *testing.T) {
	bin := dmbenchBinary(t)
	out := t.TempDir()
	cmd := exec.Command("bash", "-c", `ulimit -f 1 && exec "$@"`, "bash", bin, "run", "testdata/steady.yaml", "--server-view", "off", "-o", out)
	cmd.Env = append(os.Environ(), "CI=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Fatalf("exit code %d (%v), want %d\n%s", code, err, exitFailed, stderr.String())
	}
	if row := commandRow(t, stdout.String(), "HARTBEAT"); row[2] == "0" {
		t.Errorf("the summary shows no OK replies: %v", row)
	}
	m := regexp.MustCompile(`kept in (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("the error does not name the folder kept:\n%s", stderr.String())
	}
	fi, err := os.Stat(filepath.Join(m[1], "HARTBEAT.hlog"))
	if err != nil || fi.Size() == 0 {
		t.Errorf("the folder named (%s) does not hold the interval log: %v", m[1], err)
	}
	if !strings.Contains(stderr.String(), "file too large") {
		t.Errorf("the error does not say why the write failed:\n%s", stderr.String())
	}
}

// TestRunRefusesBeforeStarting: settings that cannot work are refused with exit 2 before
// any load, and nothing is written.
func TestRunRefusesBeforeStarting(t *testing.T) {
	limit, ok := fdLimit()
	if !ok {
		t.Fatal("the file-descriptor limit is not known on this system")
	}
	tooMany := strconv.FormatUint(limit/2+100, 10)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative drain", []string{"--drain", "-1s"}, "--drain -1s is negative"},
		{"negative stall threshold", []string{"--stall-threshold", "-5ms"}, "--stall-threshold -5ms is negative"},
		{"clients beyond the fd limit", []string{"--clients", tooMany}, "dmbench serve"},
		{"unknown pacer", []string{"--pacer", "fast"}, "use hybrid, sleep or spin"},
		{"spin budget above a core", []string{"--spin-budget", "2"}, "--spin-budget 2"},
		{"no spin window", []string{"--spin-window", "0s"}, "--spin-window 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, _, stderr := captureRun(t, append([]string{"run", "testdata/tiny.yaml", "-o", out}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit code %d, stderr %q: want %d and a message with %q", code, stderr, exitUsage, tt.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a refused run created its results folder")
			}
		})
	}
}

// TestRunReportsUnfinished: the temporary folder a killed run leaves is named at the next
// run into the same folder.
func TestRunReportsUnfinished(t *testing.T) {
	out := t.TempDir()
	left := filepath.Join(out, ".tiny.tmp-123456")
	if err := os.MkdirAll(left, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := captureRun(t, "run", "testdata/tiny.yaml", "--short", "--server-view", "off", "-o", out)
	if code != exitOK || !strings.Contains(stderr, "1 unfinished run folder") || !strings.Contains(stderr, left) {
		t.Errorf("exit %d, stderr:\n%s\nwant the unfinished folder %s named", code, stderr, left)
	}
}

// TestRunPacerKeepsPOnlyWithoutEmbeddedBroker: an open-loop run's pacer serves the I/O
// loop either way, but keeps its P while it waits only when the broker is in another
// process (--target): with the embedded broker, timers it left on that P would run late.
func TestRunPacerKeepsPOnlyWithoutEmbeddedBroker(t *testing.T) {
	t.Setenv("CI", "true")
	base := freePort(t) - 1
	_, stop := startServe(t, "serve", "--port", strconv.Itoa(base))
	defer stop()
	for _, tc := range []struct {
		name  string
		args  []string
		keeps bool
	}{
		{"embedded broker", nil, false},
		{"dmbench serve", []string{"--target", "tcp://127.0.0.1:" + strconv.Itoa(base)}, runtime.GOMAXPROCS(0) >= 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"run", "testdata/tiny.yaml", "--short", "--server-view", "off", "-o", out}, tc.args...)
			if code := run(args); code != exitOK {
				t.Fatalf("exit code %d", code)
			}
			res, err := resultfmt.Read(onlyRun(t, out))
			if err != nil {
				t.Fatal(err)
			}
			g := res.Generator
			if g.Replies.IOLoops != 1 || !g.Replies.PacerServesIO {
				t.Fatalf("replies %+v: want the pacer's one loop", g.Replies)
			}
			if g.Pacer.KeepsP != tc.keeps {
				t.Fatalf("the pacer kept its P: %v, want %v", g.Pacer.KeepsP, tc.keeps)
			}
		})
	}
}
