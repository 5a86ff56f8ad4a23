package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/serverview"
	"github.com/dmbench/dmbench/transport"
)

// scrape fetches url's text exposition and returns its samples, by the series as printed
// (name{labels}).
func scrape(t *testing.T, url string) (map[string]float64, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out, sc.Err()
}

// sum adds the samples of metric name whose labels contain every one of with (each
// `key="value"`).
func sum(samples map[string]float64, name string, with ...string) float64 {
	var s float64
	for series, v := range samples {
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, w := range with {
			ok = ok && strings.Contains(labels, w)
		}
		if ok {
			s += v
		}
	}
	return s
}

// TestRunMetrics runs a three-second scenario with --metrics-addr, scrapes it while it
// runs and after it ends (--metrics-linger), and checks that the counters moved during
// the run and that their final values are result.json's counts.
func TestRunMetrics(t *testing.T) {
	t.Setenv("CI", "true")
	dir := t.TempDir()
	sc := filepath.Join(dir, "metrics.yaml")
	if err := os.WriteFile(sc, []byte(`name: metrics
stages:
  - name: steady
    duration: 2500ms
    clients: 2
    rate: 200/s
    mix:
      - command: HARTBEAT
      - command: GROUPADD
        group: {uniform: 10}
        channel: {uniform: 10}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	done := make(chan int, 1)
	go func() {
		// The broker pauses, so that the run has a stall to count.
		done <- run([]string{"run", sc, "-o", out, "--server-view", "off", "--metrics-addr", addr, "--metrics-linger", "1s",
			"--pause", "700ms/1500ms", "--stall-threshold", "300ms"})
	}()
	url := "http://" + addr + "/metrics"
	var during []float64 // requests sent, as scraped while the run ran
	var final map[string]float64
	deadline := time.Now().Add(20 * time.Second)
	for final == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		s, err := scrape(t, url)
		if err != nil {
			continue // not listening yet
		}
		if sum(s, "dmbench_run_end_timestamp_seconds") > 0 {
			final = s
			break
		}
		during = append(during, sum(s, "dmbench_requests_total"))
	}
	if final == nil {
		t.Fatal("the run did not end within 20s")
	}
	if got, want := sum(final, "dmbench_stalls_total"), len(mustStalls(t, out)); got != float64(want) || want == 0 {
		t.Errorf("dmbench_stalls_total = %v, result.json has %d stalls (want some: the broker paused)", got, want)
	}
	if code := <-done; code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	moved := false
	for i := 1; i < len(during); i++ {
		if during[i] < during[i-1] {
			t.Errorf("dmbench_requests_total went back: %v", during)
		}
		if during[i] > 0 && during[i] > during[i-1] {
			moved = true
		}
	}
	if !moved {
		t.Errorf("dmbench_requests_total did not move during the run: %v", during)
	}

	res, err := resultfmt.Read(onlyRun(t, out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]resultfmt.Counts{}
	stages := res.Stages
	if res.Warmup != nil {
		stages = append(stages, *res.Warmup)
	}
	for _, s := range stages {
		for _, c := range s.Commands {
			w := want[c.Command]
			w.Add(c.Counts)
			want[c.Command] = w
		}
	}
	if len(want) != 2 {
		t.Fatalf("result.json has commands %v", want)
	}
	for cmd, w := range want {
		c := `command="` + cmd + `"`
		for _, chk := range []struct {
			name string
			got  float64
			want uint64
		}{
			{"sent", sum(final, "dmbench_requests_total", c), w.Sent},
			{"ok", sum(final, "dmbench_request_outcomes_total", c, `outcome="ok"`), w.OK},
			{"exceptions", sum(final, "dmbench_request_outcomes_total", c, `outcome="exception"`), w.Exceptions},
			{"timeouts", sum(final, "dmbench_request_outcomes_total", c, `outcome="timeout"`), w.Timeouts},
			{"errors", sum(final, "dmbench_errors_total", c), w.Errors()},
			{"latency count", sum(final, "dmbench_latency_seconds_count", c), w.Sent - w.NoAck - w.Abandoned - w.SendErrors},
			{"send delay count", sum(final, "dmbench_send_delay_seconds_count", c), w.Sent},
		} {
			if uint64(chk.got) != chk.want {
				t.Errorf("%s %s: metrics %v, result.json %d", cmd, chk.name, chk.got, chk.want)
			}
		}
		if w.Sent == 0 {
			t.Errorf("%s: nothing sent", cmd)
		}
		if got := sum(final, "dmbench_send_delay_seconds_sum", c); got <= 0 || got > float64(w.Sent)*0.5 {
			t.Errorf("%s: send delays sum to %vs over %d requests: want some, each far below 0.5 s", cmd, got, w.Sent)
		}
		if got := sum(final, "dmbench_requests_total", c, `stage="steady"`, `scenario="metrics"`, `shard=""`); got == 0 {
			t.Errorf("%s: no requests labelled scenario metrics, stage steady, shard \"\"", cmd)
		}
	}
}

// TestServeMetrics runs `dmbench serve --metrics-addr`, loads it, and checks that its
// counters moved and agree with the PERFRPRT it answers.
func TestServeMetrics(t *testing.T) {
	t.Setenv("CI", "true")
	sigPort := freePort(t)
	base := sigPort - 1
	maddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	lines, stop := startServe(t, "serve", "--port", strconv.Itoa(base), "--metrics-addr", maddr)
	defer stop()
	url := field(lines, "metrics")
	if url != "http://"+maddr+"/metrics" {
		t.Fatalf("metrics address %q, want http://%s/metrics", url, maddr)
	}
	before, err := scrape(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"run", "testdata/tiny.yaml", "--short", "--server-view", "off",
		"--target", "tcp://127.0.0.1:" + strconv.Itoa(base), "-o", t.TempDir()}); code != exitOK {
		t.Fatalf("run: exit code %d", code)
	}
	after, err := scrape(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if b, a := sum(before, "dmbench_broker_requests_received_total"), sum(after, "dmbench_broker_requests_received_total"); a <= b {
		t.Errorf("dmbench_broker_requests_received_total did not move: %v then %v", b, a)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := serverview.Start(ctx, "tcp://127.0.0.1:"+strconv.Itoa(sigPort), transport.Native, 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	snap := p.Poll("test")
	p.Stop()
	if snap.Report == nil {
		t.Fatalf("no PERFRPRT: %s", snap.Err)
	}
	rep := snap.Report
	for _, cmd := range []string{"GROUPADD", "HARTBEAT"} {
		cc, ok := rep.Commands[cmd]
		if !ok || cc.Received == 0 {
			t.Errorf("PERFRPRT counts no %s", cmd)
		}
		c := `command="` + cmd + `"`
		if got := sum(after, "dmbench_broker_requests_received_total", c); uint64(got) != cc.Received {
			t.Errorf("%s received: metrics %v, PERFRPRT %d", cmd, got, cc.Received)
		}
		if got := sum(after, "dmbench_broker_requests_completed_total", c); uint64(got) != cc.Completed {
			t.Errorf("%s completed: metrics %v, PERFRPRT %d", cmd, got, cc.Completed)
		}
		if got := sum(after, "dmbench_broker_exceptions_total", c); uint64(got) != cc.Exceptions {
			t.Errorf("%s exceptions: metrics %v, PERFRPRT %d", cmd, got, cc.Exceptions)
		}
	}
	if got := sum(after, "dmbench_broker_groups"); int64(got) != rep.Groups {
		t.Errorf("groups: metrics %v, PERFRPRT %d", got, rep.Groups)
	}
	if got := sum(after, "dmbench_broker_memberships"); int64(got) != rep.Memberships {
		t.Errorf("memberships: metrics %v, PERFRPRT %d", got, rep.Memberships)
	}
}

// mustStalls returns the stalls of the one run in out.
func mustStalls(t *testing.T, out string) []resultfmt.Stall {
	t.Helper()
	res, err := resultfmt.Read(onlyRun(t, out))
	if err != nil {
		t.Fatal(err)
	}
	return res.Stalls
}
