package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/serverview"
)

// at is one command's cumulative counts in a synthetic report; hist is how many values
// of spread(hist, 5, 200) its service-time histogram holds (cumulative too: spread of n
// values is a prefix of spread of more).
type at struct {
	rec, comp, exc uint64
	hist           int
}

// serverReport builds a synthetic cumulative report.
func serverReport(t *testing.T, instance string, uptime, cpu float64, rss, groups int64, cmds map[string]at, reports uint64, dropped protocol.Dropped) *protocol.Report {
	t.Helper()
	r := &protocol.Report{
		Schema: 1, Server: "dmbench-broker", Version: "v0.1.0", Instance: instance, Mode: "reference",
		UptimeSeconds: uptime, CPUSeconds: cpu, RSSBytes: rss, Peers: 4, Groups: groups, Memberships: 2 * groups,
		HistogramUnit: protocol.HistogramUnit, Commands: map[string]protocol.CommandCounts{},
		Reports: protocol.CommandCounts{Received: reports, Completed: reports}, Dropped: dropped,
	}
	for name, c := range cmds {
		cc := protocol.CommandCounts{Received: c.rec, Completed: c.comp, Exceptions: c.exc}
		if c.hist > 0 {
			b, err := protocol.EncodeHistogram(spread(c.hist, 5, 200))
			if err != nil {
				t.Fatal(err)
			}
			cc.ServiceTime = b
		}
		r.Commands[name] = cc
	}
	return r
}

// fullView is a server view of fullRun: reports at the start, at both stages' starts,
// one periodic (with fields dmbench does not know, and one missing) and at the end.
// edit may change it.
func fullView(t *testing.T, edit func(v *serverview.View)) *serverview.View {
	zero := map[string]at{"HARTBEAT": {}, "GROUPADD": {}, "GROUPDIS": {}}
	s1 := map[string]at{"HARTBEAT": {4000, 3995, 0, 4000}}
	s2 := map[string]at{"HARTBEAT": {33990, 33980, 0, 33990}, "GROUPADD": {2995, 2985, 10, 2995}, "GROUPDIS": {}}
	mid := map[string]at{"HARTBEAT": {20000, 19990, 0, 20000}, "GROUPADD": {1500, 1495, 5, 1500}, "GROUPDIS": {}}
	end := map[string]at{"HARTBEAT": {35000, 34988, 0, 35000}, "GROUPADD": {3000, 2990, 10, 3000}, "GROUPDIS": {9995, 9995, 0, 9995}}
	snap := func(label string, stage int, name string, offset time.Duration, polls int, rep *protocol.Report) serverview.Snapshot {
		sent := t0.Add(offset)
		return serverview.Snapshot{Label: label, Stage: stage, StageName: name, At: sent, Sent: sent.Add(time.Millisecond),
			Received: sent.Add(3 * time.Millisecond), Polls: polls, Reply: protocol.PerformanceReport, Report: rep}
	}
	periodic := serverReport(t, "5eed", 31.5, 0, 0, 700, mid, 3, protocol.Dropped{Requests: 2, Replies: 4})
	periodic.Extra = map[string]any{"queue_depth": int64(7), "build": "abc123", "workers": map[string]any{"busy": int64(1)}}
	periodic.Missing = []string{"cpu_s", "rss_bytes"}
	v := &serverview.View{
		Addr: "tcp://127.0.0.1:40001", Every: 5 * time.Second, Timeout: 2 * time.Second, Available: true,
		Snapshots: []serverview.Snapshot{
			snap("start", -1, "", -10*time.Millisecond, 1, serverReport(t, "5eed", 10, 1.5, 20<<20, 0, zero, 1, protocol.Dropped{})),
			snap("stage 1 start", 0, "steady", 5*time.Second, 2, serverReport(t, "5eed", 15, 2.5, 22<<20, 100, s1, 2, protocol.Dropped{})),
			snap("periodic", -1, "", 20*time.Second, 3, periodic),
			snap("stage 2 start", 1, "ramp", 35*time.Second, 4, serverReport(t, "5eed", 45, 12.5, 30<<20, 1000, s2, 4, protocol.Dropped{Requests: 5, Replies: 10})),
			snap("end", -1, "", 55*time.Second+600*time.Millisecond, 5, serverReport(t, "5eed", 65.6, 18.5, 28<<20, 800, end, 5, protocol.Dropped{Requests: 5, Replies: 12})),
		},
	}
	if edit != nil {
		edit(v)
	}
	return v
}

func TestServerViewGolden(t *testing.T) { testSummaries(t, serverViewCases()) }

// serverViewCases are the summaries of results with a server view.
func serverViewCases() []summaryCase {
	return []summaryCase{
		{
			name: "server",
			result: func(t *testing.T) *resultfmt.Result {
				r := resultfmt.FromLoadgen(fullMeta(), fullRun())
				r.SetServerView(fullView(t, nil))
				return r
			},
			want: []string{
				"server view: dmbench-broker (version v0.1.0, mode reference, instance 5eed): 5 reports",
				`stage 1 "steady" (start → stage 2 start; the client's side includes the warm-up)`,
				`stage 2 "ramp" (stage 2 start → end)`,
				"whole run (start → end; the client's side includes the warm-up)",
				"report fields dmbench does not read (kept raw in result.json): build=\"abc123\" queue_depth=7 workers={\"busy\":1}",
				"absent from the server's reports (shown as absent, not zero): cpu_s, rss_bytes",
				"server over the run: groups 0 → 800 (max 1000)",
				"its fault injection dropped 5 requests and 12 replies",
			},
			not: []string{"stopped being asked"},
		},
		{
			name: "server_echo",
			result: func(t *testing.T) *resultfmt.Result {
				r := resultfmt.FromLoadgen(minimalMeta(), minimalRun())
				r.SetServerView(&serverview.View{Addr: "tcp://10.0.0.5:5557", Every: 5 * time.Second, Timeout: 2 * time.Second,
					NoReport: serverview.EchoReason, Snapshots: []serverview.Snapshot{{
						Label: "start", Stage: -1, At: t0.Add(-time.Millisecond), Sent: t0.Add(-time.Millisecond), Received: t0,
						Polls: 1, Reply: protocol.Performance, Err: serverview.EchoReason,
					}}})
				return r
			},
			want: []string{"\nserver view: none: " + serverview.EchoReason + " (asked once, then never again); the run went on without it\n"},
			not:  []string{"whole run"},
		},
		{
			name: "server_off",
			result: func(t *testing.T) *resultfmt.Result {
				r := resultfmt.FromLoadgen(minimalMeta(), minimalRun())
				r.SetServerView(&serverview.View{NoReport: "not asked (--server-view off)"})
				return r
			},
			want: []string{"\nserver view: none: not asked (--server-view off)\n"},
		},
		{
			name: "server_stopped",
			result: func(t *testing.T) *resultfmt.Result {
				r := resultfmt.FromLoadgen(fullMeta(), fullRun())
				r.SetServerView(fullView(t, func(v *serverview.View) {
					v.Snapshots = v.Snapshots[:4]
					v.Snapshots[3].Report, v.Snapshots[3].Received, v.Snapshots[3].Reply = nil, time.Time{}, ""
					v.Snapshots[3].Err = "no reply to PERFMNCE within 2s"
					v.NoReport = v.Snapshots[3].Err
				}))
				return r
			},
			want: []string{
				"server side absent: no server report at the start of stage 2",
				"server side absent: no server report at the end (after the drain)",
				"the server stopped being asked: no reply to PERFMNCE within 2s",
			},
		},
		{
			name: "server_restart",
			result: func(t *testing.T) *resultfmt.Result {
				r := resultfmt.FromLoadgen(fullMeta(), fullRun())
				r.SetServerView(fullView(t, func(v *serverview.View) {
					v.Snapshots[4].Report.Instance = "beef"
					v.Snapshots[4].Report.UptimeSeconds = 3
				}))
				return r
			},
			want: []string{`server side absent: the server restarted between "stage 2 start" and "end" (instance 5eed, then beef)`},
		},
	}
}

// TestServerViewJoin checks the joined figures of fullView against fullRun's by hand.
func TestServerViewJoin(t *testing.T) {
	r := resultfmt.FromLoadgen(fullMeta(), fullRun())
	r.SetServerView(fullView(t, nil))
	sv := r.ServerView
	if sv.Sent != 5 || !sv.Available || len(sv.Stages) != 2 || sv.Total == nil {
		t.Fatalf("view: %d sent, available %v, %d stage joins", sv.Sent, sv.Available, len(sv.Stages))
	}
	type row struct {
		cmd                  string
		sent, recv, ok       uint64
		before, after        int64
		serviceCount, rttCnt int64
	}
	tests := []struct {
		name string
		join *resultfmt.ServerJoin
		want []row
	}{
		// Stage 1 adds the warm-up's 4000 HARTBEAT on the client's side: 34000 sent,
		// 33990 received; the server completed 33980, the client got 29980 + 3990 OK,
		// 2 unexpected and 2 late replies: 33974. Its round trips: 29990 + 4000.
		// Five GROUPADD were in flight at the boundary: lost before 5, after −5.
		{"stage 1", &sv.Stages[0], []row{
			{"HARTBEAT", 34000, 33990, 33970, 10, 33980 - 33974, 33990, 29990 + 4000},
			{"GROUPADD", 3000, 2995, 1990, 5, 2985 + 10 - 1000 - 2000, 2995, 2000},
		}},
		{"stage 2", &sv.Stages[1], []row{
			{"GROUPDIS", 10000, 9995, 9992, 5, 9995 - 9992, 9995, 9992},
			{"HARTBEAT", 1000, 1010, 1000, -10, 1008 - 1000, 1010, 1000},
		}},
		{"whole run", sv.Total, []row{
			{"HARTBEAT", 35000, 35000, 34970, 0, 34988 - 34974, 35000, 29990 + 4000 + 1000},
			{"GROUPADD", 3000, 3000, 1990, 0, 0, 3000, 2000},
			{"GROUPDIS", 10000, 9995, 9992, 5, 3, 9995, 9992},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.join.Problem != "" {
				t.Fatalf("problem: %s", tt.join.Problem)
			}
			if len(tt.join.Commands) != len(tt.want) {
				t.Fatalf("%d commands, want %d", len(tt.join.Commands), len(tt.want))
			}
			for i, w := range tt.want {
				c := tt.join.Commands[i]
				got := row{c.Command, c.ClientSent, c.Server.Received, c.ClientOK, *c.LossBeforeServer, *c.LossAfterServer, c.ServiceTime.Count, c.ClientRTTCount}
				if got != w {
					t.Errorf("got  %+v\nwant %+v", got, w)
				}
			}
		})
	}
	if !sv.Total.Exact || sv.Stages[0].Exact || sv.Stages[1].Exact {
		t.Error("only the whole run from start to end is exact")
	}
	o := sv.OverRun
	if o.RSSBytes == nil || *o.RSSBytes != (resultfmt.ServerGauge{Start: 20 << 20, End: 28 << 20, Max: 30 << 20}) {
		t.Errorf("RSS over the run %+v, want 20 MiB → 28 MiB, max 30 MiB", o.RSSBytes)
	}
	if o.CPUSeconds == nil || o.UptimeSeconds == nil || math.Abs(*o.CPUSeconds-17) > 1e-9 || math.Abs(*o.UptimeSeconds-55.6) > 1e-9 {
		t.Errorf("server CPU over the run %v in %v, want 17 s in 55.6 s", o.CPUSeconds, o.UptimeSeconds)
	}
}

func TestServerViewJSON(t *testing.T) {
	r := resultfmt.FromLoadgen(fullMeta(), fullRun())
	v := fullView(t, nil)
	// What JSON cannot hold as it is: NaN, maps with keys that are not strings, bytes
	// that are not text in a histogram's place.
	v.Snapshots[2].Report.Extra["odd"] = map[any]any{int8(1): math.Inf(1), "n": []any{math.NaN()}}
	v.Snapshots[2].Report.UptimeSeconds = math.NaN()
	c := v.Snapshots[0].Report.Commands["GROUPDIS"]
	c.ServiceTime = []byte{0xff, 0xfe}
	v.Snapshots[0].Report.Commands["GROUPDIS"] = c
	r.SetServerView(v)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("result.json cannot hold the server view: %v", err)
	}
	var back resultfmt.Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	rep := back.ServerView.Snapshots[2].Report
	if got := rep.Extra["odd"]; !strings.Contains(rawValue(got), `"1":"+Inf"`) || !strings.Contains(rawValue(got), `"NaN"`) {
		t.Errorf("odd extra value read back as %s", rawValue(got))
	}
	if rep.Extra["uptime_s"] != "NaN" || rep.UptimeS != 0 {
		t.Errorf("a NaN uptime: extra %v, field %v: want it kept as text in extra", rep.Extra["uptime_s"], rep.UptimeS)
	}
	if got := back.ServerView.Snapshots[0].Report.Extra["commands.GROUPDIS.service_time"]; got != "//4=" {
		t.Errorf("bytes that are not text read back as %v, want their base64", got)
	}
	if back.ServerView.Total.Commands[0].ServiceTime.Histogram == "" || back.ServerView.Snapshots[1].Report.Commands["HARTBEAT"].ServiceTime == "" {
		t.Error("result.json lost the server's histograms")
	}

	var buf bytes.Buffer
	r.SetServerView(fullView(t, nil))
	if err := SummaryJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(`"service_time": "HIST`)) || bytes.Contains(buf.Bytes(), []byte(`"histogram"`)) {
		t.Error("the JSON summary holds the server's encoded histograms")
	}
	if r.ServerView.Snapshots[1].Report.Commands["HARTBEAT"].ServiceTime == "" || r.ServerView.Total.Commands[0].ServiceTime.Histogram == "" {
		t.Error("SummaryJSON stripped the caller's server view, not a copy")
	}
	golden(t, "summary_server.json.golden", buf.Bytes())
}

func TestFmtBytes(t *testing.T) {
	tests := []struct {
		v    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.00 KiB"},
		{20 << 20, "20.0 MiB"},
		{1536 << 20, "1.50 GiB"},
		{5000 << 30, "5000 GiB"},
	}
	for _, tt := range tests {
		if got := fmtBytes(tt.v); got != tt.want {
			t.Errorf("fmtBytes(%d) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
