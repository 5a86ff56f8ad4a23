package resultfmt_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/serverview"
)

// counted is one command's cumulative counts in a synthetic report; its service-time
// histogram holds spread(received, 5, 200), a prefix of the later reports' (so the
// histograms are cumulative too).
type counted struct{ received, completed, exceptions uint64 }

// joinReport builds a synthetic cumulative report of the server "5eed".
func joinReport(t *testing.T, uptime float64, cmds map[string]counted, reports uint64) *protocol.Report {
	t.Helper()
	r := &protocol.Report{
		Schema: 1, Server: "dmbench-broker", Version: "v0.1.0", Instance: "5eed", Mode: "reference",
		UptimeSeconds: uptime, HistogramUnit: protocol.HistogramUnit, Commands: map[string]protocol.CommandCounts{},
		Reports: protocol.CommandCounts{Received: reports, Completed: reports},
	}
	for name, c := range cmds {
		cc := protocol.CommandCounts{Received: c.received, Completed: c.completed, Exceptions: c.exceptions}
		if c.received > 0 {
			b, err := protocol.EncodeHistogram(spread(int(c.received), 5, 200))
			if err != nil {
				t.Fatal(err)
			}
			cc.ServiceTime = b
		}
		r.Commands[name] = cc
	}
	return r
}

// joinView is a server view of fullRun: reports at the start, at both stages' starts
// and at the end, whose counts are the client's; another poller's otherPolls PERFMNCE
// reach the server between the start and the end. One report holds a field dmbench does
// not know and lacks one it does.
func joinView(t *testing.T, otherPolls uint64) *serverview.View {
	zero := map[string]counted{"HARTBEAT": {}, "GROUPADD": {}, "GROUPDIS": {}}
	s2 := map[string]counted{"HARTBEAT": {34000, 33980, 0}, "GROUPADD": {3000, 2990, 10}, "GROUPDIS": {}}
	end := map[string]counted{"HARTBEAT": {35000, 34980, 0}, "GROUPADD": {3000, 2990, 10}, "GROUPDIS": {9995, 9992, 0}}
	snap := func(label string, stage int, offset time.Duration, polls int, rep *protocol.Report) serverview.Snapshot {
		at := t0.Add(offset)
		return serverview.Snapshot{Label: label, Stage: stage, At: at, Sent: at.Add(time.Millisecond),
			Received: at.Add(3 * time.Millisecond), Polls: polls, Reply: protocol.PerformanceReport, Report: rep}
	}
	odd := joinReport(t, 40, s2, 3)
	odd.Extra = map[string]any{"queue_depth": int64(7)}
	odd.Missing = []string{"cpu_s"}
	return &serverview.View{
		Addr: "tcp://127.0.0.1:40001", Every: 5 * time.Second, Timeout: 2 * time.Second, Available: true,
		Snapshots: []serverview.Snapshot{
			snap("start", -1, -10*time.Millisecond, 1, joinReport(t, 10, zero, 1)),
			snap("stage 1 start", 0, 0, 2, joinReport(t, 10, zero, 2)),
			snap("stage 2 start", 1, 35*time.Second, 3, odd),
			snap("end", -1, 56*time.Second, 4, joinReport(t, 66, end, 4+otherPolls)),
		},
	}
}

// joins is r's server joins as result.json holds them.
func joins(t *testing.T, r *resultfmt.Result) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Stages []resultfmt.ServerJoin
		Total  *resultfmt.ServerJoin
	}{r.ServerView.Stages, r.ServerView.Total})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServerJoinShardAware: a shard's result joins nothing against the server, whose
// counts are every shard's: each join keeps the client's side and says the merge joins
// them; a result that is not a shard's joins as before.
func TestServerJoinShardAware(t *testing.T) {
	shard := &resultfmt.Shard{Index: 1, Count: 3, StartAt: t0}
	tests := []struct {
		name  string
		shard *resultfmt.Shard
	}{
		{"not sharded", nil},
		{"a shard", shard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta := fullMeta()
			meta.Shard = tt.shard
			r := resultfmt.FromLoadgen(meta, fullRun())
			r.SetServerView(joinView(t, 0))
			sv := r.ServerView
			if sv.Total == nil || len(sv.Stages) != 2 || len(sv.Snapshots) != 4 {
				t.Fatalf("server view %+v: want the snapshots kept and 2 stage joins and the whole run's", sv)
			}
			for _, j := range append(sv.Stages, *sv.Total) {
				for _, c := range j.Commands {
					if c.ClientSent == 0 {
						t.Errorf("%s %s: no client side", j.Name, c.Command)
					}
					joined := c.Server != nil && c.LossBeforeServer != nil
					if joined == (tt.shard != nil) {
						t.Errorf("%s %s: server side %+v, loss %v", j.Name, c.Command, c.Server, c.LossBeforeServer)
					}
				}
				want := ""
				if tt.shard != nil {
					want = resultfmt.ShardJoinProblem(tt.shard)
				}
				if j.Problem != want {
					t.Errorf("%s: problem %q, want %q", j.Name, j.Problem, want)
				}
			}
			if tt.shard != nil && !strings.HasPrefix(sv.Total.Problem, "shard 2/3 of a sharded run") {
				t.Errorf("problem %q: want it to name the shard", sv.Total.Problem)
			}
		})
	}
}

// TestJoinServerSnapshots: joining again from the snapshots result.json stores gives
// the joins made from the poller's view, for a result that is no shard's and for a
// shard's once its Shard is unset (as a merged result has it); other pollers' requests
// are taken out of the server's counts when told; a shard's result is refused.
func TestJoinServerSnapshots(t *testing.T) {
	want := resultfmt.FromLoadgen(fullMeta(), fullRun())
	want.SetServerView(joinView(t, 0))
	tests := []struct {
		name       string
		shard      bool
		otherPolls uint64 // the other poller's requests between the start and the end
		count      bool   // tell JoinServerSnapshots about them
		others     uint64 // PERFMNCE the whole run's join counts as others'
	}{
		{"no shard", false, 0, false, 0},
		{"a shard, unset", true, 0, false, 0},
		{"other pollers, told", false, 2, true, 0},
		{"other pollers, untold", false, 2, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta := fullMeta()
			if tt.shard {
				meta.Shard = &resultfmt.Shard{Index: 0, Count: 2, StartAt: t0}
			}
			r := resultfmt.FromLoadgen(meta, fullRun())
			r.SetServerView(joinView(t, tt.otherPolls))
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back resultfmt.Result
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if tt.shard {
				if err := back.JoinServerSnapshots(nil); err == nil {
					t.Error("joined a shard's result against the server")
				}
				back.Meta.Shard = nil
			}
			var polls func(time.Time) int
			if tt.count {
				end := *back.ServerView.Snapshots[3].Sent
				polls = func(at time.Time) int {
					if at.Before(end) {
						return 0
					}
					return int(tt.otherPolls)
				}
			}
			if err := back.JoinServerSnapshots(polls); err != nil {
				t.Fatal(err)
			}
			if got := back.ServerView.Total.Others[string(protocol.Performance)]; got != tt.others {
				t.Errorf("the whole run counts %d PERFMNCE as others', want %d", got, tt.others)
			}
			if tt.others > 0 {
				return
			}
			if g, w := joins(t, &back), joins(t, want); g != w {
				t.Errorf("joined from the stored snapshots:\n%s\nwant, as from the poller's view:\n%s", g, w)
			}
		})
	}
}
