package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// benchRun runs b.N requests as one count-bounded closed-loop stage and reports the
// engine's figures: round trips per second, corrected p50 and p99, and the generator's
// CPU per request.
func benchRun(b *testing.B, dial dialFunc, addr string, clients, inFlight int, mix []Request) {
	b.Helper()
	plan := Plan{Timeout: 10 * time.Second, Seed: 1, Stages: []Stage{{
		Requests: int64(b.N), Clients: clients, Closed: &Closed{InFlight: inFlight}, Mix: mix,
	}}}
	b.ReportAllocs()
	b.ResetTimer()
	res, err := run(context.Background(), Config{Plan: plan, Addr: addr}, dial)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	sr := &res.Stages[0]
	c := sumCounts(sr)
	if c.OK != uint64(b.N) {
		b.Fatalf("%d of %d requests OK: %+v", c.OK, b.N, c)
	}
	h := NewHistogram()
	for _, cr := range sr.Commands {
		h.Merge(cr.Corrected)
	}
	secs := sr.End.Sub(sr.Start).Seconds()
	b.ReportMetric(float64(b.N)/secs, "req/s")
	b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-µs")
	b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-µs")
	b.ReportMetric(res.Generator.CPUSeconds*1e9/float64(b.N), "cpu-ns/req")
}

// BenchmarkEngine measures the engine alone against the in-memory peer (no sockets):
// what one request costs the generator in scheduling, encoding, matching and recording.
func BenchmarkEngine(b *testing.B) {
	srv := &fakeServer{handle: echoHandler}
	benchRun(b, srv.dial, "fake", 4, 64, []Request{
		{Command: protocol.GroupAdd, Weight: 1, Ack: true, Group: names("room"), Channel: names("chan")},
		{Command: protocol.Heartbeat, Weight: 1, Ack: true},
	})
}

// BenchmarkBroker measures round trips against the reference broker over 127.0.0.1 with
// each transport, the generator and the broker sharing the machine.
func BenchmarkBroker(b *testing.B) {
	for _, kind := range transport.Kinds {
		b.Run(string(kind), func(b *testing.B) {
			srv, err := broker.Start(broker.Config{Addr: "tcp://127.0.0.1:0", Transport: kind})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			dial := func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error) {
				return transport.Dial(ctx, kind, addr, opts)
			}
			benchRun(b, dial, srv.Addr(), 4, 16, heartbeat())
		})
	}
}
