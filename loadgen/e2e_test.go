package loadgen

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// End-to-end tests: the engine against the reference broker over real sockets on
// 127.0.0.1, and the measurement-truth tests of MEASUREMENT.md against its fault
// injection. The truth tests are time-based by nature; they run in parallel (each with
// its own broker) so the package stays well under a minute.

// startBroker starts a broker on a kernel-chosen loopback port and closes it at the end
// of the test. It returns the broker and the time just before it started (pause windows
// are aligned to its start).
func startBroker(t *testing.T, cfg broker.Config) (*broker.Server, time.Time) {
	t.Helper()
	cfg.Addr = "tcp://127.0.0.1:0"
	t0 := time.Now()
	srv, err := broker.Start(cfg)
	if err != nil {
		t.Fatalf("starting the broker: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, t0
}

// runPlan runs plan against srv and fails the test on an error.
func runPlan(t *testing.T, srv *broker.Server, plan Plan, edit func(*Config)) *Result {
	t.Helper()
	if plan.Timeout == 0 {
		plan.Timeout = 2 * time.Second
	}
	plan.Seed = 42
	cfg := Config{Plan: plan, Addr: srv.Addr()}
	if edit != nil {
		edit(&cfg)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i := range res.Stages {
		checkBalance(t, res.Stages[i].Name, sumCounts(&res.Stages[i]))
	}
	return res
}

// vouched runs a measurement up to attempts times until the generator vouches for it
// and returns that result, or fails the test and returns nil when it never did. By
// default a result is vouched for when it is not generator-bound; accept, if given,
// replaces that with the check that matters for the figure under test. The truth tests
// compare figures with values worked out on paper; a bound result measures the machine
// (a busy CI box, the race detector), not the broker, and says so itself, so it is
// measured again rather than compared.
func vouched(t *testing.T, attempts int, measure func() *Result, accept ...func(*Result) []string) *Result {
	t.Helper()
	check := func(r *Result) []string { return r.Generator.Reasons }
	if len(accept) > 0 {
		check = accept[0]
	}
	var reasons []string
	for i := 1; i <= attempts; i++ {
		res := measure()
		if reasons = check(res); len(reasons) == 0 {
			return res
		}
		t.Logf("attempt %d of %d was generator-bound, measuring again: %q", i, attempts, reasons)
	}
	t.Errorf("the generator was bound in all %d attempts (last: %q), so there is nothing to check the broker against", attempts, reasons)
	return nil
}

// q returns quantile p (0–100) of h as a duration.
func q(h *hdrhistogram.Histogram, p float64) time.Duration {
	return time.Duration(h.ValueAtQuantile(p)) * time.Microsecond
}

// fractionAbove is the share of h's values above d.
func fractionAbove(h *hdrhistogram.Histogram, d time.Duration) float64 {
	if h.TotalCount() == 0 {
		return 0
	}
	limit := int64(d / time.Microsecond)
	var n int64
	for _, b := range h.Distribution() {
		if b.From > limit {
			n += b.Count
		}
	}
	return float64(n) / float64(h.TotalCount())
}

// pauseOverlap is the share of [from, from+d) inside the broker's pause windows
// [start + k·every, start + k·every + pause), k ≥ 1.
func pauseOverlap(start, from time.Time, d, pause, every time.Duration) float64 {
	var in time.Duration
	for k := 1; ; k++ {
		ws := start.Add(time.Duration(k) * every)
		we := ws.Add(pause)
		if !ws.Before(from.Add(d)) {
			break
		}
		lo, hi := maxTime(ws, from), minTime(we, from.Add(d))
		if hi.After(lo) {
			in += hi.Sub(lo)
		}
	}
	return in.Seconds() / d.Seconds()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// within checks got against want ± tol.
func within(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if d := got - want; d < -tol || d > tol {
		t.Errorf("%s = %v, want %v ± %v", what, got, want, tol)
	}
}

// TestTruthPause: a pause of P every T at a constant open-loop rate. Corrected p95 and
// p99 must match P − (1 − q)·T within max(10% of P, 5 ms), and the delayed fraction P/T
// within ±20%; a closed loop of one request in flight against the same pause must hide
// it (uncorrected p99 near the base latency).
func TestTruthPause(t *testing.T) {
	t.Parallel()
	const (
		pause = 100 * time.Millisecond
		every = time.Second
		dur   = 10500 * time.Millisecond // ten whole pauses whatever the phase
		rate  = 200.0                    // 1% of the broker's capacity: the backlog drains at once
	)
	tol := max(pause/10, 5*time.Millisecond)

	t.Run("open loop", func(t *testing.T) {
		t.Parallel()
		var start time.Time
		res := vouched(t, 4, func() *Result {
			var srv *broker.Server
			srv, start = startBroker(t, broker.Config{Faults: broker.Faults{Pause: pause, PauseEvery: every}})
			defer srv.Close()
			return runPlan(t, srv, Plan{Stages: []Stage{{
				Duration: dur, Clients: 2, Open: &Open{Rate: rate}, Mix: heartbeat(),
			}}}, nil)
		}, func(r *Result) []string {
			// The broker's figures are checked only when dmbench's own lateness is well
			// inside the tolerance: on a machine busy enough to send ms late (the race
			// detector beside other packages' tests), requests just before a pause fall
			// into it and the delayed share grows.
			reasons := r.Generator.Reasons
			if sd := q(r.Stages[0].Commands[0].SendDelay, 99); sd > tol/2 {
				reasons = append(reasons, fmt.Sprintf("send delay p99 %v, above half the %v tolerance", sd, tol))
			}
			return reasons
		})
		if res == nil {
			return
		}
		cr := res.Stages[0].Commands[0]
		f := pauseOverlap(start, res.Stages[0].Start, dur, pause, every)
		base := q(cr.Corrected, 50)
		// L(q) = base + P − (1 − q)·P/f, which is P − (1 − q)·T for whole periods.
		expect := func(p float64) time.Duration {
			return base + pause - time.Duration((1-p/100)*float64(pause)/f)
		}
		p95, p99 := q(cr.Corrected, 95), q(cr.Corrected, 99)
		delayed := fractionAbove(cr.Corrected, base+pause/10)
		t.Logf("open loop: %d requests, base (p50) %v, corrected p95 %v (expected %v), p99 %v (expected %v), max %v; "+
			"delayed (> base + P/10) %.2f%% (pause share %.2f%%); uncorrected p99 %v; send delay p99 %v",
			cr.OK, base, p95, expect(95), p99, expect(99), q(cr.Corrected, 100), 100*delayed, 100*f,
			q(cr.Uncorrected, 99), q(cr.SendDelay, 99))
		if cr.OK < uint64(rate*dur.Seconds()*0.98) || cr.Timeouts != 0 {
			t.Errorf("counts %+v: want every request answered", cr.Counts)
		}
		within(t, "corrected p95", p95, expect(95), tol)
		within(t, "corrected p99", p99, expect(99), tol)
		// Requests delayed by more than P/10 are 90% of those intended inside a pause.
		if want := 0.9 * f; delayed < 0.8*want || delayed > 1.2*want {
			t.Errorf("delayed fraction %.2f%%, want %.2f%% ± 20%%", 100*delayed, 100*want)
		}
		if got := q(cr.Corrected, 100); got < pause*8/10 {
			t.Errorf("corrected max %v, want ≈ the pause %v", got, pause)
		}
	})

	t.Run("closed loop hides it", func(t *testing.T) {
		t.Parallel()
		res := vouched(t, 3, func() *Result {
			srv, _ := startBroker(t, broker.Config{Faults: broker.Faults{Pause: pause, PauseEvery: every}})
			defer srv.Close()
			return runPlan(t, srv, Plan{Stages: []Stage{{
				Duration: dur, Clients: 1, Closed: &Closed{InFlight: 1, Think: time.Millisecond}, Mix: heartbeat(),
			}}}, nil)
		})
		if res == nil {
			return
		}
		cr := res.Stages[0].Commands[0]
		p50, p99, mx := q(cr.Uncorrected, 50), q(cr.Uncorrected, 99), q(cr.Uncorrected, 100)
		t.Logf("closed loop 1×1: %d requests, uncorrected p50 %v, p99 %v, max %v; corrected p99 %v",
			cr.OK, p50, p99, mx, q(cr.Corrected, 99))
		// About T/(base + think) requests per period, one of them slow: p99 stays at base.
		if p99 > pause/10 {
			t.Errorf("uncorrected p99 %v, want near the base latency (well below the %v pause)", p99, pause)
		}
		if mx < pause/2 {
			t.Errorf("uncorrected max %v: the loop never met a pause of %v", mx, pause)
		}
	})
}

// TestTruthLatency: a latency d added to every reply moves p50 by d ± max(10% of d, 1 ms).
func TestTruthLatency(t *testing.T) {
	t.Parallel()
	// 20 ms rather than a few: the broker's delay queue wakes on a Go timer, which on a
	// loaded VM fires up to ~1 ms late, and the tolerance is max(10%, 1 ms) of d.
	const d = 20 * time.Millisecond
	plan := Plan{Stages: []Stage{{Duration: 3 * time.Second, Clients: 1, Open: &Open{Rate: 200}, Mix: heartbeat()}}}
	p50 := make([]time.Duration, 2)
	p99 := make([]time.Duration, 2)
	t.Run("both", func(t *testing.T) {
		for i, lat := range []time.Duration{0, d} {
			t.Run(lat.String(), func(t *testing.T) {
				t.Parallel()
				// Medians are compared, so the median send delay is what must be small
				// (a steady offset, such as the race detector's ~0.7 ms, cancels in the
				// shift); a late tail, which flags the zero-latency run under the race
				// detector, does not move a median. Every other reason counts.
				res := vouched(t, 3, func() *Result {
					srv, _ := startBroker(t, broker.Config{Faults: broker.Faults{Latency: lat}})
					defer srv.Close()
					return runPlan(t, srv, plan, nil)
				}, func(r *Result) []string {
					var reasons []string
					for _, why := range r.Generator.Reasons {
						if !strings.HasPrefix(why, "requests left the generator late") {
							reasons = append(reasons, why)
						}
					}
					if sd := q(r.Stages[0].Commands[0].SendDelay, 50); sd > time.Millisecond {
						reasons = append(reasons, fmt.Sprintf("median send delay %v", sd))
					}
					return reasons
				})
				if res == nil {
					return
				}
				t.Logf("latency %v: corrected p50 %v, uncorrected p50 %v, send delay p50 %v", lat,
					q(res.Stages[0].Commands[0].Corrected, 50), q(res.Stages[0].Commands[0].Uncorrected, 50),
					q(res.Stages[0].Commands[0].SendDelay, 50))
				cr := res.Stages[0].Commands[0]
				p50[i], p99[i] = q(cr.Corrected, 50), q(cr.Corrected, 99)
			})
		}
	})
	if t.Failed() {
		return
	}
	shift := p50[1] - p50[0]
	t.Logf("added latency %v: corrected p50 %v → %v (shift %v), p99 %v → %v (shift %v)",
		d, p50[0], p50[1], shift, p99[0], p99[1], p99[1]-p99[0])
	within(t, "p50 shift", shift, d, max(d/10, time.Millisecond))
}

// TestTruthDroppedReplies: with a fraction f of replies dropped, about f of requests time
// out, each recorded at the timeout, so quantiles above 1 − f read ≥ τ; the timeouts equal
// the broker's count of dropped replies.
func TestTruthDroppedReplies(t *testing.T) {
	t.Parallel()
	const tau = 200 * time.Millisecond
	srv, _ := startBroker(t, broker.Config{Faults: broker.Faults{DropReplies: 0.1, Seed: 3}})
	res := runPlan(t, srv, Plan{Timeout: tau, Stages: []Stage{{
		Duration: 2 * time.Second, Clients: 1, Open: &Open{Rate: 300}, Mix: heartbeat(),
	}}}, nil)
	cr := res.Stages[0].Commands[0]
	rep := srv.Report()
	share := float64(cr.Timeouts) / float64(cr.Sent)
	t.Logf("dropped replies: %d sent, %d timeouts (%.1f%%), broker dropped %d; corrected p95 %v, p85 %v",
		cr.Sent, cr.Timeouts, 100*share, rep.Dropped.Replies, q(cr.Corrected, 95), q(cr.Corrected, 85))
	if cr.Timeouts != rep.Dropped.Replies {
		t.Errorf("%d timeouts, but the broker dropped %d replies", cr.Timeouts, rep.Dropped.Replies)
	}
	if share < 0.07 || share > 0.13 {
		t.Errorf("timeout share %.3f, want ≈ 0.1", share)
	}
	if got := q(cr.Corrected, 95); got < tau {
		t.Errorf("corrected p95 %v, want ≥ the %v timeout", got, tau)
	}
	// A timeout is recorded at τ plus its send delay, and an answered request is below
	// that, so nothing exceeds τ plus the largest send delay (to the histogram's 0.1%).
	if got, limit := q(cr.Corrected, 100), tau+q(cr.SendDelay, 100); got > limit+limit/500 {
		t.Errorf("corrected max %v, want at most the timeout %v plus the largest send delay (%v)", got, tau, limit)
	}
	if got := fractionAbove(cr.Corrected, tau-time.Millisecond); got < share {
		t.Errorf("%.3f of values at or above the timeout, want at least the %.3f that timed out", got, share)
	}
}

// TestBrokerCounts: the Result's counts equal the broker's own counters, command by
// command, for a mix that succeeds, fails and asks for reports, with each transport on both
// sides.
func TestBrokerCounts(t *testing.T) {
	for _, kind := range transport.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			testBrokerCounts(t, kind)
		})
	}
}

func testBrokerCounts(t *testing.T, kind transport.Kind) {
	srv, _ := startBroker(t, broker.Config{Transport: kind})
	mix := []Request{
		{Command: protocol.GroupAdd, Weight: 4, Ack: true, Group: names("room"), Channel: names("chan")},
		{Command: protocol.GroupDiscard, Weight: 2, Ack: true, Group: names("room"), Channel: names("chan")},
		{Command: protocol.Heartbeat, Weight: 2, Ack: true},
		{Command: protocol.Heartbeat, Weight: 1}, // without ack: no reply
		// A rare poll: building a report is the broker's dearest command (tens of ms
		// under the race detector), and it holds every other reply up.
		{Command: protocol.Performance, Weight: 0.2, Ack: true},
		{Command: "BOGUSCMD", Weight: 1, Ack: true}, // EXCEPTON
	}
	log := &intervalLog{}
	// The counts are the point here, not the latency: a generous timeout.
	res := runPlan(t, srv, Plan{Timeout: 10 * time.Second, Warmup: 300 * time.Millisecond, Stages: []Stage{
		{Name: "open", Duration: time.Second, Clients: 3, Open: &Open{Rate: 400, Poisson: true}, Mix: mix},
		{Name: "closed", Requests: 300, Clients: 2, Closed: &Closed{InFlight: 4}, Mix: mix},
	}}, func(c *Config) { c.Intervals = log; c.Transport = kind })
	rep := srv.Report()

	byCmd := map[protocol.Command]*Counts{}
	add := func(sr *StageResult) {
		for _, cr := range sr.Commands {
			if byCmd[cr.Command] == nil {
				byCmd[cr.Command] = &Counts{}
			}
			byCmd[cr.Command].Add(cr.Counts)
		}
	}
	for i := range res.Stages {
		add(&res.Stages[i])
	}
	if res.Warmup == nil {
		t.Fatal("no warm-up result")
	}
	add(res.Warmup)
	if n := sumCounts(&res.Stages[1]).Sent; n != 300 {
		t.Errorf("closed stage sent %d, want its 300", n)
	}

	server := func(c protocol.Command) protocol.CommandCounts {
		switch c {
		case protocol.Performance:
			return rep.Reports
		case "BOGUSCMD":
			return rep.Commands[protocol.UnknownCommand]
		}
		return rep.Commands[string(c)]
	}
	for cmd, c := range byCmd {
		s := server(cmd)
		t.Logf("%s: client sent %d (no ack %d), OK %d, exceptions %d, unexpected %d; broker received %d, completed %d, exceptions %d",
			cmd, c.Sent, c.NoAck, c.OK, c.Exceptions, c.Unexpected, s.Received, s.Completed, s.Exceptions)
		// Requests without ack are handled (and succeed) but not answered.
		if c.Sent != s.Received || c.OK+c.NoAck != s.Completed || c.Exceptions != s.Exceptions {
			t.Errorf("%s: client %+v, broker %+v", cmd, *c, s)
		}
		if c.Timeouts+c.Abandoned+c.SendErrors+c.Duplicates+c.Late+c.Unexpected != 0 {
			t.Errorf("%s: %+v: want nothing lost against a healthy broker", cmd, *c)
		}
	}
	if c := byCmd["BOGUSCMD"]; c == nil || c.Exceptions == 0 || c.OK != 0 {
		t.Errorf("an unknown command should get EXCEPTON every time: %+v", c)
	}
	var ivSent uint64
	for _, iv := range log.ivs {
		ivSent += iv.Counts.Sent
	}
	var all Counts
	for _, c := range byCmd {
		all.Add(*c)
	}
	if ivSent != all.Sent {
		t.Errorf("intervals hold %d sends, the result %d", ivSent, all.Sent)
	}
	if res.Connections.Connected != 3 || res.Connections.ConnectFailed != 0 || res.Connections.ConnectTime.TotalCount() != 3 {
		t.Errorf("connections %+v: want 3 connected (the closed stage closes one)", res.Connections)
	}
}

// TestCompat021: against the DMB 0.2.1 compatibility mode, HARTBEAT echoed as HARTBEAT is
// OK, PERFMNCE echoed back unchanged is Unexpected (not a report), GROUPADD gets COMPLETE,
// and the counts add up with the broker's.
func TestCompat021(t *testing.T) {
	t.Parallel()
	srv, _ := startBroker(t, broker.Config{Compat: broker.DMB021})
	res := runPlan(t, srv, Plan{Stages: []Stage{{
		Duration: time.Second, Clients: 2, Open: &Open{Rate: 300},
		Mix: []Request{
			{Command: protocol.Heartbeat, Weight: 1, Ack: true},
			{Command: protocol.Performance, Weight: 1, Ack: true},
			{Command: protocol.GroupAdd, Weight: 1, Ack: true, Group: names("g"), Channel: names("c")},
		},
	}}}, nil)
	rep := srv.Report()
	sr := &res.Stages[0]
	hb, pf, ga := sr.Commands[0], sr.Commands[1], sr.Commands[2]
	t.Logf("0.2.1: HARTBEAT %+v; PERFMNCE %+v; GROUPADD %+v", hb.Counts, pf.Counts, ga.Counts)
	if hb.Sent == 0 || hb.OK != hb.Sent || hb.Unexpected != 0 {
		t.Errorf("HARTBEAT %+v: the echo is the expected answer, want all OK", hb.Counts)
	}
	if pf.Sent == 0 || pf.Unexpected != pf.Sent || pf.OK != 0 {
		t.Errorf("PERFMNCE %+v: an echo is not a report, want all Unexpected", pf.Counts)
	}
	if ga.Sent == 0 || ga.OK != ga.Sent {
		t.Errorf("GROUPADD %+v: want all COMPLETE", ga.Counts)
	}
	// 0.2.1 has no handler for HARTBEAT or PERFMNCE: the broker counts them as failures.
	if rep.Commands[string(protocol.Heartbeat)].Received != hb.Sent || rep.Commands[string(protocol.Heartbeat)].Exceptions != hb.OK {
		t.Errorf("broker HARTBEAT %+v, client %+v", rep.Commands[string(protocol.Heartbeat)], hb.Counts)
	}
	if rep.Reports.Received != pf.Sent || rep.Reports.Exceptions != pf.Unexpected {
		t.Errorf("broker PERFMNCE %+v, client %+v", rep.Reports, pf.Counts)
	}
	if g := rep.Commands[string(protocol.GroupAdd)]; g.Received != ga.Sent || g.Completed != ga.OK {
		t.Errorf("broker GROUPADD %+v, client %+v", g, ga.Counts)
	}
}

// TestStallFault: a connection with several requests in flight gets stuck on the broker's
// 0.2.1 stall; nothing else connects to free it, so requests time out and a stall is
// reported, and the run still ends.
func TestStallFault(t *testing.T) {
	t.Parallel()
	srv, _ := startBroker(t, broker.Config{Faults: broker.Faults{Stall: true}})
	res := runPlan(t, srv, Plan{Timeout: 700 * time.Millisecond, Stages: []Stage{{
		Duration: 2 * time.Second, Clients: 1, Closed: &Closed{InFlight: 8}, Mix: heartbeat(),
	}}}, func(c *Config) { c.StallThreshold = 300 * time.Millisecond })
	c := sumCounts(&res.Stages[0])
	t.Logf("stall fault: %+v; stalls %d", c, len(res.Stalls))
	for _, s := range res.Stalls {
		t.Logf("  stall %v → %v (%v), %d outstanding", s.Start.Sub(res.Start), s.End.Sub(res.Start), s.End.Sub(s.Start), s.Outstanding)
	}
	if c.Timeouts == 0 {
		t.Errorf("no timeouts against a stuck connection: %+v", c)
	}
	if len(res.Stalls) == 0 {
		t.Fatal("no stall reported")
	}
	var longest time.Duration
	for _, s := range res.Stalls {
		longest = max(longest, s.End.Sub(s.Start))
		if s.Outstanding < 1 || s.Outstanding > 8 {
			t.Errorf("stall with %d outstanding, want 1–8 (8 in flight)", s.Outstanding)
		}
	}
	if longest < 300*time.Millisecond {
		t.Errorf("longest stall %v, want ≥ the 300 ms threshold", longest)
	}
}

// TestServerGone: a broker that disappears mid-run gives disconnects, timeouts, a stall
// and a result, not a hang.
func TestServerGone(t *testing.T) {
	t.Parallel()
	// Replies held 200 ms, so about 40 requests are outstanding when the broker goes.
	srv, _ := startBroker(t, broker.Config{Faults: broker.Faults{Latency: 200 * time.Millisecond}})
	time.AfterFunc(time.Second, func() { _ = srv.Close() })
	t0 := time.Now()
	res := runPlan(t, srv, Plan{Timeout: 800 * time.Millisecond, Stages: []Stage{{
		Duration: 2 * time.Second, Clients: 2, Open: &Open{Rate: 200}, Mix: heartbeat(),
	}}}, func(c *Config) { c.StallThreshold = 300 * time.Millisecond })
	took := time.Since(t0)
	c := sumCounts(&res.Stages[0])
	t.Logf("server gone after 1 s: took %v; %+v; disconnects %d; stalls %+v", took, c, res.Connections.Disconnects, res.Stalls)
	if took > 6*time.Second {
		t.Errorf("Run took %v for a 2 s stage with 0.8 s timeouts", took)
	}
	if res.Connections.Disconnects != 2 {
		t.Errorf("%d disconnects, want the 2 clients'", res.Connections.Disconnects)
	}
	if c.Timeouts < 20 || c.OK < 100 {
		t.Errorf("counts %+v: want the replies before the end and timeouts for those held", c)
	}
	if len(res.Stalls) == 0 {
		t.Error("no stall reported")
	}
}

// TestGeneratorBound: a rate far above what one sender can do is flagged in plain words;
// a comfortable run is not. Not parallel: the self-watch reads the process's CPU.
func TestGeneratorBound(t *testing.T) {
	tests := []struct {
		name    string
		stage   Stage
		latency time.Duration
		bound   bool
		reason  string
	}{
		{
			name:  "5,000,000/s from one client",
			stage: Stage{Duration: 500 * time.Millisecond, Clients: 1, Open: &Open{Rate: 5e6}, Mix: heartbeat()},
			bound: true, reason: "could not keep up",
		},
		{
			// 100/s against a server that answers in 40 ms: timers and scheduling
			// noise stay far below the latency measured.
			name:    "100/s from one client",
			stage:   Stage{Duration: 2 * time.Second, Clients: 1, Open: &Open{Rate: 100}, Mix: heartbeat()},
			latency: 40 * time.Millisecond,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			measure := func() *Result {
				srv, _ := startBroker(t, broker.Config{Faults: broker.Faults{Latency: tc.latency}})
				defer srv.Close()
				return runPlan(t, srv, Plan{Timeout: time.Second, Stages: []Stage{tc.stage}}, nil)
			}
			var res *Result
			if tc.bound {
				res = measure()
			} else if res = vouched(t, 3, measure); res == nil {
				return
			}
			g := res.Generator
			t.Logf("bound %v; achieved %.4f; send delay p99 %v; corrected p99 %v; CPU %.2f s over %v on %d procs; GC max %v; reasons %q",
				g.Bound, g.AchievedRatio, g.SendDelayP99, q(res.Stages[0].Commands[0].Corrected, 99),
				g.CPUSeconds, res.End.Sub(res.Start).Round(time.Millisecond), g.GOMAXPROCS, g.GCPauseMax, g.Reasons)
			if g.Bound != tc.bound {
				t.Errorf("bound %v (%q), want %v", g.Bound, g.Reasons, tc.bound)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(g.Reasons, "; "), tc.reason) {
				t.Errorf("reasons %q, want one saying %q", g.Reasons, tc.reason)
			}
			if g.CPUSeconds <= 0 || g.GOMAXPROCS < 1 || math.IsNaN(g.AchievedRatio) {
				t.Errorf("generator stats %+v", g)
			}
		})
	}
}

// TestReconnect: with Config.Reconnect, clients come back when the broker does (on the
// same address); the disconnects, reconnections and the gap are all counted.
func TestReconnect(t *testing.T) {
	t.Parallel()
	first, _ := startBroker(t, broker.Config{})
	addr := first.Addr()
	var second *broker.Server
	restarted := make(chan error, 1)
	time.AfterFunc(700*time.Millisecond, func() { _ = first.Close() })
	time.AfterFunc(1100*time.Millisecond, func() {
		var err error
		second, err = broker.Start(broker.Config{Addr: addr})
		restarted <- err
	})
	res := runPlan(t, first, Plan{Timeout: 500 * time.Millisecond, Stages: []Stage{{
		Duration: 2500 * time.Millisecond, Clients: 2, Open: &Open{Rate: 200}, Mix: heartbeat(),
	}}}, func(c *Config) { c.Reconnect = true })
	if err := <-restarted; err != nil {
		t.Fatalf("restarting the broker on %s: %v", addr, err)
	}
	defer second.Close()
	c := sumCounts(&res.Stages[0])
	cs := res.Connections
	got := second.Report().Commands[string(protocol.Heartbeat)].Received
	t.Logf("reconnect: %+v; connections %d, failed %d, disconnects %d (most in a second: %d); second broker received %d",
		c, cs.Connected, cs.ConnectFailed, cs.Disconnects, cs.DisconnectsMax, got)
	if cs.Disconnects != 2 || cs.DisconnectsMax != 2 {
		t.Errorf("%d disconnects (%d in the worst second), want the 2 clients' in one second", cs.Disconnects, cs.DisconnectsMax)
	}
	if cs.Connected < 4 {
		t.Errorf("%d connections, want 2 and 2 reconnections", cs.Connected)
	}
	if got < 100 {
		t.Errorf("the restarted broker received %d requests, want the last second's ≈ 200 or more", got)
	}
	if c.SendErrors+c.Timeouts == 0 {
		t.Errorf("counts %+v: the gap left no trace", c)
	}
}
