package merge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/merge"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/serverview"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// shardScenario is the scenario text the real shards record (its hash ties them).
const shardScenario = "name: sharded\n# a warm-up, an open stage and a closed one, split over shards\n"

// namer cycles through 20 names per client.
type namer struct {
	prefix string
	n      int
	buf    []byte
}

func (n *namer) Next() []byte {
	n.n++
	n.buf = fmt.Appendf(n.buf[:0], "%s-%d", n.prefix, n.n%20)
	return n.buf
}

func names(prefix string) func(int) loadgen.Namer {
	return func(c int) loadgen.Namer { return &namer{prefix: fmt.Sprint(prefix, c)} }
}

// shardPlan is each shard's share of the load: a warm-up, an open stage and a closed one.
func shardPlan(seed int64) loadgen.Plan {
	mix := []loadgen.Request{
		{Command: protocol.Heartbeat, Weight: 2, Ack: true},
		{Command: protocol.GroupAdd, Weight: 1, Ack: true, Group: names("room"), Channel: names("chan")},
	}
	return loadgen.Plan{
		Seed:    seed,
		Timeout: 2 * time.Second,
		Warmup:  300 * time.Millisecond,
		Stages: []loadgen.Stage{
			{Name: "open", Duration: 1200 * time.Millisecond, Clients: 2, Open: &loadgen.Open{Rate: 200}, Mix: mix},
			{Name: "closed", Requests: 150, Clients: 2, Closed: &loadgen.Closed{InFlight: 2}, Mix: mix},
		},
	}
}

// realShards runs n shards of one sharded run at once, in this process, against one
// embedded broker, each with its own poller of the server's reports and its own run
// folder written by resultfmt.Writer, as `dmbench run --shard i/n` will. Shard 0 asks
// for its start report first and its end report last, so its reports cover the run.
// It returns the shards' run folders, in shard order.
func realShards(t *testing.T, n int) []string {
	t.Helper()
	srv, err := broker.Start(broker.Config{Addr: "tcp://127.0.0.1:0"})
	if err != nil {
		t.Fatalf("starting the broker: %v", err)
	}
	defer srv.Close()
	startAt := time.Now().UTC().Truncate(time.Second)
	pollers := make([]*serverview.Poller, n)
	for i := range pollers {
		p, err := serverview.Start(context.Background(), srv.Addr(), "", 250*time.Millisecond, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		p.Poll(serverview.LabelStart)
		pollers[i] = p
	}
	type shard struct {
		w   *resultfmt.Writer
		lr  *loadgen.Result
		err error
	}
	shards := make([]shard, n)
	var wg sync.WaitGroup
	for i := range shards {
		w, err := resultfmt.Create(t.TempDir(), "sharded")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		shards[i].w = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			shards[i].lr, shards[i].err = loadgen.Run(context.Background(), loadgen.Config{
				Plan: shardPlan(int64(i + 1)), Addr: srv.Addr(), Intervals: w, OnStage: pollers[i].Stage,
				Pacer: loadgen.PacerConfig{Mode: loadgen.PacerSleep}, // n pacers on 2 cores: none spins
			})
		}()
	}
	wg.Wait()
	views := make([]*serverview.View, n)
	for i := n - 1; i >= 0; i-- { // shard 0's end report last
		views[i] = pollers[i].Stop()
	}
	dirs := make([]string, n)
	for i, s := range shards {
		if s.err != nil {
			t.Fatalf("shard %d: %v", i, s.err)
		}
		meta := resultfmt.NewMeta()
		meta.SetScenario("sharded", "sharded.yaml", []byte(shardScenario))
		meta.Target = resultfmt.Target{Address: srv.Addr()}
		meta.Transport = "native"
		meta.Shard = &resultfmt.Shard{Index: i, Count: n, StartAt: startAt}
		r := resultfmt.FromLoadgen(meta, s.lr)
		r.SetServerView(views[i])
		dir, err := s.w.Finish(r)
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		dirs[i] = dir
	}
	return dirs
}

// mergedLatency is what merging must give: each shard's histogram decoded and added
// with hdrhistogram-go's Merge, done here independently of package merge.
func mergedLatency(t *testing.T, ls []resultfmt.Latency) *hdrhistogram.Histogram {
	t.Helper()
	var sum *hdrhistogram.Histogram
	for _, l := range ls {
		if l.Histogram == "" {
			continue
		}
		h, err := hdrhistogram.Decode([]byte(l.Histogram))
		if err != nil {
			t.Fatal(err)
		}
		if sum == nil {
			sum = hdrhistogram.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
		}
		if dropped := sum.Merge(h); dropped != 0 {
			t.Fatalf("%d values dropped", dropped)
		}
	}
	return sum
}

// sameHistogram fails unless got holds exactly want: the same encoding, and the same
// count in every bucket.
func sameHistogram(t *testing.T, where string, got resultfmt.Latency, want *hdrhistogram.Histogram) {
	t.Helper()
	if want == nil {
		if got.Count != 0 || got.Histogram != "" {
			t.Errorf("%s: merged %d values, the shards recorded none", where, got.Count)
		}
		return
	}
	wantL, err := resultfmt.NewLatency(want)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, got), jsonOf(t, wantL); got.Histogram != wantL.Histogram || g != w {
		t.Errorf("%s: the merged latency differs from hdrhistogram's Merge of the shards':\n got %s\nwant %s", where, summary(got), summary(wantL))
	}
	h, err := got.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if g, w := h.Export(), want.Export(); !slices.Equal(g.Counts, w.Counts) || g.LowestTrackableValue != w.LowestTrackableValue ||
		g.HighestTrackableValue != w.HighestTrackableValue || g.SignificantFigures != w.SignificantFigures {
		t.Errorf("%s: the merged histogram's buckets differ from the shards' merged", where)
	}
}

// summary shows a latency without its histogram's bytes.
func summary(l resultfmt.Latency) string {
	return fmt.Sprintf("%d values, min %d p50 %d p99 %d max %d µs, mean %.3f, %d bytes", l.Count, l.MinUS, l.P50US, l.P99US, l.MaxUS, l.MeanUS, len(l.Histogram))
}

// jsonOf is v as result.json holds it.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMergeRealShards merges three shards that ran at once against one broker: every
// histogram equals hdrhistogram's Merge of the shards', every count their sum, rates
// divide by the merged window, the interval logs add up to the merged histograms on one
// grid of seconds, the server's view joins the summed counts exactly against the
// server's (the other shards' polls taken out), and the clocks' skew is bounded.
func TestMergeRealShards(t *testing.T) {
	const n = 3
	dirs := realShards(t, n)
	shards := make([]*resultfmt.Result, n)
	for i, d := range dirs {
		r, err := resultfmt.Read(d)
		if err != nil {
			t.Fatal(err)
		}
		shards[i] = r
		// A shard alone does not join its counts against the whole server's.
		sv := r.ServerView
		if sv == nil || !sv.Available || sv.Total == nil {
			t.Fatalf("shard %d has no server view", i)
		}
		if sv.Total.Problem != resultfmt.ShardJoinProblem(r.Meta.Shard) || slices.ContainsFunc(sv.Total.Commands, func(c resultfmt.ServerCommandJoin) bool {
			return c.Server != nil || c.LossBeforeServer != nil
		}) {
			t.Errorf("shard %d joins against the whole server: %+v", i, sv.Total)
		}
		var buf bytes.Buffer
		if err := report.Summary(&buf, r, report.SummaryOptions{Width: 200}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "not joined here; dmbench merge joins") {
			t.Errorf("shard %d's summary does not say the join is done at merge time:\n%s", i, buf.String())
		}
	}

	out := filepath.Join(t.TempDir(), "merged")
	got, err := merge.Folders(out, dirs, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := resultfmt.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, note := range r.Meta.Merge.Notes {
		t.Log("note:", note)
	}
	if r.Meta.Shard != nil || r.Meta.Merge == nil || r.Meta.Merge.Count != n || len(r.Meta.Merge.Shards) != n || got.Meta.Merge.Count != n {
		t.Fatalf("merged meta: shard %+v, merge %+v", r.Meta.Shard, r.Meta.Merge)
	}
	for i, s := range r.Meta.Merge.Shards {
		if s.Index != i || s.Dir != dirs[i] {
			t.Errorf("merged shard %d is %d from %s, want %s", i, s.Index, s.Dir, dirs[i])
		}
	}

	// Histograms and counts, stage by stage, warm-up included.
	type pair struct {
		name   string
		merged *resultfmt.StageResult
		shards []*resultfmt.StageResult
	}
	pairs := []pair{{"warm-up", r.Warmup, nil}}
	for _, s := range shards {
		pairs[0].shards = append(pairs[0].shards, s.Warmup)
	}
	for k := range r.Stages {
		p := pair{name: r.Stages[k].Name, merged: &r.Stages[k]}
		for _, s := range shards {
			p.shards = append(p.shards, &s.Stages[k])
		}
		pairs = append(pairs, p)
	}
	for _, p := range pairs {
		if p.merged == nil || slices.Contains(p.shards, nil) {
			t.Fatalf("%s: missing in the merge or a shard", p.name)
		}
		var undecodable, unmatched uint64
		for _, s := range p.shards {
			undecodable += s.Undecodable
			unmatched += s.Unmatched
		}
		if p.merged.Undecodable != undecodable || p.merged.Unmatched != unmatched {
			t.Errorf("%s: undecodable %d unmatched %d, want the sums %d and %d", p.name, p.merged.Undecodable, p.merged.Unmatched, undecodable, unmatched)
		}
		if len(p.merged.Commands) != 2 {
			t.Errorf("%s: %d commands, want 2", p.name, len(p.merged.Commands))
		}
		for _, c := range p.merged.Commands {
			var counts resultfmt.Counts
			var parts [3][]resultfmt.Latency
			for _, s := range p.shards {
				for _, sc := range s.Commands {
					if sc.Command == c.Command {
						counts.Add(sc.Counts)
						parts[0] = append(parts[0], sc.Corrected)
						parts[1] = append(parts[1], sc.Uncorrected)
						parts[2] = append(parts[2], sc.SendDelay)
					}
				}
			}
			if c.Counts != counts || counts.Sent == 0 {
				t.Errorf("%s %s: counts %+v, want the shards' sum %+v", p.name, c.Command, c.Counts, counts)
			}
			for k, l := range []resultfmt.Latency{c.Corrected, c.Uncorrected, c.SendDelay} {
				sameHistogram(t, fmt.Sprintf("%s %s %s", p.name, c.Command, []string{"corrected", "uncorrected", "send delay"}[k]), l, mergedLatency(t, parts[k]))
			}
			if secs := p.merged.Measured().Seconds(); c.ThroughputPerS != float64(c.Counts.OK)/secs || c.SentPerS != float64(c.Counts.Sent)/secs {
				t.Errorf("%s %s: rates %.1f/%.1f, want OK and sent over the merged window of %.3fs", p.name, c.Command, c.ThroughputPerS, c.SentPerS, secs)
			}
		}
	}
	var connect []resultfmt.Latency
	var connected uint64
	for _, s := range shards {
		connect = append(connect, s.Connections.ConnectTime)
		connected += s.Connections.Connected
	}
	sameHistogram(t, "connect time", r.Connections.ConnectTime, mergedLatency(t, connect))
	if r.Connections.Connected != connected {
		t.Errorf("connected %d, want the shards' sum %d", r.Connections.Connected, connected)
	}

	// The interval logs: one grid of seconds, whose stages' intervals add up to the
	// merged histograms, as each shard's do to its own.
	for _, cmd := range r.Commands() {
		f, err := os.Open(filepath.Join(out, cmd+".hlog"))
		if err != nil {
			t.Fatal(err)
		}
		ivs, err := resultfmt.ReadIntervalLog(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := r.Merged(cmd, resultfmt.Corrected)
		if err != nil {
			t.Fatal(err)
		}
		sum := hdrhistogram.New(want.LowestTrackableValue(), want.HighestTrackableValue(), int(want.SignificantFigures()))
		seen := map[string]bool{}
		for _, iv := range ivs {
			if d := iv.Start.Sub(ivs[0].Start); d%time.Second != 0 {
				t.Errorf("%s: interval at %s is %s after the first: off the grid of seconds", cmd, iv.Start, d)
			}
			key := iv.Tag + iv.Start.String()
			if seen[key] {
				t.Errorf("%s: two intervals tagged %s at %s", cmd, iv.Tag, iv.Start)
			}
			seen[key] = true
			switch iv.Tag {
			case cmd:
				sum.Merge(iv.Hist)
			case cmd + resultfmt.WarmupTagSuffix:
			default:
				t.Errorf("%s: interval tagged %q", cmd, iv.Tag)
			}
		}
		if !slices.Equal(sum.Export().Counts, want.Export().Counts) {
			t.Errorf("%s: the merged log's stage intervals hold %d values, the merged stages %d", cmd, sum.TotalCount(), want.TotalCount())
		}
		if _, err := os.Stat(filepath.Join(out, cmd+".hgrm")); err != nil {
			t.Error(err)
		}
	}

	// The server's view: shard 0's reports cover the run, and the summed counts join.
	sv := r.ServerView
	if sv == nil || r.Meta.Merge.ServerViewFrom == nil || *r.Meta.Merge.ServerViewFrom != 0 || sv.Total == nil {
		t.Fatalf("merged server view from %v: %+v", r.Meta.Merge.ServerViewFrom, sv)
	}
	if !sv.Total.Exact || sv.Total.Problem != "" || len(sv.Total.Others) != 0 {
		t.Errorf("whole run: exact %v, problem %q, others %v: want an exact join with nothing foreign (the other shards' polls taken out)",
			sv.Total.Exact, sv.Total.Problem, sv.Total.Others)
	}
	for _, c := range sv.Total.Commands {
		if c.Server == nil || c.LossBeforeServer == nil || *c.LossBeforeServer != 0 || *c.LossAfterServer != 0 || c.Server.Received != c.ClientSent {
			t.Errorf("%s: client sent %d, server %+v: the shards' summed counts should join the server's exactly", c.Command, c.ClientSent, c.Server)
		}
	}
	if len(sv.Stages) != 2 {
		t.Errorf("%d stage joins, want 2", len(sv.Stages))
	}

	// The clocks: one process, one clock; the bound is what the round trips leave open.
	m := r.Meta.Merge
	if m.ClockSkewBoundUS == nil || *m.ClockSkewBoundUS < 0 || *m.ClockSkewBoundUS > 1_000_000 {
		t.Errorf("clock skew bound %v (%s): want a bound under a second", m.ClockSkewBoundUS, m.ClockSkew)
	}
	for _, s := range m.Shards {
		if s.ServerStart == nil || s.ServerStartErrUS == nil || s.ServerInstance == "" {
			t.Errorf("shard %d: no placement of the server's start", s.Index)
		}
	}

	// Written once: a second merge into the same folder is refused, and leaves nothing.
	if _, err := merge.Folders(out, dirs, merge.Options{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("merging into an existing folder: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("the output's folder holds %d entries after a refused merge, want the merged folder alone", len(entries))
	}
}
