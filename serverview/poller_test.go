package serverview

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeServer is a ROUTER on 127.0.0.1 that answers each PERFMNCE with answer(n), n
// counting the PERFMNCE received from 1; answer returns the reply's command and
// properties frame, or ok false for no reply.
type fakeServer struct {
	r      transport.Router
	answer func(n int) (cmd protocol.Command, props []byte, ok bool)
	mu     sync.Mutex
	asked  int
	done   chan struct{}
}

func startFake(t *testing.T, answer func(n int) (protocol.Command, []byte, bool)) *fakeServer {
	t.Helper()
	r, err := transport.Listen(transport.Native, "tcp://127.0.0.1:0", transport.ListenOptions{})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &fakeServer{r: r, answer: answer, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() {
		_ = r.Close()
		<-s.done
	})
	return s
}

func (s *fakeServer) serve() {
	defer close(s.done)
	var m protocol.Message
	var enc protocol.Encoder
	for {
		frames, err := s.r.Recv()
		if err != nil {
			if errors.Is(err, transport.ErrClosed) {
				return
			}
			continue
		}
		if protocol.DecodeHeader(frames, &m) != nil || m.Command != protocol.Performance {
			continue
		}
		s.mu.Lock()
		s.asked++
		n := s.asked
		s.mu.Unlock()
		cmd, props, ok := s.answer(n)
		if !ok {
			continue
		}
		out := protocol.Message{Envelope: m.Envelope, ID: m.ID, Command: cmd, RawProperties: props}
		_ = s.r.Send(enc.Encode(&out))
	}
}

func (s *fakeServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked
}

func mustMsgpack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPollerOutcomes: each way a server can answer PERFMNCE; after any answer that is not
// a readable report the poller stops asking for good.
func TestPollerOutcomes(t *testing.T) {
	report := func(t *testing.T) []byte {
		rep := protocol.Report{Schema: 1, Server: "fake", Instance: "i1", Groups: 3, Commands: map[string]protocol.CommandCounts{}}
		b, err := protocol.EncodeReport(&rep)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		answer    func(t *testing.T, n int) (protocol.Command, []byte, bool)
		timeout   time.Duration
		available bool
		reports   int    // snapshots with a report
		noReport  string // substring of View.NoReport; "" for none
		asked     int    // PERFMNCE the server got: start, stage 1, stage 2, end = 4 at most
	}{
		{
			name: "reports every time",
			answer: func(t *testing.T, n int) (protocol.Command, []byte, bool) {
				return protocol.PerformanceReport, report(t), true
			},
			// The server's report: 4 snapshots, all answered.
			available: true, reports: 4, asked: 4,
		},
		{
			name: "echo, as DMB 0.2.1",
			answer: func(t *testing.T, n int) (protocol.Command, []byte, bool) {
				return protocol.Performance, []byte{0x81, 0xa3, 'a', 'c', 'k', 0xc3}, true
			},
			noReport: EchoReason, asked: 1,
		},
		{
			name: "EXCEPTON",
			answer: func(t *testing.T, n int) (protocol.Command, []byte, bool) {
				return protocol.Exception, mustMsgpack(t, map[string]any{"reason": "no reports here"}), true
			},
			noReport: `EXCEPTON ("no reports here")`, asked: 1,
		},
		{
			name: "another command",
			answer: func(t *testing.T, n int) (protocol.Command, []byte, bool) {
				return protocol.Complete, []byte{0x80}, true
			},
			noReport: `with "COMPLETE", not PERFRPRT`, asked: 1,
		},
		{
			name: "a report that is not a map",
			answer: func(t *testing.T, n int) (protocol.Command, []byte, bool) {
				return protocol.PerformanceReport, mustMsgpack(t, []int{1, 2}), true
			},
			noReport: "not a report dmbench can read", asked: 1,
		},
		{
			name:     "no reply",
			answer:   func(t *testing.T, n int) (protocol.Command, []byte, bool) { return "", nil, false },
			timeout:  150 * time.Millisecond,
			noReport: "no reply to PERFMNCE within 150ms", asked: 1,
		},
		{
			name: "reports, then silence",
			answer: func(t *testing.T, n int) (protocol.Command, []byte, bool) {
				return protocol.PerformanceReport, report(t), n < 3
			},
			timeout:   150 * time.Millisecond,
			available: true, reports: 2, noReport: "no reply to PERFMNCE within 150ms", asked: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startFake(t, func(n int) (protocol.Command, []byte, bool) { return tt.answer(t, n) })
			p, err := Start(context.Background(), srv.r.Addr(), transport.Native, 0, tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			first := p.Poll(LabelStart)
			p.Stage(0, "one", time.Now())
			p.Stage(1, "two", time.Now())
			v := p.Stop()
			if again := p.Stop(); again != v {
				t.Error("a second Stop returned another View")
			}
			if late := p.Poll("late"); late.Err == "" || !late.Sent.IsZero() {
				t.Errorf("Poll after Stop = %+v, want nothing sent and an error", late)
			}
			got := 0
			for _, s := range v.Snapshots {
				if s.Report != nil {
					got++
				}
			}
			t.Logf("view: available %v, %d snapshots (%d reports), no report %q; server asked %d times",
				v.Available, len(v.Snapshots), got, v.NoReport, srv.count())
			if v.Available != tt.available || got != tt.reports {
				t.Errorf("available %v with %d reports, want %v with %d", v.Available, got, tt.available, tt.reports)
			}
			if (tt.noReport == "") != (v.NoReport == "") || !strings.Contains(v.NoReport, tt.noReport) {
				t.Errorf("NoReport %q, want %q", v.NoReport, tt.noReport)
			}
			if n := srv.count(); n != tt.asked || len(v.Snapshots) != tt.asked {
				t.Errorf("server asked %d times, view holds %d snapshots; want %d of each", n, len(v.Snapshots), tt.asked)
			}
			if first.Label != LabelStart || first.Sent.IsZero() || first.Polls != 1 {
				t.Errorf("first snapshot %+v: want label start, sent, poll 1", first)
			}
			if tt.available && first.Received.Before(first.Sent) {
				t.Errorf("received %v before sent %v", first.Received, first.Sent)
			}
			if !tt.available && first.Err == "" {
				t.Error("a snapshot without a report has no Err")
			}
		})
	}
}

// TestPollerOrder: snapshots come in the order asked, stage snapshots carry the stage's
// time and index, periodic ones come between, and Polls counts every request sent.
func TestPollerOrder(t *testing.T) {
	srv := startFake(t, func(n int) (protocol.Command, []byte, bool) {
		b, _ := protocol.EncodeReport(&protocol.Report{Schema: 1, Instance: "x", Commands: map[string]protocol.CommandCounts{}})
		return protocol.PerformanceReport, b, true
	})
	p, err := Start(context.Background(), srv.r.Addr(), transport.Native, 20*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.Poll(LabelStart)
	at0 := time.Now().Add(-time.Second) // the engine's stage start, given, not measured
	p.Stage(0, "first", at0)
	time.Sleep(120 * time.Millisecond)
	p.Stage(1, "second", at0.Add(time.Second))
	time.Sleep(60 * time.Millisecond)
	v := p.Stop()
	var labels []string
	periodic := 0
	for i, s := range v.Snapshots {
		labels = append(labels, s.Label)
		if s.Polls != i+1 {
			t.Errorf("snapshot %d (%s) has Polls %d, want %d", i, s.Label, s.Polls, i+1)
		}
		if s.Label == LabelPeriodic {
			periodic++
		}
	}
	t.Logf("labels: %v", labels)
	var main []string
	for _, l := range labels {
		if l != LabelPeriodic {
			main = append(main, l)
		}
	}
	if want := []string{"start", "stage 1 start", "stage 2 start", "end"}; !slices.Equal(main, want) {
		t.Errorf("labels %v, want %v with periodic ones between", main, want)
	}
	if periodic < 2 {
		t.Errorf("%d periodic snapshots in about 180ms at one per 20ms, want several", periodic)
	}
	for _, s := range v.Snapshots {
		switch s.Label {
		case "stage 1 start":
			if s.Stage != 0 || s.StageName != "first" || !s.At.Equal(at0) {
				t.Errorf("stage 1 snapshot: stage %d %q at %v, want 0 \"first\" at %v", s.Stage, s.StageName, s.At, at0)
			}
		case "start", "periodic", "end":
			if s.Stage != -1 || !s.At.Equal(s.Sent) {
				t.Errorf("%s snapshot: stage %d, at %v sent %v: want -1 and at = sent", s.Label, s.Stage, s.At, s.Sent)
			}
		}
	}
}

// TestPollerLenient: a report of another server's making, with keys dmbench does not
// know, keys of the wrong type and keys missing, is kept, not refused.
func TestPollerLenient(t *testing.T) {
	frame := mustMsgpack(t, map[string]any{
		"server":      "future-dmb",
		"instance":    "abc",
		"groups":      12,
		"memberships": "many", // the wrong type: kept raw, read as absent
		"queue_depth": 7,      // unknown
		"workers":     map[string]any{"a": 1},
		"commands":    map[string]any{"GROUPADD": map[string]any{"received": 5, "completed": 5}},
	})
	srv := startFake(t, func(int) (protocol.Command, []byte, bool) { return protocol.PerformanceReport, frame, true })
	p, err := Start(context.Background(), srv.r.Addr(), transport.Native, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Poll(LabelStart)
	v := p.Stop()
	if s.Report == nil || !v.Available || v.NoReport != "" {
		t.Fatalf("snapshot %+v, view available %v (%q): want the report read", s, v.Available, v.NoReport)
	}
	rep := s.Report
	if rep.Server != "future-dmb" || rep.Groups != 12 || rep.Commands["GROUPADD"].Received != 5 {
		t.Errorf("known fields: server %q groups %d GROUPADD %+v", rep.Server, rep.Groups, rep.Commands["GROUPADD"])
	}
	for _, k := range []string{"queue_depth", "workers", "memberships"} {
		if _, ok := rep.Extra[k]; !ok {
			t.Errorf("Extra lacks %q: %v", k, rep.Extra)
		}
	}
	for _, k := range []string{"schema", "rss_bytes", "cpu_s", "dropped"} {
		if !slices.Contains(rep.Missing, k) || !Absent(rep, k) {
			t.Errorf("Missing %v lacks %q", rep.Missing, k)
		}
	}
	for k, want := range map[string]bool{"memberships": true, "groups": false, "queue_depth": true} {
		if got := Absent(rep, k); got != want {
			t.Errorf("Absent(%q) = %v, want %v", k, got, want)
		}
	}
}

// TestStartErrors: a bad interval and an address nobody listens on.
func TestStartErrors(t *testing.T) {
	r, err := transport.Listen(transport.Native, "tcp://127.0.0.1:0", transport.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	free := r.Addr()
	_ = r.Close()
	tests := []struct {
		name  string
		addr  string
		every time.Duration
		want  string
	}{
		{"negative interval", free, -time.Second, "negative"},
		{"nobody listening", free, 0, "connecting to " + free},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			p, err := Start(ctx, tt.addr, transport.Native, tt.every, 0)
			if err == nil {
				p.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}
