package broker

import (
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// expectedDrops replays the drop fault's generator: how many of n draws fall below f.
func expectedDrops(seed, stream uint64, f float64, n int) int {
	rng := mrand.New(mrand.NewPCG(seed, stream))
	d := 0
	for range n {
		if rng.Float64() < f {
			d++
		}
	}
	return d
}

// TestDropFaults sends n acked HARTBEATs on one connection: exactly the requests or
// replies the seeded generator picks are dropped, the report counts them, and only the
// others are answered.
func TestDropFaults(t *testing.T) {
	const n = 200
	tests := []struct {
		name   string
		faults Faults
		stream uint64
		f      float64
	}{
		{"requests", Faults{DropRequests: 0.3, Seed: 42}, 1, 0.3},
		{"replies", Faults{DropReplies: 0.25, Seed: 7}, 2, 0.25},
	}
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := expectedDrops(tt.faults.Seed, tt.stream, tt.f, n)
				if want < n/10 || want > n/2 {
					t.Fatalf("the seed drops %d of %d: pick another seed", want, n)
				}
				s := startBroker(t, kind, Config{Faults: tt.faults})
				c := dial(t, kind, s.Addr())
				for i := range n {
					c.send(protocol.Message{ID: []byte(fmt.Sprint(i)), Command: protocol.Heartbeat, Properties: protocol.Properties{Ack: true}})
				}
				for range n - want {
					if r := c.mustRecv(); r.Command != protocol.Heartbeat {
						t.Fatalf("reply %s", r.Command)
					}
				}
				c.expectSilence("every answer arrived")
				rep := s.Report()
				hb := rep.Commands["HARTBEAT"]
				switch tt.stream {
				case 1:
					if rep.Dropped.Requests != uint64(want) || hb.Received != uint64(n-want) || rep.Dropped.Replies != 0 {
						t.Errorf("dropped %+v, HARTBEAT received %d; want %d requests dropped, %d received", rep.Dropped, hb.Received, want, n-want)
					}
				case 2:
					if rep.Dropped.Replies != uint64(want) || hb.Completed != n || rep.Dropped.Requests != 0 {
						t.Errorf("dropped %+v, HARTBEAT completed %d; want %d replies dropped, %d completed", rep.Dropped, hb.Completed, want, n)
					}
				}
			})
		}
	})
}

// TestPauseFault sends one request at a time through two pause periods: the longest round
// trip shows the pause.
func TestPauseFault(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		const pause, every = 150 * time.Millisecond, 300 * time.Millisecond
		s := startBroker(t, kind, Config{Faults: Faults{Pause: pause, PauseEvery: every}})
		c := dial(t, kind, s.Addr())
		var worst time.Duration
		for start := time.Now(); time.Since(start) < 2*every+pause; {
			t0 := time.Now()
			c.heartbeat("hb")
			worst = max(worst, time.Since(t0))
		}
		if worst < pause/2 {
			t.Errorf("longest round trip %v, want a gap of at least %v from a %v pause", worst, pause/2, pause)
		}
	})
}

// TestLatencyFault: every reply is delayed by the latency, while service times stay far
// below it (the delay does not occupy the processing goroutine), so pipelined requests
// overlap their delays.
func TestLatencyFault(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		const latency, n = 80 * time.Millisecond, 10
		s := startBroker(t, kind, Config{Faults: Faults{Latency: latency}})
		c := dial(t, kind, s.Addr())
		t0 := time.Now()
		for i := range n {
			c.send(protocol.Message{ID: []byte(fmt.Sprint(i)), Command: protocol.Heartbeat, Properties: protocol.Properties{Ack: true}})
		}
		for i := range n {
			r := c.mustRecv()
			if string(r.ID) != fmt.Sprint(i) {
				t.Fatalf("reply %d has id %q: delayed replies out of order", i, r.ID)
			}
			if i == 0 && time.Since(t0) < latency {
				t.Errorf("first reply after %v, want ≥ %v", time.Since(t0), latency)
			}
		}
		h, err := protocol.DecodeHistogram(s.Report().Commands["HARTBEAT"].ServiceTime)
		if err != nil {
			t.Fatal(err)
		}
		if h.TotalCount() != n || time.Duration(h.Max())*time.Microsecond >= latency/2 {
			t.Errorf("service times: %d values, max %d µs; want %d values far below the %v latency", h.TotalCount(), h.Max(), n, latency)
		}
	})
}

// TestServiceTimeFault: each request occupies the processing goroutine for the service
// time, so service times are at least that and pipelined requests are served one after
// another.
func TestServiceTimeFault(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		const st, n = 20 * time.Millisecond, 5
		s := startBroker(t, kind, Config{Faults: Faults{ServiceTime: st}})
		c := dial(t, kind, s.Addr())
		t0 := time.Now()
		for i := range n {
			c.send(protocol.Message{ID: []byte(fmt.Sprint(i)), Command: protocol.Heartbeat, Properties: protocol.Properties{Ack: true}})
		}
		for range n {
			c.mustRecv()
		}
		if d := time.Since(t0); d < n*st {
			t.Errorf("%d pipelined requests answered in %v, want ≥ %v (served one at a time)", n, d, n*st)
		}
		h, err := protocol.DecodeHistogram(s.Report().Commands["HARTBEAT"].ServiceTime)
		if err != nil {
			t.Fatal(err)
		}
		if h.TotalCount() != n || h.Min() < st.Microseconds()-1 {
			t.Errorf("service times: %d values, min %d µs; want %d values ≥ %v", h.TotalCount(), h.Min(), n, st)
		}
	})
}

// TestStallFault: a connection with several requests waiting stalls until another
// connection sends; one with a single request in flight never does.
func TestStallFault(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		t.Run("one in flight", func(t *testing.T) {
			s := startBroker(t, kind, Config{Faults: Faults{Stall: true}})
			c := dial(t, kind, s.Addr())
			for i := range 50 {
				c.heartbeat(fmt.Sprint(i))
			}
		})
		t.Run("three in flight", func(t *testing.T) {
			// The service time makes sure the later requests wait while the first is served.
			s := startBroker(t, kind, Config{Faults: Faults{Stall: true, ServiceTime: 20 * time.Millisecond}})
			a, b := dial(t, kind, s.Addr()), dial(t, kind, s.Addr())
			for i := range 3 {
				a.send(protocol.Message{ID: []byte(fmt.Sprint(i)), Command: protocol.Heartbeat, Properties: protocol.Properties{Ack: true}})
			}
			got := 0
			for {
				if _, ok := a.recv(300 * time.Millisecond); !ok {
					break
				}
				got++
			}
			if got >= 3 {
				t.Fatalf("all %d pipelined requests answered, want a stall", got)
			}
			b.heartbeat("b")
			for i := got; i < 3; i++ {
				if r := a.mustRecv(); string(r.ID) != fmt.Sprint(i) {
					t.Fatalf("released reply id %q, want %d", r.ID, i)
				}
			}
			a.heartbeat("a")
		})
	})
}
