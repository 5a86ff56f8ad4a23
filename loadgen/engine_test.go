package loadgen

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/protocol"
)

// fixedNamer returns the same name every time.
type fixedNamer []byte

func (n fixedNamer) Next() []byte { return n }

func names(s string) func(int) Namer { return func(int) Namer { return fixedNamer(s) } }

// heartbeat is a one-command mix of HARTBEAT with ack.
func heartbeat() []Request {
	return []Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}}
}

// sumCounts adds the counts of every command of a stage result.
func sumCounts(sr *StageResult) Counts {
	var c Counts
	for _, cr := range sr.Commands {
		c.Add(cr.Counts)
	}
	return c
}

// checkBalance checks the invariant of Counts: every sent request with ack ends as
// exactly one of OK, Exceptions, Unexpected, Timeouts or Abandoned.
func checkBalance(t *testing.T, where string, c Counts) {
	t.Helper()
	acked := c.Sent - c.NoAck
	ended := c.OK + c.Exceptions + c.Unexpected + c.Timeouts + c.Abandoned
	if acked != ended {
		t.Errorf("%s: %d sent with ack, but %d ended (%+v)", where, acked, ended, c)
	}
}

// intervalLog collects intervals.
type intervalLog struct {
	mu  sync.Mutex
	ivs []Interval
	err error
}

func (l *intervalLog) Interval(iv Interval) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ivs = append(l.ivs, iv)
	return l.err
}

// TestRunFake runs the engine against the in-memory peer: counts, histograms and
// intervals add up for each way a server can answer.
func TestRunFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		plan    Plan
		handle  func(n int64, req *protocol.Message) ([][][]byte, time.Duration)
		check   func(t *testing.T, res *Result, c Counts)
		timeout time.Duration
		// straddle: some interval holds both warm-up and stage events.
		straddle bool
	}{
		{
			name: "open loop, every request answered",
			plan: Plan{Stages: []Stage{{
				Duration: 600 * time.Millisecond, Clients: 3, Open: &Open{Rate: 500},
				Mix: []Request{
					{Command: protocol.GroupAdd, Weight: 3, Ack: true, Group: names("g"), Channel: names("c")},
					{Command: protocol.Heartbeat, Weight: 1, Ack: true},
				},
			}}},
			handle: echoHandler,
			check: func(t *testing.T, res *Result, c Counts) {
				// 500/s for 0.6 s: exactly 300 intended times, split 100 per client.
				if c.Sent != 300 || c.OK != 300 {
					t.Errorf("sent %d, OK %d, want 300 and 300", c.Sent, c.OK)
				}
				ga, hb := res.Stages[0].Commands[0], res.Stages[0].Commands[1]
				if ga.Command != protocol.GroupAdd || hb.Command != protocol.Heartbeat {
					t.Fatalf("commands %s, %s; want the mix's order", ga.Command, hb.Command)
				}
				// Weights 3:1 with a seeded choice: about 225 and 75.
				if ga.Sent < 180 || ga.Sent > 270 {
					t.Errorf("GROUPADD sent %d of 300 at weight 3:1", ga.Sent)
				}
				for _, cr := range res.Stages[0].Commands {
					if cr.Corrected.TotalCount() != int64(cr.OK) || cr.Uncorrected.TotalCount() != int64(cr.OK) || cr.SendDelay.TotalCount() != int64(cr.Sent) {
						t.Errorf("%s: histograms hold %d/%d/%d values for %d OK, %d sent", cr.Command,
							cr.Corrected.TotalCount(), cr.Uncorrected.TotalCount(), cr.SendDelay.TotalCount(), cr.OK, cr.Sent)
					}
					if cr.Corrected.Max() < cr.Uncorrected.Max() {
						t.Errorf("%s: corrected max %d µs below uncorrected %d µs", cr.Command, cr.Corrected.Max(), cr.Uncorrected.Max())
					}
				}
				if res.Generator.AchievedRatio < 0.99 {
					t.Errorf("achieved ratio %.3f against an instant peer", res.Generator.AchievedRatio)
				}
			},
		},
		{
			name: "every 10th reply dropped: timeouts recorded at the timeout",
			plan: Plan{Timeout: 200 * time.Millisecond, Stages: []Stage{{
				Duration: 500 * time.Millisecond, Clients: 2, Open: &Open{Rate: 400}, Mix: heartbeat(),
			}}},
			handle: func(n int64, req *protocol.Message) ([][][]byte, time.Duration) {
				if n%10 == 0 {
					return nil, 0
				}
				return echoHandler(n, req)
			},
			check: func(t *testing.T, res *Result, c Counts) {
				if c.Sent != 200 || c.Timeouts != 20 || c.OK != 180 {
					t.Errorf("sent %d, timeouts %d, OK %d; want 200, 20, 180", c.Sent, c.Timeouts, c.OK)
				}
				h := res.Stages[0].Commands[0].Corrected
				// 10% at ≥ 200 ms: p95 reads the timeout.
				if p95 := time.Duration(h.ValueAtQuantile(95)) * time.Microsecond; p95 < 200*time.Millisecond || p95 > 220*time.Millisecond {
					t.Errorf("corrected p95 %v, want the 200 ms timeout", p95)
				}
				if p50 := time.Duration(h.ValueAtQuantile(50)) * time.Microsecond; p50 > 20*time.Millisecond {
					t.Errorf("corrected p50 %v, want an instant reply", p50)
				}
			},
		},
		{
			name: "duplicates, late replies, strangers and garbage are counted, not fatal",
			// A timeout far above an instant reply's round trip even under the race
			// detector on a loaded machine; the late replies come well after it.
			plan: Plan{Timeout: 500 * time.Millisecond, Stages: []Stage{{
				Requests: 80, Clients: 1, Open: &Open{Rate: 100}, Mix: heartbeat(),
			}}},
			handle: func(n int64, req *protocol.Message) ([][][]byte, time.Duration) {
				r := reply(req, protocol.Heartbeat)
				switch n % 4 {
				case 0:
					return [][][]byte{r, r}, 0 // a duplicate
				case 1:
					if n < 20 {
						return [][][]byte{r}, 550 * time.Millisecond // after the 500 ms timeout
					}
					return [][][]byte{r}, 0
				case 2:
					stranger := reply(req, protocol.Heartbeat)
					stranger[1] = []byte("not-our-id-at-all")
					return [][][]byte{r, stranger, {[]byte("garbage")}}, 0
				}
				return [][][]byte{reply(req, protocol.Exception)}, 0
			},
			check: func(t *testing.T, res *Result, c Counts) {
				sr := &res.Stages[0]
				// n = 1, 5, …, 17 come late (5, sent in the first 200 ms and answered by
				// 750 ms, while the stage still sends until 800 ms); the rest at once.
				if c.Sent != 80 || c.OK != 55 || c.Duplicates != 20 || c.Timeouts != 5 || c.Late != 5 || c.Exceptions != 20 {
					t.Errorf("counts %+v; want 80 sent, 55 OK, 20 duplicates, 5 timeouts (and late), 20 exceptions", c)
				}
				if sr.Unmatched != 20 || sr.Undecodable != 20 {
					t.Errorf("unmatched %d, undecodable %d; want 20 and 20", sr.Unmatched, sr.Undecodable)
				}
			},
		},
		{
			name: "closed loop bounded by count sends exactly that many",
			plan: Plan{Stages: []Stage{{
				Requests: 101, Clients: 4, Closed: &Closed{InFlight: 3}, Mix: heartbeat(),
			}}},
			handle: func(n int64, req *protocol.Message) ([][][]byte, time.Duration) {
				return [][][]byte{reply(req, protocol.Heartbeat)}, time.Millisecond
			},
			check: func(t *testing.T, res *Result, c Counts) {
				if c.Sent != 101 || c.OK != 101 {
					t.Errorf("sent %d, OK %d; want 101", c.Sent, c.OK)
				}
				if res.Generator.AchievedRatio != 1 {
					t.Errorf("achieved ratio %v for a closed loop, want 1", res.Generator.AchievedRatio)
				}
			},
		},
		{
			name: "closed loop with think time: one request per think",
			plan: Plan{Stages: []Stage{{
				Duration: 500 * time.Millisecond, Clients: 1, Closed: &Closed{InFlight: 1, Think: 50 * time.Millisecond}, Mix: heartbeat(),
			}}},
			handle: echoHandler,
			check: func(t *testing.T, res *Result, c Counts) {
				// Sends at 0, 50, …, 450 ms: 10, give or take timer slack.
				if c.Sent < 8 || c.Sent > 10 {
					t.Errorf("sent %d in 500 ms with 50 ms think, want about 10", c.Sent)
				}
			},
		},
		{
			name: "without ack: counted as sent, never timed",
			plan: Plan{Stages: []Stage{{
				Duration: 300 * time.Millisecond, Clients: 1, Closed: &Closed{InFlight: 2, Think: 10 * time.Millisecond},
				Mix: []Request{{Command: protocol.GroupAdd, Weight: 1, Group: names("g"), Channel: names("c")}},
			}}},
			handle: func(int64, *protocol.Message) ([][][]byte, time.Duration) { return nil, 0 },
			check: func(t *testing.T, res *Result, c Counts) {
				if c.Sent == 0 || c.NoAck != c.Sent || c.Timeouts != 0 || c.Abandoned != 0 {
					t.Errorf("counts %+v: want every send without ack and nothing timed", c)
				}
			},
		},
		{
			name: "warm-up recorded apart",
			plan: Plan{Warmup: 200 * time.Millisecond, Stages: []Stage{{
				Duration: 500 * time.Millisecond, Clients: 1, Open: &Open{Rate: 100}, Mix: heartbeat(),
			}}},
			handle:   echoHandler,
			straddle: true,
			check: func(t *testing.T, res *Result, c Counts) {
				if res.Warmup == nil {
					t.Fatal("no warm-up result")
				}
				w := sumCounts(res.Warmup)
				// Intended at 5, 15, …: 20 within 200 ms, 30 after.
				if w.Sent != 20 || c.Sent != 30 {
					t.Errorf("warm-up sent %d, stage %d; want 20 and 30", w.Sent, c.Sent)
				}
			},
		},
		{
			name: "stages change the number of clients",
			plan: Plan{Stages: []Stage{
				{Name: "two", Duration: 200 * time.Millisecond, Clients: 2, Open: &Open{Rate: 100}, Mix: heartbeat()},
				{Name: "four", Duration: 200 * time.Millisecond, Clients: 4, ConnectRate: 1000, Open: &Open{Rate: 100}, Mix: heartbeat()},
				{Name: "one", Duration: 200 * time.Millisecond, Clients: 1, Open: &Open{Rate: 100}, Mix: heartbeat()},
			}},
			handle: echoHandler,
			check: func(t *testing.T, res *Result, c Counts) {
				if len(res.Stages) != 3 {
					t.Fatalf("%d stage results, want 3", len(res.Stages))
				}
				if got := res.Connections.Connected; got != 4 {
					t.Errorf("%d connections, want 4 (2, then 2 more, then none)", got)
				}
				for i := range res.Stages {
					sc := sumCounts(&res.Stages[i])
					if sc.OK < 15 || sc.Sent != sc.OK {
						t.Errorf("stage %s: %+v", res.Stages[i].Name, sc)
					}
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &fakeServer{handle: tc.handle}
			if tc.plan.Timeout == 0 {
				tc.plan.Timeout = time.Second
			}
			tc.plan.Seed = 1
			log := &intervalLog{}
			res, err := run(context.Background(), Config{Plan: tc.plan, Addr: "fake", Intervals: log}, srv.dial)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			var total Counts
			for i := range res.Stages {
				sc := sumCounts(&res.Stages[i])
				checkBalance(t, res.Stages[i].Name, sc)
				total.Add(sc)
			}
			stageTotal := total
			var warmTotal Counts
			if res.Warmup != nil {
				warmTotal = sumCounts(res.Warmup)
				checkBalance(t, "warm-up", warmTotal)
				total.Add(warmTotal)
			}
			// The intervals hold every event exactly once, the warm-up's apart.
			var ivTotal, ivWarm Counts
			stageHists := map[protocol.Command]*hdrhistogram.Histogram{}
			straddles := 0
			for j, iv := range log.ivs {
				ivTotal.Add(iv.Counts)
				if iv.End.Sub(iv.Start) != time.Second || iv.Corrected == nil || iv.Uncorrected == nil {
					t.Errorf("interval %+v", iv)
				}
				if iv.Warmup {
					ivWarm.Add(iv.Counts)
				} else {
					if stageHists[iv.Command] == nil {
						stageHists[iv.Command] = NewHistogram()
					}
					stageHists[iv.Command].Merge(iv.Corrected)
				}
				if j > 0 {
					prev := log.ivs[j-1]
					if prev.Start.Equal(iv.Start) && prev.Command == iv.Command {
						if !prev.Warmup || iv.Warmup {
							t.Errorf("interval at %v of %s: parts in the order warm-up %v, %v; want the warm-up's first, once", iv.Start, iv.Command, prev.Warmup, iv.Warmup)
						}
						straddles++
					}
				}
			}
			if ivTotal != total {
				t.Errorf("intervals add up to %+v, the result to %+v", ivTotal, total)
			}
			if ivWarm != warmTotal {
				t.Errorf("the warm-up's intervals add up to %+v, the result's warm-up to %+v", ivWarm, warmTotal)
			}
			if tc.straddle != (straddles > 0) {
				t.Errorf("%d intervals with both warm-up and stage parts, want some: %v", straddles, tc.straddle)
			}
			// The stages' intervals merged are the stages' corrected histograms merged.
			for _, cmd := range []protocol.Command{protocol.GroupAdd, protocol.Heartbeat} {
				want := NewHistogram()
				for i := range res.Stages {
					for _, cr := range res.Stages[i].Commands {
						if cr.Command == cmd {
							want.Merge(cr.Corrected)
						}
					}
				}
				got := stageHists[cmd]
				if got == nil {
					got = NewHistogram()
				}
				if !got.Equals(want) {
					t.Errorf("%s: the stages' intervals merged hold %d values (max %d), the stages %d (max %d)",
						cmd, got.TotalCount(), got.Max(), want.TotalCount(), want.Max())
				}
			}
			if uint64(srv.reqs.Load()) != total.Sent {
				t.Errorf("the peer saw %d requests, the result says %d sent", srv.reqs.Load(), total.Sent)
			}
			tc.check(t, res, stageTotal)
		})
	}
}

// TestRunStall: a peer that stops answering gives timeouts, a stall and a result.
func TestRunStall(t *testing.T) {
	t.Parallel()
	srv := &fakeServer{handle: func(n int64, req *protocol.Message) ([][][]byte, time.Duration) {
		if n > 20 {
			return nil, 0 // gone silent after 20 requests (100 ms at 200/s)
		}
		return echoHandler(n, req)
	}}
	plan := Plan{Timeout: 300 * time.Millisecond, Stages: []Stage{{
		Duration: 800 * time.Millisecond, Clients: 1, Open: &Open{Rate: 200}, Mix: heartbeat(),
	}}}
	res, err := run(context.Background(), Config{Plan: plan, Addr: "fake", StallThreshold: 200 * time.Millisecond}, srv.dial)
	if err != nil {
		t.Fatal(err)
	}
	c := sumCounts(&res.Stages[0])
	if c.OK != 20 || c.Timeouts != c.Sent-20 || c.Abandoned != 0 {
		t.Errorf("counts %+v; want 20 OK and the rest timed out", c)
	}
	if len(res.Stalls) != 1 {
		t.Fatalf("stalls %+v, want one", res.Stalls)
	}
	s := res.Stalls[0]
	start, end := s.Start.Sub(res.Start), s.End.Sub(res.Start)
	// The last reply came at ≈ 100 ms; nothing after. The stall ends when the run does
	// or when the last request times out.
	if start < 50*time.Millisecond || start > 200*time.Millisecond {
		t.Errorf("stall starts %v into the run, want ≈ 100 ms (the last reply)", start)
	}
	if end < 800*time.Millisecond {
		t.Errorf("stall ends %v into the run, want after the stage's end", end)
	}
	if s.Outstanding < 30 {
		t.Errorf("stall outstanding %d, want the ≈ 60 requests of 300 ms at 200/s", s.Outstanding)
	}
}

// TestRunInterrupt: cancelling stops sending, drains for Config.Drain, counts the rest as
// abandoned, and returns the result without an error.
func TestRunInterrupt(t *testing.T) {
	t.Parallel()
	srv := &fakeServer{handle: func(n int64, req *protocol.Message) ([][][]byte, time.Duration) {
		if n%2 == 0 {
			return nil, 0 // never answered within the run
		}
		return echoHandler(n, req)
	}}
	plan := Plan{Timeout: time.Minute, Stages: []Stage{
		{Duration: time.Hour, Clients: 2, Open: &Open{Rate: 100}, Mix: heartbeat()},
		{Duration: time.Hour, Clients: 2, Open: &Open{Rate: 100}, Mix: heartbeat()},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	t0 := time.Now()
	res, err := run(ctx, Config{Plan: plan, Addr: "fake", Drain: 100 * time.Millisecond}, srv.dial)
	if err != nil {
		t.Fatalf("an interrupt is not an error: %v", err)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("run took %v after a 300 ms interrupt with a 100 ms drain", took)
	}
	if !res.Interrupted || len(res.Stages) != 1 {
		t.Errorf("interrupted %v, %d stages; want true and 1", res.Interrupted, len(res.Stages))
	}
	c := sumCounts(&res.Stages[0])
	if c.Abandoned == 0 || c.OK == 0 || c.Abandoned+c.OK != c.Sent {
		t.Errorf("counts %+v; want half OK and half abandoned", c)
	}
}

// TestRunNoConnection: when no client can connect, Run says so.
func TestRunNoConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		connectRate float64
	}{
		{"all at once", 0},
		{"paced", 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &fakeServer{handle: echoHandler, dialErr: errRefused}
			plan := Plan{Timeout: time.Second, Stages: []Stage{{
				Duration: 100 * time.Millisecond, Clients: 3, ConnectRate: tc.connectRate, Open: &Open{Rate: 100}, Mix: heartbeat(),
			}}}
			res, err := run(context.Background(), Config{Plan: plan, Addr: "tcp://127.0.0.1:1"}, srv.dial)
			if err == nil || !strings.Contains(err.Error(), "no client could connect") || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("error %v, want one saying no client could connect, and why", err)
			}
			if res == nil || res.Connections.ConnectFailed != 3 {
				t.Errorf("result %+v, want 3 connect failures", res)
			}
		})
	}
}

// TestRunGeneratorBoundFake: a rate far beyond one sender is flagged even against an
// instant peer. (A comfortable run, not flagged, is in e2e_test.go.)
func TestRunGeneratorBoundFake(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		bound bool
	}{
		{"impossible", 5e6, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &fakeServer{handle: echoHandler}
			plan := Plan{Timeout: time.Second, Stages: []Stage{{
				Duration: 300 * time.Millisecond, Clients: 1, Open: &Open{Rate: tc.rate}, Mix: heartbeat(),
			}}}
			res, err := run(context.Background(), Config{Plan: plan, Addr: "fake"}, srv.dial)
			if err != nil {
				t.Fatal(err)
			}
			g := res.Generator
			t.Logf("%s: bound %v, achieved %.4f, send delay p99 %v, CPU %.2fs, GC max %v, reasons %q",
				tc.name, g.Bound, g.AchievedRatio, g.SendDelayP99, g.CPUSeconds, g.GCPauseMax, g.Reasons)
			if g.Bound != tc.bound {
				t.Errorf("bound %v (%q), want %v", g.Bound, g.Reasons, tc.bound)
			}
			if tc.bound && g.AchievedRatio >= BoundAchievedRatio {
				t.Errorf("achieved ratio %.3f at %g/s from one sender", g.AchievedRatio, tc.rate)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := func() Config {
		return Config{Addr: "tcp://127.0.0.1:5557", Plan: Plan{Name: "p", Timeout: time.Second, Stages: []Stage{{
			Duration: time.Second, Clients: 1, Open: &Open{Rate: 1}, Mix: heartbeat(),
		}}}}
	}
	cfg := ok()
	if err := validate(&cfg); err != nil || cfg.Transport == "" || cfg.StallThreshold != time.Second {
		t.Errorf("valid config: error %v, transport %q, stall threshold %v; want no error and the defaults filled", err, cfg.Transport, cfg.StallThreshold)
	}
	cfg = ok()
	cfg.Addr = ""
	if err := validate(&cfg); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Errorf("no address: error %v, want one saying so", err)
	}
	cfg = ok()
	cfg.Plan.Stages[0].Clients = 0
	var problems PlanErrors
	if err := validate(&cfg); !errors.As(err, &problems) || problems[0].Path() != "stages[0].clients" {
		t.Errorf("bad plan: error %v, want Plan.Validate's PlanErrors (its rules: validate_test.go)", err)
	}
}

// TestRunSinkError: a failing interval sink stops the log but not the run.
func TestRunSinkError(t *testing.T) {
	t.Parallel()
	srv := &fakeServer{handle: echoHandler}
	log := &intervalLog{err: errors.New("disk full")}
	plan := Plan{Timeout: time.Second, Stages: []Stage{{
		Duration: 1200 * time.Millisecond, Clients: 1, Open: &Open{Rate: 50}, Mix: heartbeat(),
	}}}
	res, err := run(context.Background(), Config{Plan: plan, Addr: "fake", Intervals: log}, srv.dial)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want the sink's", err)
	}
	if res == nil || sumCounts(&res.Stages[0]).OK != 60 {
		t.Errorf("the run did not go on: %+v", res)
	}
	if len(log.ivs) != 1 {
		t.Errorf("the sink was called %d times, want once (then never again)", len(log.ivs))
	}
}

// TestRunProgress: Progress is called about once a second with the run's figures.
func TestRunProgress(t *testing.T) {
	t.Parallel()
	srv := &fakeServer{handle: echoHandler}
	var mu sync.Mutex
	var got []Progress
	plan := Plan{Timeout: time.Second, Stages: []Stage{{
		Name: "steady", Duration: 2500 * time.Millisecond, Clients: 2, Open: &Open{Rate: 100}, Mix: heartbeat(),
	}}}
	_, err := run(context.Background(), Config{Plan: plan, Addr: "fake", Progress: func(p Progress) {
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}}, srv.dial)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 1 || len(got) > 3 {
		t.Fatalf("%d progress calls in 2.5 s, want 1 or 2", len(got))
	}
	p := got[0]
	if p.Stage != "steady" || p.TargetRate != 100 || p.Total != 2500*time.Millisecond || p.Connected != 2 {
		t.Errorf("progress %+v", p)
	}
	if p.AchievedRate < 90 || p.AchievedRate > 110 {
		t.Errorf("achieved rate %v in the first interval, want ≈ 100", p.AchievedRate)
	}
}

// TestRunProgressErrors: the progress line counts errors as the summary does
// (Counts.Errors), so duplicates and replies tied to no request are not among them.
func TestRunProgressErrors(t *testing.T) {
	t.Parallel()
	srv := &fakeServer{handle: func(n int64, req *protocol.Message) ([][][]byte, time.Duration) {
		cmd := req.Command.ExpectedReply()
		if n%4 == 0 {
			cmd = protocol.Exception
		}
		stranger := reply(req, cmd)
		stranger[1] = []byte("a stranger's id")
		return [][][]byte{reply(req, cmd), reply(req, cmd), stranger}, 0
	}}
	log := &intervalLog{}
	var mu sync.Mutex
	var errs []int64  // Progress.Errors at each call
	var want []uint64 // Counts.Errors of the intervals handed on before it
	plan := Plan{Timeout: time.Second, Stages: []Stage{{
		Name: "steady", Duration: 2200 * time.Millisecond, Clients: 1, Open: &Open{Rate: 100}, Mix: heartbeat(),
	}}}
	res, err := run(context.Background(), Config{Plan: plan, Addr: "fake", Intervals: log, Progress: func(p Progress) {
		log.mu.Lock()
		var n uint64
		for _, iv := range log.ivs {
			n += iv.Counts.Errors()
		}
		log.mu.Unlock()
		mu.Lock()
		errs, want = append(errs, p.Errors), append(want, n)
		mu.Unlock()
	}}, srv.dial)
	if err != nil {
		t.Fatal(err)
	}
	c := sumCounts(&res.Stages[0])
	if c.Exceptions == 0 || c.Duplicates == 0 || res.Stages[0].Unmatched == 0 {
		t.Fatalf("counts %+v, unmatched %d: want exceptions, duplicates and unmatched replies", c, res.Stages[0].Unmatched)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 {
		t.Fatal("no progress call")
	}
	for i := range errs {
		if uint64(errs[i]) != want[i] || errs[i] == 0 {
			t.Errorf("progress call %d: %d errors, want %d (the exceptions of the intervals so far)", i, errs[i], want[i])
		}
	}
}

// TestRunConnecting: paced connects, dial retries with Reconnect, and a count-bounded
// stage that cannot connect ends instead of waiting for ever.
func TestRunConnecting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failFirst int64 // dials that fail before the peer accepts
		reconnect bool
		stage     Stage
		check     func(t *testing.T, srv *fakeServer, res *Result, err error)
	}{
		{
			name:  "10 clients at 50/s are dialled 20 ms apart",
			stage: Stage{Duration: 400 * time.Millisecond, Clients: 10, ConnectRate: 50, Open: &Open{Rate: 200}, Mix: heartbeat()},
			check: func(t *testing.T, srv *fakeServer, res *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				srv.mu.Lock()
				first, last := srv.dialTimes[0], srv.dialTimes[len(srv.dialTimes)-1]
				srv.mu.Unlock()
				if span := last.Sub(first); span < 150*time.Millisecond || span > 300*time.Millisecond {
					t.Errorf("dials spread over %v, want ≈ 180 ms (9 gaps of 20 ms)", span)
				}
				// Each client joins the schedule when connected: the stage sends less than
				// the full 80 (clients 5–9 miss 100–180 ms of it), but more than half.
				if c := sumCounts(&res.Stages[0]); c.Sent < 50 || c.Sent > 80 || c.OK != c.Sent {
					t.Errorf("counts %+v", c)
				}
				if res.Connections.Connected != 10 || res.Connections.ConnectTime.TotalCount() != 10 {
					t.Errorf("connections %+v", res.Connections)
				}
			},
		},
		{
			name:      "with Reconnect, failed dials are retried and the clients join late",
			failFirst: 4, reconnect: true,
			stage: Stage{Duration: time.Second, Clients: 2, Open: &Open{Rate: 100}, Mix: heartbeat()},
			check: func(t *testing.T, srv *fakeServer, res *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				cs := res.Connections
				if cs.ConnectFailed != 4 || cs.Connected != 2 {
					t.Errorf("connections %+v: want 4 failures, then 2 connected", cs)
				}
				// Retries after 100 and 200 ms: the clients join ≈ 300 ms late.
				if c := sumCounts(&res.Stages[0]); c.Sent < 40 || c.Sent > 90 || c.OK != c.Sent {
					t.Errorf("counts %+v: want the last ≈ 70%% of the schedule", c)
				}
			},
		},
		{
			name:      "a count-bounded stage against a dead address ends, with Reconnect",
			failFirst: 1 << 40, reconnect: true,
			stage: Stage{Requests: 100, Clients: 3, Open: &Open{Rate: 100}, Mix: heartbeat()},
			check: func(t *testing.T, srv *fakeServer, res *Result, err error) {
				if err == nil || !strings.Contains(err.Error(), "no client could connect") {
					t.Errorf("error %v, want no client could connect", err)
				}
				if res == nil || res.Connections.ConnectFailed != 3 {
					t.Errorf("result %+v, want 3 failed first attempts", res)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &fakeServer{handle: echoHandler, failFirst: tc.failFirst}
			plan := Plan{Timeout: time.Second, Stages: []Stage{tc.stage}}
			done := make(chan struct{})
			var res *Result
			var err error
			go func() {
				defer close(done)
				res, err = run(context.Background(), Config{Plan: plan, Addr: "fake", Reconnect: tc.reconnect}, srv.dial)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return")
			}
			tc.check(t, srv, res, err)
		})
	}
}

// TestRunMemoryFlat: the live heap does not grow with the length of a run. It is read
// after forced collections half a second after each progress call (once a second, as
// an interval closes), in the middle of an interval: then one interval waits to close
// and the next is filling, every time. (Read at the progress call itself, the level
// stepped by an interval's histograms, about 1.4 MB here, with whether the next
// interval had its first events yet.) The lowest reading of the run's second half is
// compared with the lowest of its first: a leak of one 48-byte record per request
// (≈ 380 KB a second here) would lift it by more than the 512 KiB allowed.
//
// The heap is the whole process's, and the package's other tests run in parallel with
// brokers and runs of their own that come and go by megabytes, so the run is measured
// in a process of its own: the test runs its own binary with only itself selected.
func TestRunMemoryFlat(t *testing.T) {
	if os.Getenv(memoryChildEnv) == "" {
		t.Parallel()
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunMemoryFlat$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), memoryChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the measuring process failed (%v):\n%s", err, out)
		}
		if !strings.Contains(string(out), "live heap at each second") {
			t.Fatalf("the measuring process did not measure:\n%s", out)
		}
		t.Logf("the measuring process:\n%s", out)
		return
	}
	const stage = 7 * time.Second
	srv := &fakeServer{handle: echoHandler}
	var mu sync.Mutex
	var heap []uint64
	var reads sync.WaitGroup
	read := func() {
		defer reads.Done()
		runtime.GC()
		runtime.GC() // the second empties sync.Pool's victim cache (recycled histograms)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		heap = append(heap, ms.HeapAlloc)
		mu.Unlock()
	}
	plan := Plan{Timeout: time.Second, Stages: []Stage{{
		Duration: stage, Clients: 4, Open: &Open{Rate: 8000}, Mix: []Request{
			{Command: protocol.GroupAdd, Weight: 1, Ack: true, Group: names("g"), Channel: names("c")},
			{Command: protocol.Heartbeat, Weight: 1, Ack: true},
		},
	}}}
	_, err := run(context.Background(), Config{Plan: plan, Addr: "fake", Intervals: discardSink{}, Progress: func(p Progress) {
		if p.Elapsed+600*time.Millisecond < stage {
			reads.Add(1)
			time.AfterFunc(500*time.Millisecond, read)
		}
	}}, srv.dial)
	reads.Wait()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("live heap at each second: %v", heap)
	if len(heap) < 4 {
		t.Fatalf("%d readings in %v, want at least 4", len(heap), stage)
	}
	half := len(heap) / 2
	early, late := slices.Min(heap[:half]), slices.Min(heap[half:])
	if late > early+512<<10 {
		t.Errorf("live heap rose from %d B to %d B (lowest of each half of the run)", early, late)
	}
}

// memoryChildEnv marks the process TestRunMemoryFlat starts to measure in.
const memoryChildEnv = "DMBENCH_LOADGEN_MEMORY_CHILD"

// discardSink takes intervals and drops them, as a sink that writes them out would.
type discardSink struct{}

func (discardSink) Interval(Interval) error { return nil }
