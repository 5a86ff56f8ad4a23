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

// reportScenario reports, over every stage and command: OK replies per second, corrected
// p50 and p99 in microseconds, and errors. When the generator could not keep up it says so
// in the log, since the figures then measure dmbench rather than the server.
func reportScenario(b *testing.B, res *loadgen.Result) {
	var ok, errs uint64
	var elapsed time.Duration
	h := loadgen.NewHistogram()
	for _, st := range res.Stages {
		elapsed += st.End.Sub(st.Start)
		for _, c := range st.Commands {
			ok += c.OK
			errs += c.Exceptions + c.Unexpected + c.Timeouts + c.SendErrors + c.Abandoned
			if c.Corrected != nil {
				h.Merge(c.Corrected)
			}
		}
	}
	if ok == 0 {
		b.Fatal("no request was answered")
	}
	b.ReportMetric(0, "ns/op") // a run is not b.N operations
	b.ReportMetric(float64(ok)/elapsed.Seconds(), "ok/s")
	b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-us")
	b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-us")
	b.ReportMetric(float64(errs), "errors")
	if res.Generator.Bound {
		b.Logf("generator-bound: %v", res.Generator.Reasons)
	}
}
