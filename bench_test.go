// Benchmarks that run the bundled scenarios (scaled down with their short overlays)
// through the whole tool — scenario, load engine, transport, broker — and report the
// figures benchstat compares across commits or broker versions:
//
//	go test -run '^$' -bench Scenario -count 5 . | tee new.txt
//	benchstat old.txt new.txt
//
// Without DMBENCH_TARGET they load a fresh embedded reference broker (in this process, so
// its CPU competes with the generator's). With DMBENCH_TARGET=tcp://host:5556 (a DMB base
// address) they load that server's signalling port, base + 1.
package dmbench_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/scenarios"
)

func BenchmarkScenario(b *testing.B) {
	for _, info := range scenarios.Bundled() {
		b.Run(info.Name, func(b *testing.B) {
			sc, err := scenarios.Load(info.Name, scenarios.LoadOptions{Short: true})
			if err != nil {
				b.Fatal(err)
			}
			addr := benchTarget(b)
			// A scenario runs for a fixed time, not b.N operations: run it once, however
			// large b.N, and report per-run figures.
			res, err := loadgen.Run(context.Background(), loadgen.Config{Plan: sc.Plan(), Addr: addr})
			if err != nil {
				b.Fatal(err)
			}
			reportScenario(b, res)
		})
	}
}

// benchTarget returns DMBENCH_TARGET's signalling address, or starts an embedded broker.
func benchTarget(b *testing.B) string {
	if base := os.Getenv("DMBENCH_TARGET"); base != "" {
		addr, err := broker.SignallingAddr(base)
		if err != nil {
			b.Fatalf("DMBENCH_TARGET: %v", err)
		}
		return addr
	}
	srv, err := broker.Start(broker.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return srv.Addr()
}

// reportScenario reports, over every stage and command: OK replies per second of the
// measured windows (warm-up excluded), corrected p50 and p99 in microseconds, and errors.
// When the generator could not keep up it says so in the log, since the figures then
// measure dmbench rather than the server.
func reportScenario(b *testing.B, res *loadgen.Result) {
	m := scenarioMetrics(res)
	if m.ok == 0 {
		b.Fatal("no request was answered")
	}
	b.ReportMetric(0, "ns/op") // a run is not b.N operations
	b.ReportMetric(m.okPerS, "ok/s")
	b.ReportMetric(m.p50us, "p50-us")
	b.ReportMetric(m.p99us, "p99-us")
	b.ReportMetric(float64(m.errors), "errors")
	if res.Generator.Bound {
		b.Logf("generator-bound: %v", res.Generator.Reasons)
	}
}

// benchMetrics are the figures BenchmarkScenario reports.
type benchMetrics struct {
	ok, errors   uint64
	okPerS       float64 // OK replies over the summed measured windows
	p50us, p99us float64 // corrected, all stages and commands merged
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
			if c.Corrected != nil {
				h.Merge(c.Corrected)
			}
		}
	}
	if measured > 0 {
		m.okPerS = float64(m.ok) / measured.Seconds()
	}
	m.p50us, m.p99us = float64(h.ValueAtQuantile(50)), float64(h.ValueAtQuantile(99))
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
