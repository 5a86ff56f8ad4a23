package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/go-zeromq/zmq4"
)

// The transport benchmarks. Each iteration is one round trip (a DEALER request echoed
// by a ROUTER), closed loop: C connections with W requests in flight on each. The
// ROUTER always runs in a separate process, so this process's CPU time is the DEALER
// side's alone. Metrics:
//
//	rt/s              round trips per second
//	client-cpu-us/rt  DEALER-side CPU (user + system) per round trip: this process's
//	                  getrusage for the Go DEALERs, the C peer's own for libzmq's
//	router-cpu-us/rt  the ROUTER process's CPU per round trip (/proc/PID/stat, 10 ms ticks)
//	allocs/op, B/op   DEALER-side Go allocations per round trip (Go DEALERs only)
//
// libzmq's DEALER and ROUTER are the C peer (testdata/cpeer), which needs libzmq3-dev:
// BenchmarkEcho (libzmq_bench_test.go), whose ROUTER is libzmq's, and the dealer=libzmq
// rows of BenchmarkMixedPairs are built only with -tags libzmq. Compare implementations
// with benchstat, e.g.
//
//	go test -tags libzmq -run '^$' -bench 'Echo$' -benchtime 3s -count 6 ./transport/ > echo.txt
//	benchstat -col /1 echo.txt     (or: benchstat echo.txt)

var (
	benchTenKConns    = flag.Int("dmbench.tenk.conns", 10000, "DEALER connections in BenchmarkTenThousandConnections")
	benchTenKDuration = flag.Duration("dmbench.tenk.duration", 60*time.Second, "how long BenchmarkTenThousandConnections sends")
	benchTenKRate     = flag.Float64("dmbench.tenk.rate", 1, "requests per second per connection in BenchmarkTenThousandConnections")
	benchTenKDealer   = flag.String("dmbench.tenk.dealer", string(Native), "DEALER implementation in BenchmarkTenThousandConnections")
	benchTenKRouter   = flag.String("dmbench.tenk.router", string(Native), "ROUTER in BenchmarkTenThousandConnections: native, zmq4 or libzmq (the C peer, with -tags libzmq)")
)

// libzmq's side of the benchmarks, the C peer: set by libzmq_bench_test.go when built
// with -tags libzmq, nil otherwise.
var (
	// benchLibzmqDealers runs b.N round trips through the C peer's libzmq DEALERs.
	benchLibzmqDealers func(b *testing.B, ep string, routerPID, conns, inflight int)
	// benchStartLibzmqRouter starts the C peer's echo ROUTER and returns its endpoint.
	benchStartLibzmqRouter func(tb testing.TB, opts ...string) (*peerProcess, string)
)

// benchNeedsLibzmq says how to get libzmq's side when it is not built in.
const benchNeedsLibzmq = "libzmq's DEALER and ROUTER are the C peer (testdata/cpeer), built only with " +
	"-tags libzmq and libzmq3-dev installed (apt-get install libzmq3-dev)"

// benchShapes are the connection × in-flight shapes measured.
var benchShapes = []struct{ conns, inflight int }{{1, 1}, {8, 8}, {8, 64}, {64, 64}}

func benchShapeName(conns, inflight int) string { return fmt.Sprintf("%dx%d", conns, inflight) }

// BenchmarkMixedPairs measures every DEALER against the Go ROUTERs, each in its own
// process (testdata/echorouter): BenchmarkMixedPairs/router=R/dealer=D/CxW. With
// BenchmarkEcho (router=libzmq) that covers all nine pairs. The dealer=libzmq rows are
// there only with -tags libzmq; without it the benchmark says on stderr that they are
// left out (b.Log of a benchmark with sub-benchmarks shows only with -v).
func BenchmarkMixedPairs(b *testing.B) {
	dealerKinds := []string{string(Native), string(ZMQ4)}
	if benchLibzmqDealers != nil {
		dealerKinds = append(dealerKinds, "libzmq")
	} else {
		fmt.Fprintf(os.Stderr, "%s: no dealer=libzmq rows: %s\n", b.Name(), benchNeedsLibzmq)
	}
	exe := benchBuildEchoRouter(b)
	for _, rk := range Kinds {
		router, ep := benchStartEchoRouter(b, exe, rk, 0)
		pid := router.cmd.Process.Pid
		for _, dk := range dealerKinds {
			for _, s := range benchShapes {
				name := fmt.Sprintf("router=%s/dealer=%s/%s", rk, dk, benchShapeName(s.conns, s.inflight))
				b.Run(name, func(b *testing.B) {
					if dk == "libzmq" {
						benchLibzmqDealers(b, ep, pid, s.conns, s.inflight)
						return
					}
					benchGoDealers(b, Kind(dk), ep, pid, s.conns, s.inflight)
				})
			}
		}
	}
}

// benchGoDealers runs b.N round trips through conns Go DEALERs of the given kind.
func benchGoDealers(b *testing.B, kind Kind, ep string, routerPID, conns, inflight int) {
	dealers := make([]Dealer, conns)
	for i := range dealers {
		dial := Dial
		if kind == benchBareZMQ4 {
			dial = benchDialBareZMQ4
		}
		d, err := dial(context.Background(), kind, ep, DialOptions{})
		if err != nil {
			b.Fatalf("dialling %s DEALER %d: %v", kind, i, err)
		}
		defer d.Close()
		dealers[i] = d
	}
	// Warm-up: buffers, pools and connections reach their steady state untimed.
	if err := benchClosedLoop(dealers, inflight, int64(conns*inflight*20)); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	b.ReportAllocs()
	rcpu0 := benchProcCPU(routerPID)
	cpu0 := benchSelfCPU()
	b.ResetTimer()
	start := time.Now()
	err := benchClosedLoop(dealers, inflight, int64(b.N))
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := benchSelfCPU() - cpu0
	rcpu := benchProcCPU(routerPID) - rcpu0
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rt/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "client-cpu-us/rt")
	if rcpu >= 0 {
		b.ReportMetric(float64(rcpu.Microseconds())/float64(b.N), "router-cpu-us/rt")
	}
}

// benchClosedLoop makes n round trips: each DEALER keeps up to inflight requests
// outstanding and sends a new one for each reply, until n requests were sent.
func benchClosedLoop(dealers []Dealer, inflight int, n int64) error {
	var budget atomic.Int64
	budget.Store(n)
	take := func() bool { return budget.Add(-1) >= 0 }
	var wg sync.WaitGroup
	errs := make(chan error, len(dealers))
	for i, d := range dealers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := dmbRequest()
			var seq uint64
			send := func() error {
				seq++
				binary.BigEndian.PutUint64(req[1][8:], seq)
				return d.Send(req)
			}
			// A generous deadline that only catches a lost reply or a stall.
			if err := d.SetRecvDeadline(time.Now().Add(2 * time.Minute)); err != nil {
				errs <- err
				return
			}
			sent, received := 0, 0
			for sent < inflight && take() {
				if err := send(); err != nil {
					errs <- fmt.Errorf("DEALER %d: send: %w", i, err)
					return
				}
				sent++
			}
			for received < sent {
				m, err := d.Recv()
				if err != nil {
					errs <- fmt.Errorf("DEALER %d: %d of %d replies, then: %w", i, received, sent, err)
					return
				}
				if len(m) != 4 {
					errs <- fmt.Errorf("DEALER %d: a reply of %d frames, want 4", i, len(m))
					return
				}
				received++
				if take() {
					if err := send(); err != nil {
						errs <- fmt.Errorf("DEALER %d: send: %w", i, err)
						return
					}
					sent++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when there was none
}

// benchBareZMQ4 names a zmq4 DEALER used without this package's adapter.
const benchBareZMQ4 Kind = "zmq4-bare"

// benchBareDealer is a bare zmq4 DEALER socket behind the Dealer interface: no tap, no
// Recv goroutine, no receive deadline, no disconnection detection.
type benchBareDealer struct{ s zmq4.Socket }

func benchDialBareZMQ4(_ context.Context, _ Kind, ep string, _ DialOptions) (Dealer, error) {
	s := zmq4.NewDealer(context.Background(), zmq4.WithLogger(zmq4DiscardLogger))
	if err := s.Dial(ep); err != nil {
		s.Close()
		return nil, err
	}
	return benchBareDealer{s}, nil
}

func (d benchBareDealer) Send(msg [][]byte) error { return d.s.SendMulti(zmq4.NewMsgFrom(msg...)) }

func (d benchBareDealer) Recv() ([][]byte, error) {
	m, err := d.s.Recv()
	return m.Frames, err
}

func (d benchBareDealer) SetRecvDeadline(time.Time) error { return nil }

func (d benchBareDealer) Close() error { return d.s.Close() }

// benchSelfCPU is this process's user + system CPU time so far.
func benchSelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchClockTick is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU times; it
// is 100 on every Linux architecture Go supports.
const benchClockTick = 100

// benchProcCPU is process pid's user + system CPU time so far, or -1 if unknown.
func benchProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses and may hold spaces:
	// state is field 3, utime field 14, stime field 15.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * time.Second / benchClockTick
}

// benchProcRSS is process pid's resident set size in bytes, or -1 if unknown.
func benchProcRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// benchBuildEchoRouter builds testdata/echorouter into the benchmark's temporary
// directory.
func benchBuildEchoRouter(b *testing.B) string {
	b.Helper()
	exe := filepath.Join(b.TempDir(), "echorouter")
	out, err := exec.Command("go", "build", "-o", exe, "./testdata/echorouter").CombinedOutput()
	if err != nil {
		b.Fatalf("go build ./testdata/echorouter: %v\n%s", err, out)
	}
	return exe
}

// benchStartEchoRouter starts the Go echo ROUTER of the given kind and returns it with
// its endpoint; the benchmark's cleanup stops it.
func benchStartEchoRouter(b *testing.B, exe string, kind Kind, fdLimit int) (*peerProcess, string) {
	b.Helper()
	p := startPeerProcess(b, exec.Command(exe, "-transport", string(kind), "-fdlimit", strconv.Itoa(fdLimit)))
	ep := p.readLine(b, 30*time.Second)
	if !strings.HasPrefix(ep, "tcp://") {
		b.Fatalf("echorouter printed %q, not its endpoint (stderr: %s)", ep, p.stderr.String())
	}
	return p, ep
}

// BenchmarkTenThousandConnections is the many-connections check: -dmbench.tenk.conns
// DEALERs (default 10,000) in this process, each sending -dmbench.tenk.rate requests a
// second (default 1) for -dmbench.tenk.duration (default 60 s), to an echo ROUTER in its
// own process (default native; both processes have an open-file limit of 20,000). Send
// times are scheduled and spread evenly over each period; latency is measured from the
// scheduled time (p50-ms, p99-ms, ...) and, apart, from the actual send (sent-p99-ms:
// the difference is this process's own lateness). It fails if any request is lost (no
// reply within 10 s) or any connection fails, and reports the ROUTER process's memory
// growth per connection and CPU. Run it once; the flags go after the package, e.g.
// briefly first:
//
//	go test -run '^$' -bench TenThousand -benchtime 1x ./transport/ -dmbench.tenk.duration=10s
//
// -dmbench.tenk.router=libzmq (the C peer's ROUTER) needs -tags libzmq.
func BenchmarkTenThousandConnections(b *testing.B) {
	conns, duration, rate := *benchTenKConns, *benchTenKDuration, *benchTenKRate
	dealerKind, err := ParseKind(*benchTenKDealer)
	if err != nil {
		b.Fatal(err)
	}
	routerKind := Kind(*benchTenKRouter)
	if routerKind != "libzmq" {
		if routerKind, err = ParseKind(*benchTenKRouter); err != nil {
			b.Fatal(err)
		}
	}
	if conns < 1 || rate <= 0 || duration <= 0 {
		b.Fatalf("-dmbench.tenk.conns, -rate and -duration must be positive")
	}
	benchRaiseFDLimit(b, 20000)
	var router *peerProcess
	var ep string
	if routerKind == "libzmq" {
		if benchStartLibzmqRouter == nil {
			b.Fatalf("-dmbench.tenk.router=libzmq: %s", benchNeedsLibzmq)
		}
		router, ep = benchStartLibzmqRouter(b) // inherits this process's open-file limit
	} else {
		router, ep = benchStartEchoRouter(b, benchBuildEchoRouter(b), routerKind, 20000)
	}
	pid := router.cmd.Process.Pid
	time.Sleep(200 * time.Millisecond) // let the router's start-up allocations settle
	rss0 := benchProcRSS(pid)

	connectStart := time.Now()
	dealers, err := dialMany(dealerKind, ep, conns, DialOptions{ConnectTimeout: 30 * time.Second})
	connectTime := time.Since(connectStart)
	defer closeDealers(dealers)
	if err != nil {
		b.Fatalf("connecting %d DEALERs: %v", conns, err)
	}

	// Sample the router's memory while the load runs.
	var rssMax atomic.Int64
	rssMax.Store(benchProcRSS(pid))
	sampleStop := make(chan struct{})
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampleStop:
				return
			case <-t.C:
				if v := benchProcRSS(pid); v > rssMax.Load() {
					rssMax.Store(v)
				}
			}
		}
	}()

	period := time.Duration(float64(time.Second) / rate)
	perConn := int(duration / period)
	const replyTimeout = 10 * time.Second
	var (
		histMu    sync.Mutex
		hist      = hdrhistogram.New(1, int64(2*replyTimeout/time.Microsecond), 3)
		sentHist  = hdrhistogram.New(1, int64(2*replyTimeout/time.Microsecond), 3)
		sent      atomic.Int64
		received  atomic.Int64
		lost      atomic.Int64
		firstLoss atomic.Value
		wg        sync.WaitGroup
	)
	rcpu0 := benchProcCPU(pid)
	cpu0 := benchSelfCPU()
	b.ResetTimer()
	begin := time.Now().Add(100 * time.Millisecond)
	for i, d := range dealers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := dmbRequest()
			binary.BigEndian.PutUint32(req[1][:4], uint32(i))
			offset := time.Duration(i) * period / time.Duration(conns)
			for k := range perConn {
				intended := begin.Add(offset + time.Duration(k)*period)
				time.Sleep(time.Until(intended))
				binary.BigEndian.PutUint64(req[1][8:], uint64(k))
				sentAt := time.Now()
				if err := d.Send(req); err != nil {
					lost.Add(1)
					firstLoss.CompareAndSwap(nil, fmt.Errorf("DEALER %d request %d: send: %w", i, k, err))
					return
				}
				sent.Add(1)
				_ = d.SetRecvDeadline(time.Now().Add(replyTimeout))
				m, err := d.Recv()
				if err == nil && (len(m) != 4 || string(m[1]) != string(req[1])) {
					err = fmt.Errorf("reply %q is not the request's echo", m)
				}
				if err != nil {
					lost.Add(1)
					firstLoss.CompareAndSwap(nil, fmt.Errorf("DEALER %d request %d: %w", i, k, err))
					return
				}
				received.Add(1)
				now := time.Now()
				histMu.Lock()
				_ = hist.RecordValue(now.Sub(intended).Microseconds())
				_ = sentHist.RecordValue(now.Sub(sentAt).Microseconds())
				histMu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	b.StopTimer()
	rcpu := benchProcCPU(pid) - rcpu0
	cpu := benchSelfCPU() - cpu0
	close(sampleStop)
	<-sampleDone

	want := int64(conns * perConn)
	if err, _ := firstLoss.Load().(error); err != nil || received.Load() != want {
		b.Errorf("%d of %d requests lost (sent %d, replies %d); first: %v", want-received.Load(), want, sent.Load(), received.Load(), err)
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	b.ReportMetric(float64(conns), "conns")
	b.ReportMetric(connectTime.Seconds(), "connect-s")
	b.ReportMetric(float64(received.Load())/elapsed.Seconds(), "rt/s")
	b.ReportMetric(float64(want-received.Load()), "lost")
	b.ReportMetric(ms(hist.ValueAtQuantile(50)), "p50-ms")
	b.ReportMetric(ms(hist.ValueAtQuantile(99)), "p99-ms")
	b.ReportMetric(ms(hist.ValueAtQuantile(99.9)), "p99.9-ms")
	b.ReportMetric(ms(hist.Max()), "max-ms")
	b.ReportMetric(ms(sentHist.ValueAtQuantile(99)), "sent-p99-ms")
	if rss0 > 0 && rssMax.Load() > 0 {
		b.ReportMetric(float64(rssMax.Load()-rss0)/float64(conns), "router-rss-B/conn")
	}
	if rcpu >= 0 {
		b.ReportMetric(float64(rcpu)/float64(elapsed)*100, "router-cpu-%")
	}
	b.ReportMetric(float64(cpu)/float64(elapsed)*100, "client-cpu-%")
}

// benchRaiseFDLimit raises this process's open-file limit to n, failing the benchmark
// with the command to fix it if the hard limit is lower.
func benchRaiseFDLimit(b *testing.B, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		b.Fatalf("open-file hard limit %d < %d: raise it (e.g. `ulimit -Hn %d` as root) or pass a smaller -dmbench.tenk.conns", lim.Max, n, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(errors.Join(fmt.Errorf("raising the open-file limit to %d", n), err))
	}
}
