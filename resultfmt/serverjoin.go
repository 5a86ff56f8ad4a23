package resultfmt

import (
	"fmt"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/serverview"
)

// clientSide is one command's client figures over a stretch.
type clientSide struct {
	command string
	counts  Counts
	rtt     *hdrhistogram.Histogram
	problem string // a histogram that could not be read
}

// clientSides gathers the client's figures of the given stages, command by command in
// order of first appearance.
func clientSides(stages []*StageResult) []*clientSide {
	var out []*clientSide
	by := map[string]*clientSide{}
	for _, s := range stages {
		for i := range s.Commands {
			c := &s.Commands[i]
			cs := by[c.Command]
			if cs == nil {
				cs = &clientSide{command: c.Command, rtt: loadgen.NewHistogram()}
				by[c.Command] = cs
				out = append(out, cs)
			}
			cs.counts.Add(c.Counts)
			h, err := c.Uncorrected.Decode()
			if err == nil && cs.rtt.Merge(h) > 0 {
				err = fmt.Errorf("values beyond the histogram's range")
			}
			if err != nil && cs.problem == "" {
				cs.problem = fmt.Sprintf("stage %q: client round trips: %v", s.Name, err)
			}
		}
	}
	return out
}

// ShardJoinProblem is the Problem of every server join of a shard's result (Meta.Shard
// set): the server counts every shard's requests and the result holds one shard's, so
// joining them would read the other shards' requests as losses. dmbench merge joins the
// shards' summed counts against the server's instead (Result.JoinServerSnapshots).
func ShardJoinProblem(s *Shard) string {
	return fmt.Sprintf("%s of a sharded run: the server counted every shard's requests and this result holds one shard's, "+
		"so they are not joined here; dmbench merge joins the shards' summed counts against the server's", s)
}

// joinServer fills sv.Stages and sv.Total. A shard's result (Meta.Shard set) gets the
// client's side alone, with ShardJoinProblem as each join's Problem.
func (r *Result) joinServer(v *serverview.View, sv *ServerView) {
	if r.Meta.Shard != nil {
		r.joinShard(sv)
		return
	}
	snaps := v.Snapshots
	first := func(ok func(*serverview.Snapshot) bool) int {
		for i := range snaps {
			if snaps[i].Report != nil && ok(&snaps[i]) {
				return i
			}
		}
		return -1
	}
	start := first(func(s *serverview.Snapshot) bool { return s.Label == serverview.LabelStart && s.Stage < 0 })
	end := -1
	for i := range snaps {
		if snaps[i].Report != nil && snaps[i].Label == serverview.LabelEnd && snaps[i].Stage < 0 {
			end = i
		}
	}
	stageAt := func(k int) int {
		return first(func(s *serverview.Snapshot) bool { return s.Stage == k })
	}
	for k := range r.Stages {
		from, fromWhat := stageAt(k), fmt.Sprintf("the start of stage %d", k+1)
		stages := []*StageResult{&r.Stages[k]}
		if k == 0 {
			if start >= 0 {
				from = start
			}
			if r.Warmup != nil {
				stages = append([]*StageResult{r.Warmup}, stages...)
			}
		}
		to, toWhat := end, "the end of the run"
		if k+1 < len(r.Stages) {
			to, toWhat = stageAt(k+1), fmt.Sprintf("the start of stage %d", k+2)
		}
		j := r.join(v, r.Stages[k].Name, from, fromWhat, to, toWhat, stages)
		j.IncludesWarmup = k == 0 && r.Warmup != nil
		sv.Stages = append(sv.Stages, j)
	}
	var all []*StageResult
	if r.Warmup != nil {
		all = append(all, r.Warmup)
	}
	for k := range r.Stages {
		all = append(all, &r.Stages[k])
	}
	total := r.join(v, "whole run", start, "the start (before the load)", end, "the end (after the drain)", all)
	total.IncludesWarmup = r.Warmup != nil
	sv.Total = &total
}

// join joins the client's figures of stages with the server's difference between
// snapshots from and to (indexes in v.Snapshots, -1 for none).
func (r *Result) join(v *serverview.View, name string, from int, fromWhat string, to int, toWhat string, stages []*StageResult) ServerJoin {
	j := ServerJoin{Name: name, FromSnapshot: from, ToSnapshot: to, Commands: []ServerCommandJoin{}}
	if from >= 0 {
		j.From = v.Snapshots[from].Label
	}
	if to >= 0 {
		j.To = v.Snapshots[to].Label
	}
	j.Exact = j.From == serverview.LabelStart && j.To == serverview.LabelEnd
	sides := clientSides(stages)
	for _, cs := range sides {
		n := cs.counts
		cj := ServerCommandJoin{
			Command:       cs.command,
			ClientSent:    n.Sent,
			ClientNoAck:   n.NoAck,
			ClientOK:      n.OK,
			ClientReplies: n.OK + n.Exceptions + n.Unexpected + n.Late,
			Note:          cs.problem,
		}
		if h := cs.rtt; h.TotalCount() > 0 {
			p := h.ValueAtPercentilesSlice([]float64{50, 99})
			cj.ClientRTTCount, cj.ClientRTTP50US, cj.ClientRTTP99US = h.TotalCount(), p[0], p[1]
		}
		j.Commands = append(j.Commands, cj)
	}
	switch {
	case from < 0:
		j.Problem = "no server report at " + fromWhat
		return j
	case to < 0:
		j.Problem = "no server report at " + toWhat
		return j
	}
	d, err := serverview.Between(&v.Snapshots[from], &v.Snapshots[to])
	if err != nil {
		j.Problem = err.Error()
		return j
	}
	unknown := 0
	for _, cs := range sides {
		if _, listed := d.Commands[cs.command]; !listed && cs.command != string(protocol.Performance) && !protocol.Command(cs.command).Known() {
			unknown++
		}
	}
	used := map[string]bool{}
	for i := range j.Commands {
		cj := &j.Commands[i]
		key := cj.Command
		cd, ok := d.Commands[key]
		switch {
		case key == string(protocol.Performance):
			key, ok = "reports", true
			cd = d.Reports
			polls := uint64(max(d.Polls, 0))
			cd.Received -= min(cd.Received, polls)
			cd.Completed -= min(cd.Completed, polls)
			cj.ServerKey = key
			cj.Note = words.Notes(cj.Note, "the server counts PERFMNCE apart (reports); dmbench's own polls are taken out of its counts, not out of its service times")
		case !ok && !protocol.Command(key).Known():
			key = protocol.UnknownCommand
			cd, ok = d.Commands[key]
			cj.ServerKey = key
			if ok && unknown > 1 {
				ok = false
				cj.Note = words.Notes(cj.Note, "the server counts every command it does not know together (unknown): the client's commands it does not know cannot be told apart there")
			} else {
				cj.Note = words.Notes(cj.Note, "the server counts commands it does not know together, as unknown")
			}
		}
		used[key] = true
		if !ok {
			cj.Note = words.Notes(cj.Note, "the server's report does not list it")
			continue
		}
		cj.Server = &ServerCounts{Received: cd.Received, Completed: cd.Completed, Exceptions: cd.Exceptions, Malformed: cd.Malformed}
		before := int64(cj.ClientSent) - int64(cd.Received)
		after := int64(cd.Completed+cd.Exceptions) - int64(cj.ClientNoAck) - int64(cj.ClientReplies)
		cj.LossBeforeServer, cj.LossAfterServer = &before, &after
		switch {
		case cd.ServiceErr != "":
			cj.ServiceProblem = cd.ServiceErr
		case d.Unit != "" && d.Unit != protocol.HistogramUnit:
			cj.ServiceProblem = fmt.Sprintf("the server's histograms are in %q, not µs: not compared", d.Unit)
		case cd.ServiceTime != nil:
			l, err := NewLatency(cd.ServiceTime)
			if err != nil {
				cj.ServiceProblem = "server service time: " + err.Error()
			}
			cj.ServiceTime = l
		}
	}
	for k, cd := range d.Commands {
		if !used[k] && cd.Received > 0 {
			if j.Others == nil {
				j.Others = map[string]uint64{}
			}
			j.Others[k] = cd.Received
		}
	}
	if !used["reports"] {
		if n := d.Reports.Received - min(d.Reports.Received, uint64(max(d.Polls, 0))); n > 0 {
			if j.Others == nil {
				j.Others = map[string]uint64{}
			}
			j.Others[string(protocol.Performance)] = n
		}
	}
	rep := v.Snapshots[to].Report
	gauge := func(key string, v int64) *int64 {
		if serverview.Absent(rep, key) {
			return nil
		}
		return &v
	}
	j.Groups, j.Memberships, j.RSSBytes = gauge("groups", rep.Groups), gauge("memberships", rep.Memberships), gauge("rss_bytes", rep.RSSBytes)
	if !slices.Contains(d.Absent, "dropped") {
		j.Dropped = &ServerDropped{Requests: d.Dropped.Requests, Replies: d.Dropped.Replies}
	}
	return j
}

// joinShard fills sv.Stages and sv.Total of a shard's result with the client's figures
// alone: the server's counts are of every shard.
func (r *Result) joinShard(sv *ServerView) {
	problem := ShardJoinProblem(r.Meta.Shard)
	sv.Stages = nil
	for k := range r.Stages {
		stages := []*StageResult{&r.Stages[k]}
		if k == 0 && r.Warmup != nil {
			stages = append([]*StageResult{r.Warmup}, stages...)
		}
		j := r.join(nil, r.Stages[k].Name, -1, "", -1, "", stages)
		j.Problem, j.IncludesWarmup = problem, k == 0 && r.Warmup != nil
		sv.Stages = append(sv.Stages, j)
	}
	all := make([]*StageResult, 0, len(r.Stages)+1)
	if r.Warmup != nil {
		all = append(all, r.Warmup)
	}
	for k := range r.Stages {
		all = append(all, &r.Stages[k])
	}
	total := r.join(nil, "whole run", -1, "", -1, "", all)
	total.Problem, total.IncludesWarmup = problem, r.Warmup != nil
	sv.Total = &total
}

// JoinServerSnapshots redoes the joins of r's server view (Stages and Total) from the
// snapshots it stores, against r's stages as they are now. dmbench merge calls it on a
// merged result, whose stages hold every shard's summed counts and whose server view
// holds one shard's snapshots; the server counted every shard's requests, so the two
// join as one run's do. Meta.Shard must be unset (a shard's result is not joined).
//
// otherPolls, when not nil, returns how many PERFMNCE requests pollers other than the
// snapshots' own (the other shards') had sent by a moment: the server counts those too,
// and they are taken out of its report counts as the poller's own are. The snapshots'
// gauges over the run (OverRun) are kept as they are.
func (r *Result) JoinServerSnapshots(otherPolls func(at time.Time) int) error {
	sv := r.ServerView
	switch {
	case sv == nil:
		return nil
	case r.Meta.Shard != nil:
		return fmt.Errorf("joining the server's view: the result is %s; join the merged result instead", r.Meta.Shard)
	}
	sv.Stages, sv.Total = nil, nil
	if !sv.Available {
		return nil
	}
	v := &serverview.View{
		Addr:      sv.Addr,
		Every:     time.Duration(sv.PollEveryUS) * time.Microsecond,
		Timeout:   time.Duration(sv.TimeoutUS) * time.Microsecond,
		Available: sv.Available,
		NoReport:  sv.NoReport,
		Snapshots: make([]serverview.Snapshot, len(sv.Snapshots)),
	}
	for i := range sv.Snapshots {
		v.Snapshots[i] = snapshotTo(&sv.Snapshots[i])
		if otherPolls != nil {
			at := v.Snapshots[i].Sent
			if at.IsZero() {
				at = v.Snapshots[i].At
			}
			v.Snapshots[i].Polls += otherPolls(at)
		}
	}
	r.joinServer(v, sv)
	return nil
}

// snapshotTo turns a stored snapshot back into the poller's form (the inverse of
// snapshotFrom): report values the schema could not read stay in Extra, so they still
// read as absent.
func snapshotTo(s *ServerSnapshot) serverview.Snapshot {
	out := serverview.Snapshot{
		Label: s.Label,
		Stage: -1,
		At:    s.At,
		Polls: s.Polls,
		Reply: protocol.Command(s.Reply),
		Err:   s.Error,
	}
	if s.StageIndex != nil {
		out.Stage = *s.StageIndex
	}
	if s.Sent != nil {
		out.Sent = *s.Sent
	}
	if s.Received != nil {
		out.Received = *s.Received
	}
	if rep := s.Report; rep != nil {
		p := &protocol.Report{
			Schema: rep.Schema, Server: rep.Server, Version: rep.Version, Instance: rep.Instance, Mode: rep.Mode,
			UptimeSeconds: rep.UptimeS, CPUSeconds: rep.CPUS, RSSBytes: rep.RSSBytes, Peers: rep.Peers,
			Groups: rep.Groups, Memberships: rep.Memberships, HistogramUnit: rep.HistogramUnit,
			Malformed: rep.Malformed,
			Dropped:   protocol.Dropped{Requests: rep.Dropped.Requests, Replies: rep.Dropped.Replies},
			Reports:   commandCountsTo(rep.Reports),
			Missing:   append([]string(nil), rep.Missing...),
		}
		if rep.Commands != nil {
			p.Commands = make(map[string]protocol.CommandCounts, len(rep.Commands))
			for k, c := range rep.Commands {
				p.Commands[k] = commandCountsTo(c)
			}
		}
		if rep.Extra != nil {
			p.Extra = make(map[string]any, len(rep.Extra))
			for k, x := range rep.Extra {
				p.Extra[k] = x
			}
		}
		out.Report = p
	}
	return out
}

func commandCountsTo(c ServerCommandCounts) protocol.CommandCounts {
	out := protocol.CommandCounts{Received: c.Received, Completed: c.Completed, Exceptions: c.Exceptions, Malformed: c.Malformed}
	if c.ServiceTime != "" {
		out.ServiceTime = []byte(c.ServiceTime)
	}
	return out
}
