package transport

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
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
	echoDone := nativeEchoLoop(r)
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
	// A DMB request: delimiter, 16-byte id, command, msgpack {"ack": true}.
	msg := [][]byte{{}, []byte("0123456789abcdef"), []byte("HARTBEAT"), {0x81, 0xa3, 'a', 'c', 'k', 0xc3}}
	run := func(n int64) error {
		var budget atomic.Int64
		budget.Store(n)
		var wg sync.WaitGroup
		errs := make(chan error, len(dealers))
		for _, d := range dealers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent, received := 0, 0
				for sent < inflight && budget.Add(-1) >= 0 {
					if err := d.Send(msg); err != nil {
						errs <- err
						return
					}
					sent++
				}
				for received < sent {
					if _, err := d.Recv(); err != nil {
						errs <- err
						return
					}
					received++
					if budget.Add(-1) >= 0 {
						if err := d.Send(msg); err != nil {
							errs <- err
							return
						}
						sent++
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	}
	if err := run(int64(conns * inflight * 20)); err != nil { // warm up buffers and pools
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := nativeCPUTime()
	b.ResetTimer()
	start := time.Now()
	if err := run(int64(b.N)); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := nativeCPUTime() - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rt/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/rt")
}

// nativeCPUTime is the process's user + system CPU time so far.
func nativeCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
