package loadgen

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkKeepaliveStorm measures what a keepalive storm costs the generator: N DEALER
// connections, each sending HARTBEAT at 1/s (Poisson), to the reference broker in a
// process of its own, so that the CPU and memory measured are the generator's alone. The
// clients run on the pacer's I/O loop through its io_uring (io=loops), on that loop on
// epoll (io=loops-epoll) or with a receiver goroutine each (io=goroutines), side by side
// in one run. Each iteration is one run: all connections at once, a 2 s
// warm-up, then a 10 s stage (DMBENCH_STORM_SECONDS changes it).
//
// It reports, over the stage's measured window only (no connecting, no warm-up):
//
//	cpu-µs/req      process CPU (user + system) over the window / requests sent in it
//	send-p99-µs     the pacer's lateness, p99
//	p99-µs          corrected latency, p99
//	bound           1 when the run marked itself generator-bound
//	rss-KiB/conn    the process's resident memory growth from before connecting to the
//	                middle of the stage (after a GC), per connection: an upper bound, as
//	                it includes the run's fixed costs (histograms, buffers)
//
// The file-descriptor limit (20,000 here) allows N up to about 19,000 in this process.
func BenchmarkKeepaliveStorm(b *testing.B) {
	stage := 10 * time.Second
	if s, err := strconv.Atoi(os.Getenv("DMBENCH_STORM_SECONDS")); err == nil && s > 0 {
		stage = time.Duration(s) * time.Second
	}
	addr := startBrokerProcess(b)
	for _, conns := range []int{1000, 5000, 10000} {
		for _, io := range []struct {
			name   string
			loops  int
			noRing bool
		}{{"loops", 0, false}, {"loops-epoll", 0, true}, {"goroutines", -1, false}} {
			b.Run(fmt.Sprintf("conns=%d/io=%s", conns, io.name), func(b *testing.B) {
				plan := Plan{Timeout: 5 * time.Second, Seed: 1, Warmup: 2 * time.Second, Stages: []Stage{{
					Duration: 2*time.Second + stage, Clients: conns,
					Open: &Open{Rate: float64(conns), Poisson: true},
					Mix:  heartbeat(),
				}}}
				var cpu, rss float64
				var sent uint64
				var sendP99, p99 time.Duration
				var bound int
				for range b.N {
					runtime.GC()
					debug.FreeOSMemory()
					rss0 := residentBytes()
					var rssMid int64
					cs := startCPUSampler(10 * time.Millisecond)
					res := midStage(b, Config{Plan: plan, Addr: addr, IOLoops: io.loops, NoIOUring: io.noRing, Drain: time.Second, PacerKeepsP: true}, func() {
						runtime.GC()
						rssMid = residentBytes()
					})
					samples := cs.stop()
					sr := &res.Stages[0]
					used, ok := cpuBetween(samples, sr.Measured.Start, sr.Measured.End)
					if !ok {
						b.Fatalf("no CPU samples cover the measured window %v to %v", sr.Measured.Start, sr.Measured.End)
					}
					c := sumCounts(sr)
					if res.Connections.Connected != uint64(conns) || c.Sent == 0 {
						b.Fatalf("%d of %d connected, %d sent", res.Connections.Connected, conns, c.Sent)
					}
					cpu += used
					sent += c.Sent
					rss += float64(rssMid-rss0) / float64(conns)
					sendP99 = max(sendP99, res.Generator.SendDelayP99)
					p99 = max(p99, time.Duration(sr.Commands[0].Corrected.ValueAtQuantile(99))*time.Microsecond)
					if res.Generator.Bound {
						bound = 1
						b.Logf("generator-bound: %s", strings.Join(res.Generator.Reasons, "; "))
					}
				}
				b.ReportMetric(cpu*1e6/float64(sent), "cpu-µs/req")
				b.ReportMetric(rss/float64(b.N)/1024, "rss-KiB/conn")
				b.ReportMetric(float64(sendP99.Microseconds()), "send-p99-µs")
				b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
				b.ReportMetric(float64(bound), "bound")
			})
		}
	}
}

// residentBytes is the process's resident set size (Linux: /proc/self/statm), or 0.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
