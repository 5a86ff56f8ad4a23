package resultfmt

import (
	"fmt"
	"slices"

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

// joinServer fills sv.Stages and sv.Total.
func (r *Result) joinServer(v *serverview.View, sv *ServerView) {
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
