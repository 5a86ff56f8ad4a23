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
		res := midStage(t, Config{Plan: plan, Addr: addr, IOLoops: loops, Drain: time.Second}, func() { n = runtime.NumGoroutine() })
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
