package transport

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkNativeEcho measures native DEALER → native ROUTER echo round trips with C
// connections × W requests in flight per connection, both sides in this process. It
// reports round trips per second, allocations per round trip (b.ReportAllocs; one op is
// one round trip) and the process's CPU time per round trip, client and server together
// (an upper bound for either side's).
func BenchmarkNativeEcho(b *testing.B) {
	for _, tc := range []struct{ conns, inflight int }{{1, 1}, {8, 8}, {8, 64}, {64, 64}} {
		b.Run(fmt.Sprintf("conns=%d/inflight=%d", tc.conns, tc.inflight), func(b *testing.B) {
			nativeBenchEcho(b, tc.conns, tc.inflight)
		})
	}
}

func nativeBenchEcho(b *testing.B, conns, inflight int) {
	r, err := Listen(Native, "tcp://127.0.0.1:0", ListenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	echoDone := echoLoop(r, nil)
	defer func() { r.Close(); <-echoDone }()
	dealers := make([]Dealer, conns)
	for i := range dealers {
		d, err := Dial(b.Context(), Native, r.Addr(), DialOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		dealers[i] = d
	}
	// Warm up buffers and pools.
	if err := benchClosedLoop(dealers, inflight, int64(conns*inflight*20)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := benchSelfCPU()
	b.ResetTimer()
	start := time.Now()
	if err := benchClosedLoop(dealers, inflight, int64(b.N)); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := benchSelfCPU() - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rt/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/rt")
}
