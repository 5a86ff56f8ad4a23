package merge_test

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/merge"
	"github.com/dmbench/dmbench/resultfmt"
)

var t0 = resultfixture.T0

// handShard is shard index of count of a synthetic run (resultfixture.MinimalRun: one
// stage of 10 s, HARTBEAT), changed by edit when it is not nil.
func handShard(index, count int, edit func(lr *loadgen.Result, m *resultfmt.Meta)) merge.Input {
	lr := resultfixture.MinimalRun()
	meta := resultfixture.MinimalMeta()
	meta.SetScenario("ping", "ping.yaml", []byte("name: ping\n"))
	meta.Shard = &resultfmt.Shard{Index: index, Count: count, StartAt: t0}
	if edit != nil {
		edit(lr, &meta)
	}
	return merge.Input{Dir: fmt.Sprintf("shard-%d", index), Result: resultfmt.FromLoadgen(meta, lr)}
}

// shards returns handShard(i, n, nil) for each i given.
func shards(n int, indexes ...int) []merge.Input {
	var in []merge.Input
	for _, i := range indexes {
		in = append(in, handShard(i, n, nil))
	}
	return in
}

// TestMergeRefusals: results that are not the shards of one run are refused, saying why;
// a missing shard only without --allow-missing.
func TestMergeRefusals(t *testing.T) {
	tests := []struct {
		name string
		in   func() []merge.Input
		opts merge.Options
		want string // part of the error; "" when the merge goes through
	}{
		{"none", func() []merge.Input { return nil }, merge.Options{}, "no shard results given"},
		{"not a shard", func() []merge.Input {
			in := shards(2, 0, 1)
			in[1].Result.Meta.Shard = nil
			return in
		}, merge.Options{}, "shard-1 is no shard of a sharded run"},
		{"already merged", func() []merge.Input {
			in := shards(2, 0, 1)
			in[0].Result.Meta.Merge = &resultfmt.Merge{Count: 2, Shards: make([]resultfmt.MergedShard, 2)}
			return in
		}, merge.Options{}, "shard-0 (a merge of 2 shards) is already merged"},
		{"different scenarios", func() []merge.Input {
			in := shards(2, 0, 1)
			in[1].Result.Meta.SetScenario("ping", "ping.yaml", []byte("name: ping\n# changed\n"))
			return in
		}, merge.Options{}, "ran different scenarios"},
		{"different shard counts", func() []merge.Input {
			return []merge.Input{handShard(0, 2, nil), handShard(1, 3, nil)}
		}, merge.Options{}, "have different shard counts, so they are not the shards of one run: 2 shards: shard 1/2 (shard-0); 3 shards: shard 2/3 (shard-1)"},
		{"different start instants", func() []merge.Input {
			in := shards(2, 0, 1)
			in[1].Result.Meta.Shard.StartAt = t0.Add(time.Minute)
			return in
		}, merge.Options{}, "started their schedules at different instants (--start-at), so they are not the shards of one run: start at 2026-01-02T03:04:05Z: shard 1/2 (shard-0); start at 2026-01-02T03:05:05Z"},
		{"index twice", func() []merge.Input { return shards(3, 0, 1, 1) }, merge.Options{}, "shard 2/3 is given twice: shard-1 and shard-1"},
		{"index out of range", func() []merge.Input { return shards(2, 0, 2) }, merge.Options{}, "shard index 2, outside 0..1"},
		{"missing", func() []merge.Input { return shards(3, 0, 2) }, merge.Options{}, "shard 2/3 of 3 is missing (2 shards given)"},
		{"two missing", func() []merge.Input { return shards(4, 1, 2) }, merge.Options{}, "shards 1/4 and 4/4 of 4 are missing"},
		{"damaged count", func() []merge.Input { return shards(merge.MaxShards+1, 0) }, merge.Options{AllowMissing: true}, "says its run had 100001 shards"},
		{"many missing", func() []merge.Input { return shards(20, 0) }, merge.Options{}, "shards 2/20, 3/20, 4/20, 5/20, 6/20, 7/20, 8/20, 9/20 and 11 more of 20 are missing"},
		{"missing allowed", func() []merge.Input { return shards(3, 0, 2) }, merge.Options{AllowMissing: true}, ""},
		{"different plans", func() []merge.Input {
			in := shards(2, 0, 1)
			in[1].Result.Stages[0].Name = "other"
			return in
		}, merge.Options{}, `ran ["main"] but shard 2/2 (shard-1) ran ["other"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := merge.Results(tt.in(), tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "":
				if r.Meta.Merge == nil {
					t.Fatal("no meta.merge")
				}
			case err == nil:
				t.Fatalf("merged; want an error containing %q", tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestMergeMissingAllowed: with --allow-missing the result lists the missing shards,
// warns that its counts are short, and does not join against the server.
func TestMergeMissingAllowed(t *testing.T) {
	in := shards(3, 0, 2)
	for i := range in {
		in[i].Result.ServerView = handView("srv-1", t0.Add(-time.Second), 0, time.Millisecond, 100*time.Second)
	}
	r, err := merge.Results(in, merge.Options{AllowMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Meta.Merge.Missing, []int{1}) || len(r.Meta.Merge.Shards) != 2 {
		t.Errorf("merge %+v: want shards 0 and 2, 1 missing", r.Meta.Merge)
	}
	if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "merged without shard 2/3") }) {
		t.Errorf("warnings %q: want one about the missing shard", r.Warnings)
	}
	if got := r.Stages[0].Commands[0].Counts.Sent; got != 2000 {
		t.Errorf("sent %d, want the two shards' 2000", got)
	}
	sv := r.ServerView
	if sv == nil || sv.Total == nil || !strings.Contains(sv.Total.Problem, "merged without shard 2/3") || sv.Total.Commands[0].Server != nil {
		t.Errorf("whole-run join %+v: want no server side, and why", sv.Total)
	}
}

// TestMergeStallsUnion: stalls of different shards that overlap become one, from the
// earliest start to the latest end, outstanding each shard's most summed.
func TestMergeStallsUnion(t *testing.T) {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	stall := func(from, to float64, outstanding int64) loadgen.Stall {
		return loadgen.Stall{Start: at(from), End: at(to), Outstanding: outstanding}
	}
	tests := []struct {
		name   string
		shards [][]loadgen.Stall
		want   []resultfmt.Stall
	}{
		{"none", [][]loadgen.Stall{nil, nil}, []resultfmt.Stall{}},
		{"one shard's", [][]loadgen.Stall{{stall(1, 2, 5)}, nil},
			[]resultfmt.Stall{{Start: at(1), End: at(2), OffsetUS: 1e6, DurationUS: 1e6, Outstanding: 5}}},
		{"disjoint", [][]loadgen.Stall{{stall(1, 2, 5)}, {stall(3, 4, 7)}},
			[]resultfmt.Stall{
				{Start: at(1), End: at(2), OffsetUS: 1e6, DurationUS: 1e6, Outstanding: 5},
				{Start: at(3), End: at(4), OffsetUS: 3e6, DurationUS: 1e6, Outstanding: 7},
			}},
		{"overlapping", [][]loadgen.Stall{{stall(1, 2.5, 5)}, {stall(2, 4, 7)}},
			[]resultfmt.Stall{{Start: at(1), End: at(4), OffsetUS: 1e6, DurationUS: 3e6, Outstanding: 12}}},
		{"touching", [][]loadgen.Stall{{stall(1, 2, 5)}, {stall(2, 3, 7)}},
			[]resultfmt.Stall{{Start: at(1), End: at(3), OffsetUS: 1e6, DurationUS: 2e6, Outstanding: 12}}},
		{"contained", [][]loadgen.Stall{{stall(1, 5, 5)}, {stall(2, 3, 7)}},
			[]resultfmt.Stall{{Start: at(1), End: at(5), OffsetUS: 1e6, DurationUS: 4e6, Outstanding: 12}}},
		// One shard's two stalls bridged by another's: each shard's most counts once.
		{"bridged", [][]loadgen.Stall{{stall(1, 2, 5), stall(3, 4, 9)}, {stall(1.5, 3.5, 7)}, {stall(6, 7, 1)}},
			[]resultfmt.Stall{
				{Start: at(1), End: at(4), OffsetUS: 1e6, DurationUS: 3e6, Outstanding: 16},
				{Start: at(6), End: at(7), OffsetUS: 6e6, DurationUS: 1e6, Outstanding: 1},
			}},
		{"until the end", [][]loadgen.Stall{{stall(8, 10, 5)}, {{Start: at(9), End: at(10), Outstanding: 3, UntilEnd: true}}},
			[]resultfmt.Stall{{Start: at(8), End: at(10), OffsetUS: 8e6, DurationUS: 2e6, Outstanding: 8, UntilEnd: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []merge.Input
			for i, stalls := range tt.shards {
				in = append(in, handShard(i, len(tt.shards), func(lr *loadgen.Result, _ *resultfmt.Meta) { lr.Stalls = stalls }))
			}
			r, err := merge.Results(in, merge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Stalls, tt.want) {
				t.Errorf("stalls\n got %+v\nwant %+v", r.Stalls, tt.want)
			}
		})
	}
}

// TestMergeFlags: one generator-bound shard marks the run bound, its reasons prefixed by
// the shard; one interrupted shard marks it interrupted; the generator's figures add up.
func TestMergeFlags(t *testing.T) {
	tests := []struct {
		name        string
		edit        map[int]func(*loadgen.Result, *resultfmt.Meta)
		bound       bool
		reasons     []string
		interrupted bool
		reason      string
	}{
		{name: "clean", edit: nil},
		{name: "one bound", edit: map[int]func(*loadgen.Result, *resultfmt.Meta){
			1: func(lr *loadgen.Result, _ *resultfmt.Meta) {
				lr.Generator.Bound, lr.Generator.Reasons = true, []string{"sent 80% of the schedule", "CPU 95%"}
			},
		}, bound: true, reasons: []string{"shard 2/3: sent 80% of the schedule", "shard 2/3: CPU 95%"}},
		{name: "two bound", edit: map[int]func(*loadgen.Result, *resultfmt.Meta){
			0: func(lr *loadgen.Result, _ *resultfmt.Meta) {
				lr.Generator.Bound, lr.Generator.Reasons = true, []string{"GC"}
			},
			2: func(lr *loadgen.Result, _ *resultfmt.Meta) {
				lr.Generator.Bound, lr.Generator.Reasons = true, []string{"CPU"}
			},
		}, bound: true, reasons: []string{"shard 1/3: GC", "shard 3/3: CPU"}},
		{name: "one interrupted", edit: map[int]func(*loadgen.Result, *resultfmt.Meta){
			2: func(lr *loadgen.Result, m *resultfmt.Meta) {
				lr.Interrupted, m.InterruptReason = true, "interrupt signal"
			},
		}, interrupted: true, reason: "shard 3/3: interrupt signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []merge.Input
			for i := range 3 {
				in = append(in, handShard(i, 3, tt.edit[i]))
			}
			r, err := merge.Results(in, merge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			g := r.Generator
			if g.Bound != tt.bound || !slices.Equal(g.Reasons, tt.reasons) {
				t.Errorf("generator bound %v %q, want %v %q", g.Bound, g.Reasons, tt.bound, tt.reasons)
			}
			if r.Meta.Interrupted != tt.interrupted || r.Meta.InterruptReason != tt.reason {
				t.Errorf("interrupted %v %q, want %v %q", r.Meta.Interrupted, r.Meta.InterruptReason, tt.interrupted, tt.reason)
			}
			if math.Abs(g.CPUSeconds-3*0.4) > 1e-9 || g.GOMAXPROCS != 12 || r.Meta.GOMAXPROCS != 12 || g.AchievedRatio != 1 {
				t.Errorf("generator %+v: want the shards' CPU and GOMAXPROCS summed, all of the schedule sent", g)
			}
			if c := r.Connections; c.Connected != 3 || c.ConnectTime.Count != 3 {
				t.Errorf("connections %+v: want 3, their connect times merged", c)
			}
		})
	}
}

// TestMergeWindows: the merged window is the union of the shards' measured windows, the
// rates divide by it, and windows further apart than the tolerance are noted.
func TestMergeWindows(t *testing.T) {
	tests := []struct {
		name       string
		offset     time.Duration // shard 1's window starts and ends this much later
		tolerance  time.Duration
		wantWindow time.Duration
		noted      bool
	}{
		{"same instant", 0, 0, 10 * time.Second, false},
		{"within the tolerance", 50 * time.Millisecond, 0, 10*time.Second + 50*time.Millisecond, false},
		{"beyond it", 300 * time.Millisecond, 0, 10*time.Second + 300*time.Millisecond, true},
		{"beyond a wider one", 300 * time.Millisecond, time.Second, 10*time.Second + 300*time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []merge.Input{handShard(0, 2, nil), handShard(1, 2, func(lr *loadgen.Result, _ *resultfmt.Meta) {
				s := &lr.Stages[0]
				s.Start, s.End = s.Start.Add(tt.offset), s.End.Add(tt.offset)
				s.Measured.Start, s.Measured.End = s.Measured.Start.Add(tt.offset), s.Measured.End.Add(tt.offset)
			})}
			r, err := merge.Results(in, merge.Options{WindowTolerance: tt.tolerance})
			if err != nil {
				t.Fatal(err)
			}
			s := r.Stages[0]
			if s.Measured() != tt.wantWindow || !s.MeasuredStart.Equal(t0) {
				t.Errorf("window %s from %s, want %s from %s", s.Measured(), s.MeasuredStart, tt.wantWindow, t0)
			}
			if c := s.Commands[0]; c.ThroughputPerS != 2000/tt.wantWindow.Seconds() {
				t.Errorf("throughput %.3f/s, want 2000 over %s", c.ThroughputPerS, tt.wantWindow)
			}
			noted := slices.ContainsFunc(r.Meta.Merge.Notes, func(n string) bool { return strings.Contains(n, "measured windows differ") })
			if noted != tt.noted {
				t.Errorf("notes %q: noted %v, want %v", r.Meta.Merge.Notes, noted, tt.noted)
			}
		})
	}
}

// handView is a shard's server view with reports at the start and the end of its run:
// the start report asked for at sent (on a clock skew ahead) and answered after rtt, the
// server up for uptime when the request was sent (so the shard places the server's
// start at sent + skew − uptime), the end report 20 s later; instance names the server.
func handView(instance string, sent time.Time, skew, rtt, uptime time.Duration) *resultfmt.ServerView {
	snap := func(label string, sent time.Time, uptime time.Duration, polls int) resultfmt.ServerSnapshot {
		s := sent.Add(skew)
		r := s.Add(rtt)
		return resultfmt.ServerSnapshot{
			Label: label, At: s, Sent: &s, Received: &r, RoundTripUS: rtt.Microseconds(), Polls: polls, Reply: "PERFRPRT",
			Report: &resultfmt.ServerReport{Schema: 1, Server: "dmbench-broker", Instance: instance, UptimeS: (uptime + rtt/2).Seconds(),
				Commands: map[string]resultfmt.ServerCommandCounts{"HARTBEAT": {Received: uint64(1000 * polls), Completed: uint64(1000 * polls)}}},
		}
	}
	return &resultfmt.ServerView{
		Addr: "tcp://10.0.0.5:5557", Available: true, Sent: 2,
		Snapshots: []resultfmt.ServerSnapshot{snap("start", sent, uptime, 1), snap("end", sent.Add(20*time.Second), uptime+20*time.Second, 2)},
	}
}

// TestMergeClockSkew: each shard places the server's start on its own clock from its
// shortest round trip, and the skew between shards is bounded by the difference of the
// placements plus both half round trips; without reports, or with reports of different
// servers, it is unknown.
func TestMergeClockSkew(t *testing.T) {
	type shardView struct {
		instance string
		skew     time.Duration // the shard's clock ahead of the first's
		rtt      time.Duration
		none     bool // no server view
	}
	tests := []struct {
		name    string
		views   []shardView
		bound   int64 // µs; -1: unknown
		unknown string
	}{
		{"one shard", []shardView{{"a", 0, 2 * time.Millisecond, false}}, 0, ""},
		{"same clock", []shardView{{"a", 0, 2 * time.Millisecond, false}, {"a", 0, 4 * time.Millisecond, false}}, 3000, ""},
		{"5ms apart", []shardView{{"a", 0, 2 * time.Millisecond, false}, {"a", 5 * time.Millisecond, 2 * time.Millisecond, false}}, 5000 + 2000, ""},
		{"three shards", []shardView{{"a", 0, time.Millisecond, false}, {"a", -3 * time.Millisecond, time.Millisecond, false}, {"a", 7 * time.Millisecond, 3 * time.Millisecond, false}},
			10_000 + 500 + 1500, ""},
		{"no reports", []shardView{{"a", 0, time.Millisecond, false}, {"", 0, 0, true}}, -1, "unknown: shard 2/2 has no server report"},
		{"different servers", []shardView{{"a", 0, time.Millisecond, false}, {"b", 0, time.Millisecond, false}}, -1, "unknown: the shards' reports came from different server instances"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []merge.Input
			for i, v := range tt.views {
				in = append(in, handShard(i, len(tt.views), nil))
				if !v.none {
					in[i].Result.ServerView = handView(v.instance, t0.Add(-time.Second), v.skew, v.rtt, 100*time.Second)
				}
			}
			r, err := merge.Results(in, merge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := r.Meta.Merge
			switch {
			case tt.bound < 0:
				if m.ClockSkewBoundUS != nil || !strings.HasPrefix(m.ClockSkew, tt.unknown) {
					t.Errorf("bound %v %q, want unknown: %q", m.ClockSkewBoundUS, m.ClockSkew, tt.unknown)
				}
			case m.ClockSkewBoundUS == nil || *m.ClockSkewBoundUS != tt.bound:
				t.Errorf("bound %v µs (%s), want %d µs", m.ClockSkewBoundUS, m.ClockSkew, tt.bound)
			}
			for i, v := range tt.views {
				s := m.Shards[i]
				if v.none {
					continue
				}
				want := t0.Add(-time.Second).Add(v.skew).Add(v.rtt / 2).Add(-100*time.Second - v.rtt/2)
				if s.ServerStart == nil || !s.ServerStart.Equal(want) || *s.ServerStartErrUS != (v.rtt/2).Microseconds() {
					t.Errorf("shard %d places the server's start at %v ± %v µs, want %s ± %d", i, s.ServerStart, s.ServerStartErrUS, want, (v.rtt / 2).Microseconds())
				}
			}
		})
	}
}

// TestMergeServerViewChoice: the merged server view joins against the first shard whose
// reports cover the whole run (start report before every shard's load, end report after
// it); when none does, against the first with reports, marked inexact, with a note.
func TestMergeServerViewChoice(t *testing.T) {
	// The run goes from t0 to t0+10s; each view's end report is 20 s after its start's.
	before, late, early := t0.Add(-time.Second), t0.Add(time.Second), t0.Add(-15*time.Second)
	tests := []struct {
		name   string
		starts []time.Time // each shard's start report; zero: no server view
		pick   int
		exact  bool
		note   string
	}{
		{"the first covers", []time.Time{before, before}, 0, true, "against shard 1/2's reports, which cover the whole run"},
		{"the second covers", []time.Time{late, before}, 1, true, "against shard 2/2's reports, which cover the whole run"},
		{"only the second has reports", []time.Time{{}, before}, 1, true, "against shard 2/2's reports, which cover"},
		{"none covers", []time.Time{late, late}, 0, false, "no shard's reports cover the whole run (shard 1/2's start report came after the first shard's load began)"},
		{"the end falls short", []time.Time{early, early}, 0, false, "(shard 1/2's end report was asked for before the last shard's load ended)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []merge.Input
			for i, s := range tt.starts {
				in = append(in, handShard(i, len(tt.starts), nil))
				if !s.IsZero() {
					in[i].Result.ServerView = handView("srv", s, 0, time.Millisecond, 100*time.Second)
				}
			}
			r, err := merge.Results(in, merge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := r.Meta.Merge
			if m.ServerViewFrom == nil || *m.ServerViewFrom != tt.pick {
				t.Fatalf("server view from %v, want shard index %d", m.ServerViewFrom, tt.pick)
			}
			sv := r.ServerView
			if sv.Total == nil || sv.Total.Exact != tt.exact {
				t.Fatalf("whole-run join %+v: want exact %v", sv.Total, tt.exact)
			}
			// A join against reports that miss some shards' requests has no server side.
			for _, j := range append(sv.Stages, *sv.Total) {
				joined := j.Commands[0].Server != nil
				if joined != tt.exact || !tt.exact && !strings.Contains(j.Problem, "reports do not cover the whole run") {
					t.Errorf("%s: joined %v, problem %q; want joined %v", j.Name, joined, j.Problem, tt.exact)
				}
			}
			if !slices.ContainsFunc(m.Notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
				t.Errorf("notes %q: want one containing %q", m.Notes, tt.note)
			}
			if !reflect.DeepEqual(in[tt.pick].Result.ServerView.Snapshots, r.ServerView.Snapshots) {
				t.Error("the merged view's snapshots are not the chosen shard's")
			}
		})
	}
}
