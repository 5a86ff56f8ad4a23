package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/transport"
)

// BenchmarkIdleConnections measures what many mostly idle connections cost the
// generator: 1,000 DEALER connections to the reference broker (in this process, over
// 127.0.0.1) for a 3 s open-loop stage, idle (rate 0) and at 1 HARTBEAT/s each (Poisson),
// as the keepalive-storm scenario does at a fifth of its size. Each iteration is one run.
//
// It reports, over the stage only (connecting and draining excluded):
//
//	cpu-µs/conn-s   process CPU (user + system) per connection per second; the broker's
//	                CPU is included, since it shares the process
//	cpu-µs/req      the same per request sent (the 1/s case only)
//	wakeups/conn-s  receives that returned with no message (a receive deadline passed)
//	deadlines/conn-s SetRecvDeadline calls
//
// The wakeup and deadline figures depend on the engine alone, not on the machine's speed,
// so they show a change in the receivers' timer use without noise.
func BenchmarkIdleConnections(b *testing.B) {
	const clients = 1000
	const stage = 3 * time.Second
	for _, tc := range []struct {
		name       string
		perClient  float64 // requests per second per connection
		wantPerReq bool
	}{
		{name: "idle", perClient: 0},
		{name: "1perSec", perClient: 1, wantPerReq: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := broker.Start(broker.Config{Addr: "tcp://127.0.0.1:0"})
			if err != nil {
				b.Fatalf("starting the broker: %v", err)
			}
			defer srv.Close()
			var counts dealerCounts
			dial := counts.dial(transport.Native)
			plan := Plan{Timeout: 5 * time.Second, Seed: 1, Stages: []Stage{{
				Duration: stage, Clients: clients,
				Open: &Open{Rate: tc.perClient * clients, Poisson: true},
				Mix:  heartbeat(),
			}}}
			var cpu, connSecs float64
			var sent uint64
			var wakeups, deadlines int64
			b.ResetTimer()
			for range b.N {
				cs := startCPUSampler(10 * time.Millisecond)
				res, err := run(context.Background(), Config{Plan: plan, Addr: srv.Addr(), Drain: time.Second}, dial)
				samples := cs.stop()
				if err != nil {
					b.Fatal(err)
				}
				sr := &res.Stages[0]
				c := sumCounts(sr)
				if tc.perClient > 0 && c.OK != c.Sent {
					b.Fatalf("%d of %d requests OK: %+v", c.OK, c.Sent, c)
				}
				if res.Connections.Connected != clients {
					b.Fatalf("%d of %d clients connected", res.Connections.Connected, clients)
				}
				used, ok := cpuBetween(samples, sr.Start, sr.End)
				if !ok {
					b.Fatalf("no CPU samples cover the stage %v to %v", sr.Start, sr.End)
				}
				cpu += used
				connSecs += clients * sr.End.Sub(sr.Start).Seconds()
				sent += c.Sent
				w, d := counts.between(sr.Start, sr.End)
				wakeups += w
				deadlines += d
				counts.reset()
			}
			b.StopTimer()
			b.ReportMetric(cpu*1e6/connSecs, "cpu-µs/conn-s")
			b.ReportMetric(float64(wakeups)/connSecs, "wakeups/conn-s")
			b.ReportMetric(float64(deadlines)/connSecs, "deadlines/conn-s")
			if tc.wantPerReq {
				b.ReportMetric(cpu*1e6/float64(sent), "cpu-µs/req")
			}
		})
	}
}

// cpuSample is the process's CPU time (s) at a moment.
type cpuSample struct {
	at  time.Time
	cpu float64
}

// cpuSampler reads the process's CPU time every period until stopped.
type cpuSampler struct {
	stopc   chan struct{}
	done    chan struct{}
	samples []cpuSample
}

func startCPUSampler(period time.Duration) *cpuSampler {
	s := &cpuSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	take := func() {
		if v, ok := cpuTime(); ok {
			s.samples = append(s.samples, cpuSample{at: time.Now(), cpu: v})
		}
	}
	take()
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				take()
				return
			case <-t.C:
				take()
			}
		}
	}()
	return s
}

func (s *cpuSampler) stop() []cpuSample {
	close(s.stopc)
	<-s.done
	return s.samples
}

// cpuBetween is the CPU used from the first sample at or after from to the last at or
// before to (the samples are 10 ms apart, so the window loses at most that at each end).
func cpuBetween(samples []cpuSample, from, to time.Time) (float64, bool) {
	first, last := -1, -1
	for i, s := range samples {
		if first < 0 && !s.at.Before(from) {
			first = i
		}
		if !s.at.After(to) {
			last = i
		}
	}
	if first < 0 || last <= first {
		return 0, false
	}
	d := samples[last].cpu - samples[first].cpu
	// Scale to the whole window, so a per-second figure is not biased by the ends.
	span := samples[last].at.Sub(samples[first].at).Seconds()
	return d * to.Sub(from).Seconds() / span, true
}
