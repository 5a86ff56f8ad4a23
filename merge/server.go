package merge

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/serverview"
)

// serverView gives the merged result the server's view: the chosen shard's snapshots
// (chooseServerView), joined against the merged stages, and the clocks' skew bound.
// Joins that start at a "start" report, or end at an "end" report, that does not cover
// every shard's load are left without the server's side: its counts there miss some
// shards' requests.
func (m *merger) serverView(out *resultfmt.Result) {
	m.clockSkew(out.Meta.Merge)
	pick, cov := m.chooseServerView(out.Meta.Start, out.Meta.End)
	if pick < 0 {
		return
	}
	chosen := m.in[pick].Result
	sv := cloneServerView(chosen.ServerView)
	out.ServerView = sv
	if !sv.Available {
		return
	}
	idx := chosen.Meta.Shard.Index
	out.Meta.Merge.ServerViewFrom = &idx
	if cov.start && cov.end {
		m.note("the server's view joins the shards' summed counts against %s's reports, which cover the whole run", chosen.Meta.Shard)
	} else {
		m.note("the server's view joins the shards' summed counts against %s's reports, but no shard's reports cover the whole run (%s): the joins from its start or to its end are left out",
			chosen.Meta.Shard, strings.Join(cov.why, "; "))
	}
	if err := out.JoinServerSnapshots(m.otherPolls(pick)); err != nil {
		m.note("the server's view could not be joined: %v", err)
		return
	}
	short := fmt.Sprintf("%s's reports do not cover the whole run (%s), so the server's counts miss other shards' requests there",
		chosen.Meta.Shard, strings.Join(cov.why, "; "))
	joins := make([]*resultfmt.ServerJoin, 0, len(sv.Stages)+1)
	for i := range sv.Stages {
		joins = append(joins, &sv.Stages[i])
	}
	if sv.Total != nil {
		joins = append(joins, sv.Total)
	}
	for _, j := range joins {
		if !cov.start && j.From == serverview.LabelStart || !cov.end && j.To == serverview.LabelEnd {
			unjoin(j, short)
		}
	}
	if len(m.run.missing) > 0 {
		problem := fmt.Sprintf("merged without %s: the server counted their requests too, so the shards' summed counts do not join against its counts",
			shardList(m.run.missing, m.run.count))
		for _, j := range joins {
			unjoin(j, problem)
		}
	}
}

// unjoin takes the server's side out of a join, leaving the client's, with problem.
func unjoin(j *resultfmt.ServerJoin, problem string) {
	j.Problem, j.Exact, j.Others = problem, false, nil
	j.Groups, j.Memberships, j.RSSBytes, j.Dropped = nil, nil, nil, nil
	for i := range j.Commands {
		c := &j.Commands[i]
		c.Server, c.LossBeforeServer, c.LossAfterServer = nil, nil, nil
		c.ServiceTime, c.ServiceProblem = resultfmt.Latency{}, ""
	}
}

// cloneServerView copies a server view deeply enough that joining the copy leaves the
// shard's result as it was.
func cloneServerView(sv *resultfmt.ServerView) *resultfmt.ServerView {
	c := *sv
	c.Snapshots = slices.Clone(sv.Snapshots)
	c.Stages, c.Total = nil, nil
	return &c
}

// wholeRunSnapshots returns the indexes of sv's whole-run snapshots with a report: the
// first "start" and the last "end"; -1 for none.
func wholeRunSnapshots(sv *resultfmt.ServerView) (start, end int) {
	start, end = -1, -1
	for i := range sv.Snapshots {
		s := &sv.Snapshots[i]
		if s.Report == nil || s.StageIndex != nil {
			continue
		}
		switch s.Label {
		case serverview.LabelStart:
			if start < 0 {
				start = i
			}
		case serverview.LabelEnd:
			end = i
		}
	}
	return start, end
}

// coverage says whether a shard's reports cover the whole run: a "start" report that
// came back before the first shard's load began, an "end" report asked for after the
// last shard's load ended (by the shards' clocks, which Merge.ClockSkewBoundUS bounds);
// why says what falls short.
type coverage struct {
	start, end bool
	why        []string
}

// covers tells how far sv's reports cover the run from runStart to runEnd.
func covers(sv *resultfmt.ServerView, shard *resultfmt.Shard, runStart, runEnd time.Time) coverage {
	var c coverage
	start, end := wholeRunSnapshots(sv)
	switch {
	case start < 0:
		c.why = append(c.why, fmt.Sprintf("%s has no report from before the load", shard))
	case sv.Snapshots[start].Received == nil || sv.Snapshots[start].Received.After(runStart):
		c.why = append(c.why, fmt.Sprintf("%s's start report came after the first shard's load began", shard))
	default:
		c.start = true
	}
	switch {
	case end < 0:
		c.why = append(c.why, fmt.Sprintf("%s has no report from after the load", shard))
	case sv.Snapshots[end].Sent == nil || sv.Snapshots[end].Sent.Before(runEnd):
		c.why = append(c.why, fmt.Sprintf("%s's end report was asked for before the last shard's load ended", shard))
	default:
		c.end = true
	}
	return c
}

// chooseServerView picks the shard whose snapshots the merged server view joins against:
// the first (by index) with reports that cover the whole run (covers), so that the
// server's difference holds every shard's requests; else the first with reports. With no
// reports anywhere it picks the first shard with a server view (to keep why there is
// none); -1 when no shard has one.
func (m *merger) chooseServerView(runStart, runEnd time.Time) (pick int, cov coverage) {
	pick = -1
	for i, in := range m.in {
		sv := in.Result.ServerView
		if sv == nil {
			continue
		}
		if !sv.Available {
			if pick < 0 {
				pick = i
			}
			continue
		}
		c := covers(sv, in.Result.Meta.Shard, runStart, runEnd)
		if c.start && c.end {
			return i, c
		}
		if pick < 0 || !m.in[pick].Result.ServerView.Available {
			pick, cov = i, c
		}
	}
	return pick, cov
}

// otherPolls returns, for the chosen shard's snapshots, how many PERFMNCE requests the
// other shards' pollers had sent to the same server by a moment (by their clocks): the
// server counts them among its reports. A shard polled the same server when its reports
// came from the same instance, or, having none, when it targeted the same address.
func (m *merger) otherPolls(pick int) func(time.Time) int {
	chosen := m.in[pick].Result
	instance := instanceOf(chosen.ServerView)
	var sent []time.Time
	for i, in := range m.in {
		sv := in.Result.ServerView
		if i == pick || sv == nil {
			continue
		}
		same := instanceOf(sv) == instance
		if instanceOf(sv) == "" {
			same = in.Result.Meta.Target.Address == chosen.Meta.Target.Address
		}
		if !same {
			continue
		}
		for _, s := range sv.Snapshots {
			if s.Sent != nil {
				sent = append(sent, *s.Sent)
			}
		}
	}
	if len(sent) == 0 {
		return nil
	}
	return func(at time.Time) int {
		n := 0
		for _, t := range sent {
			if !t.After(at) {
				n++
			}
		}
		return n
	}
}

// instanceOf returns the server instance of sv's first report, "" without one.
func instanceOf(sv *resultfmt.ServerView) string {
	if sv == nil {
		return ""
	}
	for _, s := range sv.Snapshots {
		if s.Report != nil {
			return s.Report.Instance
		}
	}
	return ""
}

// serverStart places the server's start on a shard's clock from its report with the
// shortest round trip: the middle of the round trip less the server's uptime, right to
// within half the round trip. ok is false without such a report.
func serverStart(sv *resultfmt.ServerView) (at time.Time, errUS int64, instance string, ok bool) {
	if sv == nil {
		return at, 0, "", false
	}
	best := time.Duration(-1)
	for _, s := range sv.Snapshots {
		rep := s.Report
		if rep == nil || s.Sent == nil || s.Received == nil || !hasUptime(rep) {
			continue
		}
		rtt := s.Received.Sub(*s.Sent)
		if rtt < 0 || best >= 0 && rtt >= best {
			continue
		}
		best = rtt
		uptime := time.Duration(math.Round(rep.UptimeS * float64(time.Second)))
		at = s.Sent.Add(rtt / 2).Add(-uptime)
		errUS = (rtt.Nanoseconds() + 1999) / 2000 // half the round trip, rounded up to the µs
		instance = rep.Instance
	}
	return at, errUS, instance, best >= 0
}

// hasUptime reports whether a stored report gives the server's uptime.
func hasUptime(rep *resultfmt.ServerReport) bool {
	if _, bad := rep.Extra["uptime_s"]; bad {
		return false
	}
	return !slices.Contains(rep.Missing, "uptime_s") && rep.UptimeS > 0
}

// clockSkew fills each merged shard's placement of the server's start and the bound on
// the skew between any two shards' clocks: for shards i and j, |start_i − start_j| +
// err_i + err_j, the largest over every pair. It is unknown when a shard has no report
// with a round trip, or the shards' reports came from different server instances.
func (m *merger) clockSkew(mg *resultfmt.Merge) {
	var unknown []string
	instances := map[string][]string{}
	type placed struct {
		at    time.Time
		errUS int64
	}
	var all []placed
	for i, in := range m.in {
		at, errUS, instance, ok := serverStart(in.Result.ServerView)
		if !ok {
			unknown = append(unknown, in.Result.Meta.Shard.String())
			continue
		}
		ms := &mg.Shards[i]
		t := at.UTC()
		ms.ServerStart, ms.ServerStartErrUS, ms.ServerInstance = &t, &errUS, instance
		instances[instance] = append(instances[instance], in.Result.Meta.Shard.String())
		all = append(all, placed{at, errUS})
	}
	switch {
	case len(m.in) == 1 && len(m.run.missing) == 0:
		zero := int64(0)
		mg.ClockSkewBoundUS, mg.ClockSkew = &zero, "one shard: one clock"
		return
	case len(unknown) > 0:
		mg.ClockSkew = fmt.Sprintf("unknown: %s %s no server report with its round trip to set the clock against the server's",
			strings.Join(unknown, ", "), hasHave(len(unknown)))
		return
	case len(instances) > 1:
		var parts []string
		for inst, shards := range instances {
			parts = append(parts, fmt.Sprintf("%s from %q", strings.Join(shards, ", "), inst))
		}
		slices.Sort(parts)
		mg.ClockSkew = "unknown: the shards' reports came from different server instances (" + strings.Join(parts, "; ") + "): there is no one clock to set theirs against"
		return
	}
	var bound int64
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			d := all[i].at.Sub(all[j].at)
			if d < 0 {
				d = -d
			}
			bound = max(bound, (d.Nanoseconds()+999)/1000+all[i].errUS+all[j].errUS)
		}
	}
	mg.ClockSkewBoundUS = &bound
	mg.ClockSkew = "bounded by the server's reports: the difference of the shards' placements of the server's start plus half of each one's round trip"
	if len(m.run.missing) > 0 {
		mg.ClockSkew += " (of the shards given)"
	}
}

func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}
