package serverview_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/serverview"
)

// End-to-end: the poller beside loadgen.Run against the embedded broker, over real
// sockets on 127.0.0.1, joined by resultfmt.Result.SetServerView.

func startBroker(t *testing.T, cfg broker.Config) *broker.Server {
	t.Helper()
	cfg.Addr = "tcp://127.0.0.1:0"
	srv, err := broker.Start(cfg)
	if err != nil {
		t.Fatalf("starting the broker: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// namer cycles through 50 names per client.
type namer struct {
	prefix string
	n      int
	buf    []byte
}

func (n *namer) Next() []byte {
	n.n++
	n.buf = fmt.Appendf(n.buf[:0], "%s-%d", n.prefix, n.n%50)
	return n.buf
}

func names(prefix string) func(int) loadgen.Namer {
	return func(c int) loadgen.Namer { return &namer{prefix: fmt.Sprint(prefix, c)} }
}

// run polls "start", runs plan with the poller's stage hook (if stageHook), stops the
// poller and joins the two views.
func run(t *testing.T, srv *broker.Server, plan loadgen.Plan, every time.Duration, stageHook bool) (*resultfmt.Result, *serverview.View, *loadgen.Result) {
	t.Helper()
	plan.Seed = 42
	if plan.Timeout == 0 {
		plan.Timeout = 2 * time.Second
	}
	p, err := serverview.Start(context.Background(), srv.Addr(), "", every, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	p.Poll(serverview.LabelStart)
	cfg := loadgen.Config{Plan: plan, Addr: srv.Addr()}
	if stageHook {
		cfg.OnStage = p.Stage
	}
	lr, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	v := p.Stop()
	res := resultfmt.FromLoadgen(resultfmt.Meta{Tool: "dmbench", Target: resultfmt.Target{Address: srv.Addr(), Embedded: true}}, lr)
	res.SetServerView(v)
	return res, v, lr
}

func byCommand(j *resultfmt.ServerJoin) map[string]*resultfmt.ServerCommandJoin {
	m := map[string]*resultfmt.ServerCommandJoin{}
	for i := range j.Commands {
		m[j.Commands[i].Command] = &j.Commands[i]
	}
	return m
}

func logJoin(t *testing.T, j *resultfmt.ServerJoin) {
	t.Helper()
	for _, c := range j.Commands {
		s := resultfmt.ServerCounts{}
		if c.Server != nil {
			s = *c.Server
		}
		lb, la := "absent", "absent"
		if c.LossBeforeServer != nil {
			lb, la = fmt.Sprint(*c.LossBeforeServer), fmt.Sprint(*c.LossAfterServer)
		}
		t.Logf("%s %s: client sent %d (no ack %d) ok %d replies %d; server received %d completed %d exceptions %d; lost before %s, after %s; RTT p50 %dµs p99 %dµs, service p50 %dµs p99 %dµs (%d values)",
			j.Name, c.Command, c.ClientSent, c.ClientNoAck, c.ClientOK, c.ClientReplies, s.Received, s.Completed, s.Exceptions, lb, la,
			c.ClientRTTP50US, c.ClientRTTP99US, c.ServiceTime.P50US, c.ServiceTime.P99US, c.ServiceTime.Count)
	}
}

// TestCleanRunJoinsExactly: against a healthy broker, over a warm-up and two stages with
// a mix that succeeds, fails, goes without ack and asks for reports itself, the whole
// run's counts join exactly, command by command; the server's service-time histograms,
// differenced, hold one value per request; the stages' server counts add up to the whole.
func TestCleanRunJoinsExactly(t *testing.T) {
	t.Parallel()
	srv := startBroker(t, broker.Config{})
	mix := []loadgen.Request{
		{Command: protocol.GroupAdd, Weight: 4, Ack: true, Group: names("room"), Channel: names("chan")},
		{Command: protocol.GroupDiscard, Weight: 2, Ack: true, Group: names("room"), Channel: names("chan")},
		{Command: protocol.Heartbeat, Weight: 2, Ack: true},
		{Command: protocol.Heartbeat, Weight: 1}, // without ack
		{Command: protocol.Performance, Weight: 0.1, Ack: true},
		{Command: "BOGUSCMD", Weight: 0.5, Ack: true}, // EXCEPTON, counted as unknown
	}
	res, v, lr := run(t, srv, loadgen.Plan{Warmup: 200 * time.Millisecond, Stages: []loadgen.Stage{
		{Name: "open", Duration: 700 * time.Millisecond, Clients: 3, Open: &loadgen.Open{Rate: 600}, Mix: mix},
		{Name: "closed", Requests: 300, Clients: 2, Closed: &loadgen.Closed{InFlight: 4}, Mix: mix},
	}}, 150*time.Millisecond, true)
	sv := res.ServerView
	if !v.Available || v.NoReport != "" || sv == nil || sv.Total == nil {
		t.Fatalf("view available %v (%q): want every report", v.Available, v.NoReport)
	}
	var labels []string
	periodic := 0
	for _, s := range v.Snapshots {
		labels = append(labels, s.Label)
		if s.Label == serverview.LabelPeriodic {
			periodic++
		}
		if s.Report == nil {
			t.Errorf("snapshot %q has no report: %s", s.Label, s.Err)
		}
		if s.Stage >= 0 && !s.At.Equal(lr.Stages[s.Stage].Start) {
			t.Errorf("snapshot %q is at %v, its stage started at %v", s.Label, s.At, lr.Stages[s.Stage].Start)
		}
	}
	t.Logf("snapshots: %v", labels)
	if labels[0] != "start" || labels[len(labels)-1] != "end" || periodic == 0 ||
		!strings.Contains(strings.Join(labels, ","), "stage 1 start") || !strings.Contains(strings.Join(labels, ","), "stage 2 start") {
		t.Errorf("snapshots %v: want start, both stages' starts, periodic ones and end", labels)
	}

	total := sv.Total
	logJoin(t, total)
	if !total.Exact || total.Problem != "" || !total.IncludesWarmup || total.From != "start" || total.To != "end" {
		t.Errorf("whole run: exact %v, problem %q, warm-up %v, %s → %s", total.Exact, total.Problem, total.IncludesWarmup, total.From, total.To)
	}
	if len(total.Others) != 0 {
		t.Errorf("the server received requests dmbench did not send: %v", total.Others)
	}
	polls := uint64(v.Snapshots[total.ToSnapshot].Polls - v.Snapshots[total.FromSnapshot].Polls)
	for _, c := range total.Commands {
		s := c.Server
		if s == nil || c.LossBeforeServer == nil {
			t.Errorf("%s: no server side (%s)", c.Command, c.Note)
			continue
		}
		if *c.LossBeforeServer != 0 || *c.LossAfterServer != 0 || s.Received != c.ClientSent {
			t.Errorf("%s: client sent %d, server received %d; lost before %d, after %d: want an exact join",
				c.Command, c.ClientSent, s.Received, *c.LossBeforeServer, *c.LossAfterServer)
		}
		if c.Command == "BOGUSCMD" {
			if c.ServerKey != protocol.UnknownCommand || s.Exceptions != c.ClientSent || s.Completed != 0 {
				t.Errorf("BOGUSCMD: server key %q, %+v: want every one failed, as unknown", c.ServerKey, *s)
			}
		} else if s.Completed != c.ClientOK+c.ClientNoAck || s.Exceptions != 0 {
			t.Errorf("%s: server completed %d (%d failed), client OK %d + no ack %d", c.Command, s.Completed, s.Exceptions, c.ClientOK, c.ClientNoAck)
		}
		want := int64(s.Received)
		if c.Command == string(protocol.Performance) {
			want += int64(polls) // the poller's own requests are in the histogram
		}
		if c.ServiceTime.Count != want || c.ServiceProblem != "" {
			t.Errorf("%s: the server's differenced histogram holds %d values (%s), want %d", c.Command, c.ServiceTime.Count, c.ServiceProblem, want)
		}
		// Each request's service is within its round trip, so on the same requests the
		// medians are ordered too (PERFMNCE's server side also holds the poller's own).
		if c.Command != string(protocol.Performance) && c.ServiceTime.P50US > c.ClientRTTP50US {
			t.Errorf("%s: server service p50 %dµs above the client's round trip p50 %dµs", c.Command, c.ServiceTime.P50US, c.ClientRTTP50US)
		}
	}

	// The stages' server sides telescope to the whole run's.
	if len(sv.Stages) != 2 {
		t.Fatalf("%d stage joins, want 2", len(sv.Stages))
	}
	sum := map[string]uint64{}
	for i := range sv.Stages {
		j := &sv.Stages[i]
		logJoin(t, j)
		if j.Problem != "" {
			t.Fatalf("stage %q: %s", j.Name, j.Problem)
		}
		for _, c := range j.Commands {
			if c.Server != nil {
				sum[c.Command] += c.Server.Received
			}
		}
	}
	if sv.Stages[0].From != "start" || sv.Stages[0].To != "stage 2 start" || sv.Stages[1].From != "stage 2 start" || sv.Stages[1].To != "end" {
		t.Errorf("stage spans %s → %s, %s → %s", sv.Stages[0].From, sv.Stages[0].To, sv.Stages[1].From, sv.Stages[1].To)
	}
	for cmd, c := range byCommand(total) {
		if sum[cmd] != c.Server.Received {
			t.Errorf("%s: the stages' server counts add up to %d, the whole run's is %d", cmd, sum[cmd], c.Server.Received)
		}
	}
	if g := sv.OverRun.Groups; g == nil || g.Max == 0 || g.Start != 0 {
		t.Errorf("groups over the run %+v: want 0 at the start, some later", g)
	}

	// result.json keeps it all.
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("result.json: %v", err)
	}
	var back resultfmt.Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.ServerView == nil || len(back.ServerView.Snapshots) != len(v.Snapshots) ||
		back.ServerView.Total.Commands[0].Server.Received != total.Commands[0].Server.Received ||
		back.ServerView.Snapshots[0].Report.Commands["GROUPADD"].ServiceTime != sv.Snapshots[0].Report.Commands["GROUPADD"].ServiceTime {
		t.Error("the server view did not survive result.json")
	}
	var buf bytes.Buffer
	if err := report.Summary(&buf, res, report.SummaryOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "whole run (start → end") || strings.Contains(out, "absent") {
		t.Errorf("summary's server view:\n%s", out)
	}
}

// seedKeeping returns the first seed from 1 whose drop draws (a PCG seeded with (seed,
// stream), as broker.Faults documents) keep the given draws (1-based) above fraction, so
// that the poller's own requests and replies are not the ones dropped.
func seedKeeping(t *testing.T, stream uint64, fraction float64, keep ...int) uint64 {
	t.Helper()
	last := 0
	for _, k := range keep {
		last = max(last, k)
	}
	for seed := uint64(1); seed < 1000; seed++ {
		rng := rand.New(rand.NewPCG(seed, stream))
		ok := true
		for i := 1; i <= last; i++ {
			v := rng.Float64()
			for _, k := range keep {
				if k == i && v < fraction {
					ok = false
				}
			}
		}
		if ok {
			return seed
		}
	}
	t.Fatal("no seed keeps the poller's requests")
	return 0
}

// TestLossSides: requests the broker drops show as lost before the server, replies it
// drops as lost after it, and each equals what the broker says it dropped. One stage of
// exactly n requests, polled only at the start and the end, so the poller's requests are
// the broker's first and (n+2)-th: the seed is chosen so that they survive.
func TestLossSides(t *testing.T) {
	t.Parallel()
	const n = 400
	tests := []struct {
		name   string
		faults func(seed uint64) broker.Faults
		stream uint64
		before bool // the loss shows before the server, else after it
	}{
		{"dropped requests", func(s uint64) broker.Faults { return broker.Faults{DropRequests: 0.1, Seed: s} }, 1, true},
		{"dropped replies", func(s uint64) broker.Faults { return broker.Faults{DropReplies: 0.1, Seed: s} }, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seed := seedKeeping(t, tt.stream, 0.1, 1, n+2)
			srv := startBroker(t, broker.Config{Faults: tt.faults(seed)})
			res, v, _ := run(t, srv, loadgen.Plan{Timeout: 300 * time.Millisecond, Stages: []loadgen.Stage{
				{Name: "lossy", Requests: n, Clients: 2, Closed: &loadgen.Closed{InFlight: 4},
					Mix: []loadgen.Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}}},
			}}, 0, false)
			if !v.Available || v.NoReport != "" || len(v.Snapshots) != 2 {
				t.Fatalf("seed %d: view available %v (%q), %d snapshots: want start and end", seed, v.Available, v.NoReport, len(v.Snapshots))
			}
			total := res.ServerView.Total
			logJoin(t, total)
			c := byCommand(total)["HARTBEAT"]
			if c == nil || c.Server == nil || total.Dropped == nil {
				t.Fatalf("no joined HARTBEAT or no dropped counts: %+v", total)
			}
			s, d := c.Server, total.Dropped
			client := res.Stages[0].Commands[0].Counts
			t.Logf("seed %d: broker dropped %d requests, %d replies; client timeouts %d", seed, d.Requests, d.Replies, client.Timeouts)
			if c.ClientSent != n || s.Completed != s.Received || c.ClientOK != c.ClientReplies {
				t.Errorf("client sent %d (want %d), server received %d completed %d, client OK %d of %d replies", c.ClientSent, n, s.Received, s.Completed, c.ClientOK, c.ClientReplies)
			}
			if tt.before {
				if *c.LossBeforeServer <= 0 || *c.LossBeforeServer != int64(d.Requests) || *c.LossAfterServer != 0 ||
					s.Received >= c.ClientSent || c.ClientOK != s.Completed {
					t.Errorf("lost before %d, after %d; broker dropped %d requests: want the loss before the server, all of it",
						*c.LossBeforeServer, *c.LossAfterServer, d.Requests)
				}
			} else {
				if *c.LossAfterServer <= 0 || *c.LossAfterServer != int64(d.Replies) || *c.LossBeforeServer != 0 || s.Received != c.ClientSent {
					t.Errorf("lost before %d, after %d; broker dropped %d replies: want the loss after the server, all of it",
						*c.LossBeforeServer, *c.LossAfterServer, d.Replies)
				}
			}
			if lost := *c.LossBeforeServer + *c.LossAfterServer; lost != int64(client.Timeouts) {
				t.Errorf("%d lost in all, the client counted %d timeouts", lost, client.Timeouts)
			}
		})
	}
}

// TestCompatNoReport: against the DMB 0.2.1 compatibility mode, the first PERFMNCE is
// echoed, the poller never asks again (so it cannot end a 0.2.1 stall), the result says
// why in one line, and the run goes on unaffected.
func TestCompatNoReport(t *testing.T) {
	t.Parallel()
	srv := startBroker(t, broker.Config{Compat: broker.DMB021})
	res, v, lr := run(t, srv, loadgen.Plan{Stages: []loadgen.Stage{
		{Name: "a", Duration: 300 * time.Millisecond, Clients: 2, Open: &loadgen.Open{Rate: 300}, Mix: []loadgen.Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}}},
		{Name: "b", Duration: 300 * time.Millisecond, Clients: 2, Open: &loadgen.Open{Rate: 300}, Mix: []loadgen.Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}}},
	}}, 50*time.Millisecond, true)
	if v.Available || v.NoReport != serverview.EchoReason || len(v.Snapshots) != 1 || v.Snapshots[0].Reply != protocol.Performance {
		t.Errorf("view available %v, %q, %d snapshots: want one echoed request and no report", v.Available, v.NoReport, len(v.Snapshots))
	}
	if got := srv.Report().Reports.Received; got != 1 {
		t.Errorf("the broker received %d PERFMNCE, want exactly 1: polling must stop after the echo", got)
	}
	for _, s := range lr.Stages {
		if c := s.Commands[0].Counts; c.Sent == 0 || c.OK != c.Sent {
			t.Errorf("stage %q: %+v: the run should go on unaffected", s.Name, c)
		}
	}
	sv := res.ServerView
	if sv == nil || sv.Available || sv.Sent != 1 || sv.Total != nil || len(sv.Stages) != 0 {
		t.Fatalf("result's server view %+v: want no report, one sent, no joins", sv)
	}
	var buf bytes.Buffer
	if err := report.Summary(&buf, res, report.SummaryOptions{Width: 1000}); err != nil { // one line, unwrapped
		t.Fatal(err)
	}
	want := "server view: none: " + serverview.EchoReason + " (asked once, then never again); the run went on without it\n"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, buf.String())
	}
}
