// Benchmarks that run the bundled scenarios (scaled down with their short overlays)
// through the whole tool — scenario, load engine, transport, broker — and report the
// figures benchstat compares across commits or broker versions:
//
//	DMBENCH_TARGET=tcp://127.0.0.1:5556 DMBENCH_LABELS=broker=0.2.1 \
//	    go test -run '^$' -bench Scenario -benchtime 1x -count 6 . | tee old.txt
//	DMBENCH_TARGET=tcp://127.0.0.1:5556 DMBENCH_LABELS=broker=0.3.0 \
//	    go test -run '^$' -bench Scenario -benchtime 1x -count 6 . | tee new.txt
//	benchstat -col broker old.txt new.txt
//
// Without DMBENCH_TARGET they load a fresh embedded reference broker (in this process, so
// its CPU competes with the generator's); DMBENCH_FAULTS (the --faults format, e.g.
// "latency=3ms") injects faults into it. With DMBENCH_TARGET=tcp://host:5556 (a DMB base
// address) they load that server's signalling port, base + 1.
//
// Before the results, BenchmarkScenario prints benchfmt configuration lines that apply to
// every result after them, so benchstat can tell broker versions apart (-col broker):
//
//	broker: 0.3.0            DMBENCH_LABELS's broker, else the server's PERFRPRT "server version"
//	transport: native        the ZMTP implementation dmbench used
//	target: tcp://...        DMBENCH_TARGET, or "embedded" (with DMBENCH_FAULTS's faults)
//
// and one line for every other key=value of DMBENCH_LABELS (comma-separated), in order.
// benchstat puts results whose configuration differs in separate tables unless told
// otherwise, so when the two sides ran against different addresses compare them with
// "benchstat -col broker -ignore target".
package dmbench_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/scenarios"
	"github.com/dmbench/dmbench/serverview"
	"github.com/dmbench/dmbench/transport"
)

// BenchmarkScenario runs each bundled scenario's short overlay once and reports, with
// b.ReportMetric, in units benchstat scales (benchunit turns "ns" into seconds with SI
// prefixes, so latencies print as µs or ms):
//
//	ns/op        the wall time of one whole scenario run: one op is one run, whatever b.N
//	ok/s         OK replies per second of the measured windows (warm-up excluded)
//	p50-ns, p99-ns, p99.9-ns
//	             corrected latency (from each request's intended send time), every stage
//	             and command merged
//	errors-%     failed requests (exceptions, unexpected replies, timeouts, abandoned, send
//	             errors) as a percentage of the requests tried
//	timeouts-%   the timed-out share of them, a percentage of the requests tried
//
// A scenario runs for a fixed time, not for b.N operations, so it runs once per call
// however large b.N; use -benchtime 1x, and -count N for N runs.
func BenchmarkScenario(b *testing.B) {
	printConfig(benchConfig(b))
	for _, info := range scenarios.Bundled() {
		b.Run(info.Name, func(b *testing.B) {
			sc, err := scenarios.Load(info.Name, scenarios.LoadOptions{Short: true})
			if err != nil {
				b.Fatal(err)
			}
			addr := benchTarget(b)
			start := time.Now()
			res, err := loadgen.Run(context.Background(), loadgen.Config{Plan: sc.Plan(), Addr: addr, Transport: transport.Native})
			if err != nil {
				b.Fatal(err)
			}
			reportScenario(b, res, time.Since(start))
		})
	}
}

// benchTarget returns DMBENCH_TARGET's signalling address, or starts an embedded broker
// with DMBENCH_FAULTS's faults.
func benchTarget(b *testing.B) string {
	if base := os.Getenv("DMBENCH_TARGET"); base != "" {
		addr, err := broker.SignallingAddr(base)
		if err != nil {
			b.Fatalf("DMBENCH_TARGET: %v", err)
		}
		return addr
	}
	faults, err := broker.ParseFaults(os.Getenv("DMBENCH_FAULTS"))
	if err != nil {
		b.Fatalf("DMBENCH_FAULTS: %v", err)
	}
	srv, err := broker.Start(broker.Config{Faults: faults})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return srv.Addr()
}

// configLine is one benchfmt configuration line, "key: value".
type configLine struct{ key, value string }

// benchConfig gathers the configuration lines: DMBENCH_LABELS's, then broker (when the
// labels have none: the target's PERFRPRT server and version), transport and target
// unless the labels set them.
func benchConfig(b *testing.B) []configLine {
	lines, err := parseLabels(os.Getenv("DMBENCH_LABELS"))
	if err != nil {
		b.Fatalf("DMBENCH_LABELS: %v", err)
	}
	has := func(key string) bool {
		for _, l := range lines {
			if l.key == key {
				return true
			}
		}
		return false
	}
	add := func(key, value string) {
		if !has(key) && value != "" {
			lines = append(lines, configLine{key, value})
		}
	}
	target := os.Getenv("DMBENCH_TARGET")
	if !has("broker") {
		add("broker", brokerIdentity(b, target))
	}
	add("transport", string(transport.Native))
	if target == "" {
		target = "embedded"
		if f := os.Getenv("DMBENCH_FAULTS"); f != "" {
			target += " (faults " + f + ")"
		}
	}
	add("target", target)
	return lines
}

// parseLabels reads "key=value,key=value". A key must be a benchfmt configuration key:
// it starts with a lower-case letter and holds no space and no upper-case letter.
func parseLabels(s string) ([]configLine, error) {
	var lines []configLine
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, value, ok := strings.Cut(item, "=")
		if !ok || value == "" {
			return nil, fmt.Errorf("label %q: want key=value", item)
		}
		if r := []rune(key); !unicode.IsLower(r[0]) || strings.ContainsFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsUpper(r) }) {
			return nil, fmt.Errorf("label %q: the key must start with a lower-case letter and hold no space or upper-case letter (benchfmt's rule)", item)
		}
		if strings.ContainsAny(value, "\n\r") {
			return nil, fmt.Errorf("label %q: the value must be one line", item)
		}
		lines = append(lines, configLine{key, value})
	}
	return lines, nil
}

// brokerIdentity asks the target (an embedded broker when target is "") for its report
// once and returns "server version", or "unknown (why)" when none came.
func brokerIdentity(b *testing.B, target string) string {
	if target == "" {
		srv, err := broker.Start(broker.Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		rep := srv.Report()
		return rep.Server + " " + rep.Version
	}
	addr, err := broker.SignallingAddr(target)
	if err != nil {
		b.Fatalf("DMBENCH_TARGET: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := serverview.Start(ctx, addr, transport.Native, 0, 0)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer p.Stop()
	snap := p.Poll(serverview.LabelStart)
	if snap.Report == nil || snap.Report.Server == "" {
		return "unknown (no PERFRPRT: set DMBENCH_LABELS=broker=VERSION)"
	}
	return strings.TrimSpace(snap.Report.Server + " " + snap.Report.Version)
}

// printConfig writes the configuration lines to standard output, where go test writes
// the results they apply to.
func printConfig(lines []configLine) {
	for _, l := range lines {
		fmt.Printf("%s: %s\n", l.key, l.value)
	}
}

// reportScenario reports the metrics BenchmarkScenario's doc lists for one run that took
// wall. When the generator could not keep up it says so in the log, since the figures
// then measure dmbench rather than the server.
func reportScenario(b *testing.B, res *loadgen.Result, wall time.Duration) {
	m := scenarioMetrics(res)
	if m.ok == 0 {
		b.Fatal("no request was answered")
	}
	b.ReportMetric(float64(wall.Nanoseconds()), "ns/op") // one op is one whole run
	b.ReportMetric(m.okPerS, "ok/s")
	b.ReportMetric(m.p50us*1e3, "p50-ns")
	b.ReportMetric(m.p99us*1e3, "p99-ns")
	b.ReportMetric(m.p999us*1e3, "p99.9-ns")
	b.ReportMetric(m.errorsPct, "errors-%")
	b.ReportMetric(m.timeoutsPct, "timeouts-%")
	if res.Generator.Bound {
		b.Logf("generator-bound: %v", res.Generator.Reasons)
	}
}

// benchMetrics are the figures BenchmarkScenario reports.
type benchMetrics struct {
	ok, errors, timeouts   uint64
	okPerS                 float64 // OK replies over the summed measured windows
	p50us, p99us, p999us   float64 // corrected, all stages and commands merged
	errorsPct, timeoutsPct float64 // of the requests tried (OK + errors)
}

func scenarioMetrics(res *loadgen.Result) benchMetrics {
	var m benchMetrics
	var measured time.Duration
	h := loadgen.NewHistogram()
	for _, st := range res.Stages {
		measured += st.Measured.Duration()
		for _, c := range st.Commands {
			m.ok += c.OK
			m.errors += c.Errors()
			m.timeouts += c.Timeouts
			if c.Corrected != nil {
				h.Merge(c.Corrected)
			}
		}
	}
	if measured > 0 {
		m.okPerS = float64(m.ok) / measured.Seconds()
	}
	if tried := m.ok + m.errors; tried > 0 {
		m.errorsPct = 100 * float64(m.errors) / float64(tried)
		m.timeoutsPct = 100 * float64(m.timeouts) / float64(tried)
	}
	m.p50us, m.p99us, m.p999us = float64(h.ValueAtQuantile(50)), float64(h.ValueAtQuantile(99)), float64(h.ValueAtQuantile(99.9))
	return m
}

// TestScenarioMetricsOverMeasuredWindow: a constant 500/s stage whose first second is the
// warm-up reports 500 ok/s within 1%, not the 375/s of its OK replies over the whole stage.
func TestScenarioMetricsOverMeasuredWindow(t *testing.T) {
	srv, err := broker.Start(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	plan := loadgen.Plan{Name: "warm", Warmup: time.Second, Timeout: 2 * time.Second, Stages: []loadgen.Stage{{
		Name: "steady", Duration: 4 * time.Second, Clients: 2,
		Open: &loadgen.Open{Rate: 500},
		Mix:  []loadgen.Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}},
	}}}
	res, err := loadgen.Run(context.Background(), loadgen.Config{Plan: plan, Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if m := scenarioMetrics(res); m.okPerS < 495 || m.okPerS > 505 {
		t.Errorf("ok/s = %.1f (%d OK), want 500 within 1%%", m.okPerS, m.ok)
	}
}
