//go:build libzmq

package transport

import (
	"strconv"
	"testing"
	"time"
)

// libzmq's side of the transport benchmarks (bench_test.go): the C peer's DEALERs and
// ROUTER. Built only with -tags libzmq, as the C peer needs libzmq3-dev:
//
//	go test -tags libzmq -run '^$' -bench 'Echo|MixedPairs' ./transport/

func init() {
	benchLibzmqDealers = benchCDealers
	benchStartLibzmqRouter = startCRouter
}

// BenchmarkEcho measures the three DEALER implementations side by side against the same
// ROUTER, C libzmq's (the C peer's echo mode, in its own process):
// BenchmarkEcho/{native,zmq4,libzmq}/{1x1,8x8,8x64,64x64}. The libzmq DEALER is the C
// peer's closed-loop client, run as a subprocess for b.N round trips. zmq4-bare is a
// zmq4 DEALER used directly, without this package's adapter, to show what the adapter
// (its tap and Recv goroutine) costs.
func BenchmarkEcho(b *testing.B) {
	router, ep := startCRouter(b)
	pid := router.cmd.Process.Pid
	for _, kind := range []Kind{Native, ZMQ4, benchBareZMQ4} {
		for _, s := range benchShapes {
			b.Run(string(kind)+"/"+benchShapeName(s.conns, s.inflight), func(b *testing.B) {
				benchGoDealers(b, kind, ep, pid, s.conns, s.inflight)
			})
		}
	}
	for _, s := range benchShapes {
		b.Run("libzmq/"+benchShapeName(s.conns, s.inflight), func(b *testing.B) {
			benchCDealers(b, ep, pid, s.conns, s.inflight)
		})
	}
}

// benchCDealers runs b.N round trips through the C peer's libzmq DEALERs.
func benchCDealers(b *testing.B, ep string, routerPID, conns, inflight int) {
	args := []string{"dealer", "-w", "-n", strconv.Itoa(b.N), ep, strconv.Itoa(conns), strconv.Itoa(inflight), "600"}
	p := startCPeer(b, args...)
	if line := p.readLine(b, 30*time.Second); line != "ready" {
		b.Fatalf("the C dealer printed %q instead of ready (stderr: %s)", line, p.stderr.String())
	}
	rcpu0 := benchProcCPU(routerPID)
	b.ResetTimer()
	if _, err := p.stdin.Write([]byte("go\n")); err != nil {
		b.Fatal(err)
	}
	line := p.readLine(b, 10*time.Minute)
	b.StopTimer()
	rcpu := benchProcCPU(routerPID) - rcpu0
	f, err := parseFields(line)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.wait(); err != nil {
		b.Fatalf("the C dealer: %v (stderr: %s)", err, p.stderr.String())
	}
	if int(f["roundtrips"]) != b.N || f["seconds"] <= 0 {
		b.Fatalf("the C dealer made %v round trips in %v s, want %d", f["roundtrips"], f["seconds"], b.N)
	}
	// The C peer's own clock and CPU cover its measured loop only, not its start.
	b.ReportMetric(f["roundtrips"]/f["seconds"], "rt/s")
	b.ReportMetric((f["cpu_user_us"]+f["cpu_sys_us"])/f["roundtrips"], "client-cpu-us/rt")
	if rcpu >= 0 {
		b.ReportMetric(float64(rcpu.Microseconds())/float64(b.N), "router-cpu-us/rt")
	}
}
