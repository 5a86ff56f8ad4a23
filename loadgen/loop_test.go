package loadgen

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// midStage runs plan against addr and calls sample once, about half a second into the
// first stage (from Run's progress goroutine), with the stage's clients connected.
func midStage(t testing.TB, cfg Config, sample func()) *Result {
	t.Helper()
	var mu sync.Mutex
	var stageAt time.Time
	var once sync.Once
	cfg.OnStage = func(_ int, _ string, at time.Time) {
		mu.Lock()
		stageAt = at
		mu.Unlock()
	}
	cfg.Progress = func(Progress) {
		mu.Lock()
		at := stageAt
		mu.Unlock()
		if !at.IsZero() && time.Since(at) > 500*time.Millisecond {
			once.Do(sample)
		}
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestLoopGoroutinesDoNotGrowWithConnections: with the clients on I/O loops, a run of 400
// mostly idle connections has about as many goroutines as one of 40 (the broker is in
// another process); with a receiver goroutine each (IOLoops −1) it has hundreds more,
// which shows that the count sees them.
func TestLoopGoroutinesDoNotGrowWithConnections(t *testing.T) {
	addr := startBrokerProcess(t)
	count := func(clients, loops int) int {
		plan := Plan{Timeout: 2 * time.Second, Seed: 1, Stages: []Stage{{
			Duration: 2 * time.Second, Clients: clients,
			Open: &Open{Rate: 0.5 * float64(clients), Poisson: true},
			Mix:  heartbeat(),
		}}}
		var n int
		res := midStage(t, Config{Plan: plan, Addr: addr, IOLoops: loops, Drain: time.Second, PacerKeepsP: true}, func() { n = runtime.NumGoroutine() })
		if res.Connections.Connected != uint64(clients) {
			t.Fatalf("%d of %d clients connected", res.Connections.Connected, clients)
		}
		if c := sumCounts(&res.Stages[0]); c.OK == 0 || c.OK != c.Sent {
			t.Fatalf("loops %d: %d of %d requests OK: %+v", loops, c.OK, c.Sent, c)
		}
		if n == 0 {
			t.Fatal("no goroutine count was taken during the stage")
		}
		return n
	}
	for _, tc := range []struct {
		name       string
		loops      int
		wantGrowth func(grew int) bool
		want       string
	}{
		{"on I/O loops", 0, func(grew int) bool { return grew < 20 }, "fewer than 20 more"},
		{"a goroutine each", -1, func(grew int) bool { return grew >= 360 }, "at least 360 more (one per connection)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			few, many := count(40, tc.loops), count(400, tc.loops)
			t.Logf("%d goroutines with 40 connections, %d with 400", few, many)
			if !tc.wantGrowth(many - few) {
				t.Errorf("%d goroutines with 40 connections, %d with 400: want %s", few, many, tc.want)
			}
		})
	}
}

// TestReplyTimes: an open-loop run on the default loop is served by the pacer's thread
// and times every reply by the kernel's receive timestamp (no reply timed by its read);
// N loops of their own time them the same way; without loops (a receiver goroutine
// each) the result says no loop timed them.
func TestReplyTimes(t *testing.T) {
	addr := startBrokerProcess(t)
	for _, tc := range []struct {
		name    string
		loops   int
		want    int // Replies.IOLoops
		pacerIO bool
		noRing  bool
	}{
		{"the pacer's loop", 0, 1, true, false},
		{"the pacer's loop on epoll", 0, 1, true, true},
		{"two loops", 2, 2, false, false},
		{"a goroutine each", -1, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := Plan{Timeout: 2 * time.Second, Seed: 1, Stages: []Stage{{
				Duration: time.Second, Clients: 20,
				Open: &Open{Rate: 200, Poisson: true},
				Mix:  heartbeat(),
			}}}
			res, err := Run(context.Background(), Config{Plan: plan, Addr: addr, IOLoops: tc.loops, Drain: time.Second, PacerKeepsP: true, NoIOUring: tc.noRing})
			if err != nil {
				t.Fatal(err)
			}
			c := sumCounts(&res.Stages[0])
			if c.OK == 0 || c.OK != c.Sent {
				t.Fatalf("%d of %d requests OK: %+v", c.OK, c.Sent, c)
			}
			rt := res.Generator.Replies
			t.Logf("%+v", rt)
			if rt.IOLoops != tc.want || rt.PacerIO != tc.pacerIO {
				t.Fatalf("replies on %d loops (pacer's: %v), want %d (%v)", rt.IOLoops, rt.PacerIO, tc.want, tc.pacerIO)
			}
			// This machine's kernel has io_uring: the pacer's loop runs on its ring.
			if want := tc.pacerIO && !tc.noRing; rt.IOUring != want {
				t.Fatalf("the loop on the pacer's io_uring: %v, want %v", rt.IOUring, want)
			}
			// The broker is in another process: the pacer keeps its P when it serves the loop.
			if keeps := res.Generator.Pacer.KeepsP; keeps != (tc.pacerIO && runtime.GOMAXPROCS(0) >= 2) {
				t.Fatalf("the pacer kept its P: %v, want %v", keeps, tc.pacerIO)
			}
			if tc.want == 0 {
				if rt.Kernel != 0 || rt.Read != 0 {
					t.Fatalf("without loops: %d stamped and %d read counted, want none", rt.Kernel, rt.Read)
				}
				return
			}
			// One read per reply at most, plus each connection's handshake. The kernel turns
			// stamping on a moment after the first socket asks (a deferred static key; and
			// off again a moment after the last one closes, as at the end of the subtest
			// before), so the handshakes' reads and a first few replies' may go unstamped.
			if rt.Read > 20+c.OK/4 || rt.Kernel < c.OK/2 || rt.Kernel+rt.Read > c.OK+20 {
				t.Fatalf("%d reads stamped by the kernel and %d by the read for %d replies: want the replies' all stamped, about one per reply", rt.Kernel, rt.Read, c.OK)
			}
			if rt.KernelWaitMax <= 0 || rt.KernelWaitMean > rt.KernelWaitMax {
				t.Fatalf("kernel wait mean %v, max %v: want 0 < mean <= max", rt.KernelWaitMean, rt.KernelWaitMax)
			}
		})
	}
}
