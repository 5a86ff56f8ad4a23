package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/serverview"
)

// ServerView is the server's own view of the run beside the client's, in result.json's
// server_view: every performance report (PERFRPRT) dmbench asked for on a connection of
// its own, kept whole, and per stage and for the whole run the client's figures joined
// with the differences of the server's reports.
//
// The whole run (Total) goes from the snapshot taken before the load began to the one
// taken after it drained, so on a healthy server its counts join exactly: requests the
// client sent equal those the server received. A stage goes from the snapshot at its
// start (the run's first for stage 1) to the next stage's (the last for the last stage);
// requests in flight at a boundary fall on either side, so a stage joins approximately.
type ServerView struct {
	Addr        string `json:"addr,omitempty"` // the signalling address asked
	PollEveryUS int64  `json:"poll_every_us"`  // periodic snapshots; 0: none
	TimeoutUS   int64  `json:"timeout_us"`     // wait for each reply
	// Available is true when the server sent at least one report.
	Available bool `json:"available"`
	// NoReport says why the server sent no report or stopped being asked (e.g. it echoed
	// PERFMNCE, as DMB 0.2.1 does, or did not answer in time); empty when every request
	// was answered.
	NoReport  string           `json:"no_report,omitempty"`
	Sent      int              `json:"sent"` // PERFMNCE requests sent
	Snapshots []ServerSnapshot `json:"snapshots"`
	Stages    []ServerJoin     `json:"stages,omitempty"` // as Result.Stages
	Total     *ServerJoin      `json:"total,omitempty"`  // the whole run, warm-up included
	OverRun   ServerOverRun    `json:"over_run"`
}

// ServerSnapshot is one PERFMNCE request and the report that answered it.
type ServerSnapshot struct {
	Label      string     `json:"label"`                 // start, stage N start, periodic, end
	StageIndex *int       `json:"stage_index,omitempty"` // 0-based, for a stage's snapshot
	At         time.Time  `json:"at"`                    // the moment it stands for (a stage's start)
	OffsetUS   int64      `json:"offset_us"`             // At − the run's start; < 0 before the load
	Sent       *time.Time `json:"sent,omitempty"`        // absent: could not be sent
	Received   *time.Time `json:"received,omitempty"`    // absent: no reply
	// RoundTripUS is the reply's time after the request's.
	RoundTripUS int64         `json:"round_trip_us,omitempty"`
	Polls       int           `json:"polls"`           // PERFMNCE sent by dmbench so far, this one included
	Reply       string        `json:"reply,omitempty"` // the reply's command
	Report      *ServerReport `json:"report,omitempty"`
	Error       string        `json:"error,omitempty"` // why there is no report
}

// ServerReport is a PERFRPRT's properties as dmbench read them (protocol.Report, schema
// 1). Extra keeps every key the schema does not know, and any known key whose value had
// a type the schema cannot read, raw (msgpack bin as base64, other maps with their keys
// as text, non-finite floats as text); Missing lists the schema's keys the report lacked.
// A known key in either reads as absent, not as zero.
type ServerReport struct {
	Schema        int                            `json:"schema"`
	Server        string                         `json:"server"`
	Version       string                         `json:"version"`
	Instance      string                         `json:"instance"`
	Mode          string                         `json:"mode"`
	UptimeS       float64                        `json:"uptime_s"`
	CPUS          float64                        `json:"cpu_s"`
	RSSBytes      int64                          `json:"rss_bytes"`
	Peers         int64                          `json:"peers"`
	Groups        int64                          `json:"groups"`
	Memberships   int64                          `json:"memberships"`
	HistogramUnit string                         `json:"histogram_unit"`
	Commands      map[string]ServerCommandCounts `json:"commands"`
	Reports       ServerCommandCounts            `json:"reports"`
	Malformed     uint64                         `json:"malformed"`
	Dropped       ServerDropped                  `json:"dropped"`
	Extra         map[string]any                 `json:"extra,omitempty"`
	Missing       []string                       `json:"missing,omitempty"`
}

// ServerCommandCounts are one command's cumulative counts in a report.
type ServerCommandCounts struct {
	Received   uint64 `json:"received"`
	Completed  uint64 `json:"completed"`
	Exceptions uint64 `json:"exceptions"`
	Malformed  uint64 `json:"malformed"`
	// ServiceTime is the histogram as sent: HdrHistogram's V2 compressed encoding in base64
	// text (as Latency.Histogram). Bytes that are not text are kept in Extra instead.
	ServiceTime string `json:"service_time,omitempty"`
}

// ServerDropped counts what the server's fault injection discarded.
type ServerDropped struct {
	Requests uint64 `json:"requests"`
	Replies  uint64 `json:"replies"`
}

// ServerJoin is a stretch of the run seen from both sides.
type ServerJoin struct {
	Name string `json:"name"` // the stage's name, or "whole run"
	// From and To are the snapshots (labels and indexes in Snapshots) whose difference is
	// the server's side; -1 when there was none.
	From         string `json:"from"`
	To           string `json:"to"`
	FromSnapshot int    `json:"from_snapshot"`
	ToSnapshot   int    `json:"to_snapshot"`
	// Exact is true when the join runs from before the load to after it drained, so
	// every request is on the same side of both ends.
	Exact          bool `json:"exact"`
	IncludesWarmup bool `json:"includes_warmup,omitempty"` // the client's side adds the warm-up, which the server cannot tell apart
	// Problem says why the server's side is absent (no snapshot, a restart, no counts).
	Problem  string              `json:"problem,omitempty"`
	Commands []ServerCommandJoin `json:"commands"`
	// Others are requests the server received that dmbench did not send in this
	// stretch (other clients), by the server's command key.
	Others map[string]uint64 `json:"others,omitempty"`
	// The server's state at To; absent when its report lacked them.
	Groups      *int64         `json:"groups,omitempty"`
	Memberships *int64         `json:"memberships,omitempty"`
	RSSBytes    *int64         `json:"rss_bytes,omitempty"`
	Dropped     *ServerDropped `json:"dropped,omitempty"` // by fault injection within the stretch
}

// ServerCommandJoin is one command seen from both sides.
type ServerCommandJoin struct {
	Command string `json:"command"`
	// ServerKey is the report's key for the command when it is not its name (commands the
	// server does not know are counted under "unknown").
	ServerKey   string `json:"server_key,omitempty"`
	ClientSent  uint64 `json:"client_sent"`
	ClientNoAck uint64 `json:"client_no_ack"` // of sent, without ack: never answered
	ClientOK    uint64 `json:"client_ok"`
	// ClientReplies are the replies that came back: OK, exceptions, unexpected and late.
	ClientReplies uint64 `json:"client_replies"`
	// Server is the server's side; absent when its reports do not give it (see Note).
	Server *ServerCounts `json:"server,omitempty"`
	// LossBeforeServer is client sent − server received: requests that never reached
	// the server's handler. LossAfterServer is the server's completed and failed requests
	// − the client's requests without ack − the replies the client got: replies that
	// never came back. Requests without ack are taken to reach the server; when some are
	// lost before it, LossAfterServer reads that many too low.
	LossBeforeServer *int64 `json:"loss_before_server"`
	LossAfterServer  *int64 `json:"loss_after_server"`
	// Client round trip (uncorrected latency: reply − actual send) beside the server's
	// service time (from decoding the request to handing the reply to the transport):
	// the difference is queueing, network and the generator.
	ClientRTTCount int64   `json:"client_rtt_count"`
	ClientRTTP50US int64   `json:"client_rtt_p50_us"`
	ClientRTTP99US int64   `json:"client_rtt_p99_us"`
	ServiceTime    Latency `json:"server_service_time"` // the server's own histogram for the stretch
	ServiceProblem string  `json:"service_problem,omitempty"`
	Note           string  `json:"note,omitempty"`
}

// ServerCounts are what the server counted of one command within a stretch.
type ServerCounts struct {
	Received   uint64 `json:"received"`
	Completed  uint64 `json:"completed"`
	Exceptions uint64 `json:"exceptions"`
	Malformed  uint64 `json:"malformed"`
}

// ServerOverRun is the server's state over the run, from every report in order.
type ServerOverRun struct {
	Groups      *ServerGauge `json:"groups,omitempty"`
	Memberships *ServerGauge `json:"memberships,omitempty"`
	RSSBytes    *ServerGauge `json:"rss_bytes,omitempty"`
	Peers       *ServerGauge `json:"peers,omitempty"`
	// CPUSeconds is the server process's CPU from the first report to the last, over
	// UptimeSeconds of its clock; absent when either lacks it or the server restarted.
	CPUSeconds    *float64 `json:"cpu_seconds,omitempty"`
	UptimeSeconds *float64 `json:"uptime_seconds,omitempty"`
}

// ServerGauge is a figure at the first and last report that gave it, and its highest.
type ServerGauge struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Max   int64 `json:"max"`
}

// SetServerView records what a serverview.Poller gathered (or, with no snapshot, only
// why there is none) and joins it with the result's stages. Call it after FromLoadgen;
// nil removes the section.
func (r *Result) SetServerView(v *serverview.View) {
	if v == nil {
		r.ServerView = nil
		return
	}
	sv := &ServerView{
		Addr:        v.Addr,
		PollEveryUS: us(v.Every),
		TimeoutUS:   us(v.Timeout),
		Available:   v.Available,
		NoReport:    v.NoReport,
		Snapshots:   []ServerSnapshot{},
	}
	for i := range v.Snapshots {
		s := &v.Snapshots[i]
		if !s.Sent.IsZero() {
			sv.Sent++
		}
		sv.Snapshots = append(sv.Snapshots, snapshotFrom(s, r.Meta.Start))
	}
	if v.Available {
		sv.OverRun = overRun(v.Snapshots)
		r.joinServer(v, sv)
	}
	r.ServerView = sv
}

func snapshotFrom(s *serverview.Snapshot, runStart time.Time) ServerSnapshot {
	out := ServerSnapshot{
		Label: s.Label,
		At:    s.At.UTC(),
		Polls: s.Polls,
		Reply: string(s.Reply),
		Error: s.Err,
	}
	if !runStart.IsZero() {
		out.OffsetUS = us(s.At.Sub(runStart))
	}
	if s.Stage >= 0 {
		i := s.Stage
		out.StageIndex = &i
	}
	if !s.Sent.IsZero() {
		t := s.Sent.UTC()
		out.Sent = &t
	}
	if !s.Received.IsZero() {
		t := s.Received.UTC()
		out.Received = &t
		out.RoundTripUS = us(s.Received.Sub(s.Sent))
	}
	if s.Report != nil {
		out.Report = reportFrom(s.Report)
	}
	return out
}

// reportFrom copies a decoded report into result.json's form, keeping what JSON cannot
// hold as it is (non-finite floats, bytes that are not text) in Extra.
func reportFrom(p *protocol.Report) *ServerReport {
	rep := &ServerReport{
		Schema: p.Schema, Server: p.Server, Version: p.Version, Instance: p.Instance, Mode: p.Mode,
		UptimeS: p.UptimeSeconds, CPUS: p.CPUSeconds, RSSBytes: p.RSSBytes, Peers: p.Peers,
		Groups: p.Groups, Memberships: p.Memberships, HistogramUnit: p.HistogramUnit,
		Malformed: p.Malformed,
		Dropped:   ServerDropped{Requests: p.Dropped.Requests, Replies: p.Dropped.Replies},
		Missing:   append([]string(nil), p.Missing...),
	}
	extra := func(k string, v any) {
		if rep.Extra == nil {
			rep.Extra = map[string]any{}
		}
		rep.Extra[k] = v
	}
	for k, v := range p.Extra {
		extra(k, jsonValue(v))
	}
	for _, f := range []struct {
		key string
		v   *float64
	}{{"uptime_s", &rep.UptimeS}, {"cpu_s", &rep.CPUS}} {
		if math.IsNaN(*f.v) || math.IsInf(*f.v, 0) {
			extra(f.key, strconv.FormatFloat(*f.v, 'g', -1, 64))
			*f.v = 0
		}
	}
	counts := func(where string, c protocol.CommandCounts) ServerCommandCounts {
		out := ServerCommandCounts{Received: c.Received, Completed: c.Completed, Exceptions: c.Exceptions, Malformed: c.Malformed}
		if utf8.Valid(c.ServiceTime) {
			out.ServiceTime = string(c.ServiceTime)
		} else {
			extra(where+".service_time", c.ServiceTime)
		}
		return out
	}
	if p.Commands != nil {
		rep.Commands = make(map[string]ServerCommandCounts, len(p.Commands))
		for k, c := range p.Commands {
			rep.Commands[k] = counts("commands."+k, c)
		}
	}
	rep.Reports = counts("reports", p.Reports)
	return rep
}

// jsonValue returns v, as msgpack decoded it, in a form encoding/json can write.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, []byte,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case float32:
		return jsonValue(float64(x))
	case time.Time:
		return x.UTC()
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	if _, err := json.Marshal(v); err == nil {
		return v
	}
	return fmt.Sprint(v)
}

// overRun follows the server's gauges through every report.
func overRun(snaps []serverview.Snapshot) ServerOverRun {
	var o ServerOverRun
	gauge := func(g **ServerGauge, v int64) {
		if *g == nil {
			*g = &ServerGauge{Start: v, End: v, Max: v}
			return
		}
		(*g).End, (*g).Max = v, max((*g).Max, v)
	}
	var first, last *protocol.Report
	for i := range snaps {
		rep := snaps[i].Report
		if rep == nil {
			continue
		}
		if first == nil {
			first = rep
		}
		last = rep
		for _, f := range []struct {
			key string
			g   **ServerGauge
			v   int64
		}{{"groups", &o.Groups, rep.Groups}, {"memberships", &o.Memberships, rep.Memberships},
			{"rss_bytes", &o.RSSBytes, rep.RSSBytes}, {"peers", &o.Peers, rep.Peers}} {
			if !serverview.Absent(rep, f.key) {
				gauge(f.g, f.v)
			}
		}
	}
	if first != nil && first != last && first.Instance == last.Instance {
		ok := true
		for _, k := range []string{"cpu_s", "uptime_s"} {
			ok = ok && !serverview.Absent(first, k) && !serverview.Absent(last, k)
		}
		if up := last.UptimeSeconds - first.UptimeSeconds; ok && up > 0 && !math.IsInf(up, 0) {
			cpu := last.CPUSeconds - first.CPUSeconds
			if !math.IsNaN(cpu) && !math.IsInf(cpu, 0) && cpu >= 0 {
				o.CPUSeconds, o.UptimeSeconds = &cpu, &up
			}
		}
	}
	return o
}

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
			cs.counts.add(c.Counts)
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
			cj.Note = joinNotes(cj.Note, "the server counts PERFMNCE apart (reports); dmbench's own polls are taken out of its counts, not out of its service times")
		case !ok && !protocol.Command(key).Known():
			key = protocol.UnknownCommand
			cd, ok = d.Commands[key]
			cj.ServerKey = key
			if ok && unknown > 1 {
				ok = false
				cj.Note = joinNotes(cj.Note, "the server counts every command it does not know together (unknown): the client's commands it does not know cannot be told apart there")
			} else {
				cj.Note = joinNotes(cj.Note, "the server counts commands it does not know together, as unknown")
			}
		}
		used[key] = true
		if !ok {
			cj.Note = joinNotes(cj.Note, "the server's report does not list it")
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

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// unknownFields returns, for each key some report held that dmbench's schema does not
// read, its value in the last report that held it, and the schema's keys some report
// lacked, both sorted.
func (v *ServerView) unknownFields() (extra []string, values map[string]any, missing []string) {
	values = map[string]any{}
	miss := map[string]bool{}
	for _, s := range v.Snapshots {
		if s.Report == nil {
			continue
		}
		for k, x := range s.Report.Extra {
			values[k] = x
		}
		for _, k := range s.Report.Missing {
			miss[k] = true
		}
	}
	for k := range values {
		extra = append(extra, k)
	}
	for k := range miss {
		missing = append(missing, k)
	}
	sort.Strings(extra)
	sort.Strings(missing)
	return extra, values, missing
}

// printServerView prints the server view section of the summary: one line when the
// server sent no report, else the client's and the server's figures side by side per
// stage and for the whole run, and the server's state over the run.
func printServerView(ew *errWriter, r *Result) {
	sv := r.ServerView
	if sv == nil {
		return
	}
	if !sv.Available {
		why := nonEmpty(sv.NoReport, "no report came")
		switch {
		case sv.Sent == 0:
			ew.printf("\nserver view: none: %s\n", why)
		case sv.Sent == 1:
			ew.printf("\nserver view: none: %s (asked once, then never again); the run went on without it\n", why)
		default:
			ew.printf("\nserver view: none: %s (asked %d times, then never again); the run went on without it\n", why, sv.Sent)
		}
		return
	}
	var id *ServerReport
	for i := range sv.Snapshots {
		if id = sv.Snapshots[i].Report; id != nil {
			break
		}
	}
	var who []string
	if v := id.Version; v != "" {
		who = append(who, "version "+v)
	}
	if id.Mode != "" {
		who = append(who, "mode "+id.Mode)
	}
	if id.Instance != "" {
		who = append(who, "instance "+id.Instance)
	}
	when := "at the start, at stage boundaries and at the end"
	if sv.PollEveryUS > 0 {
		when = "every " + fmtMicros(sv.PollEveryUS) + ", " + when
	}
	ew.printf("\nserver view: %s%s: %d reports, asked for on a connection of dmbench's own (not part of the load) %s\n",
		nonEmpty(id.Server, "(unnamed server)"), bracket(who), countReports(sv), when)
	ew.printf("  client SENT − server RECEIVED were lost before the server; server COMPLETED + FAILED − the replies the client got\n" +
		"  (requests without ack count as answered) were lost after it. RTT (the client's, reply − actual send) − SERVICE (the\n" +
		"  server's own time) is queueing, network and the generator. The whole run joins exactly, a stage approximately:\n" +
		"  requests in flight at its boundaries fall on either side, and can make its losses read below zero.\n")
	// One stage that spans the whole run is printed once.
	whole := sv.Total != nil && len(sv.Stages) == 1 && sv.Stages[0].FromSnapshot == sv.Total.FromSnapshot &&
		sv.Stages[0].ToSnapshot == sv.Total.ToSnapshot && sv.Stages[0].Problem == sv.Total.Problem
	for i := range sv.Stages {
		title := fmt.Sprintf("stage %d %q", i+1, sv.Stages[i].Name)
		if whole {
			title += ", the whole run"
		}
		printJoin(ew, &sv.Stages[i], title)
	}
	if sv.Total != nil {
		if !whole {
			printJoin(ew, sv.Total, "whole run")
		}
		if len(sv.Total.Others) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(sv.Total.Others)) {
				parts = append(parts, fmt.Sprintf("%s %d", k, sv.Total.Others[k]))
			}
			ew.printf("  the server also received requests dmbench did not send (other clients?): %s\n", strings.Join(parts, ", "))
		}
	}
	printOverRun(ew, &sv.OverRun, r.Meta.Target.Embedded)
	extra, values, missing := sv.unknownFields()
	if len(extra) > 0 {
		parts := make([]string, len(extra))
		for i, k := range extra {
			parts[i] = k + "=" + rawValue(values[k])
		}
		ew.printf("  report fields dmbench does not read (kept raw in result.json): %s\n", strings.Join(parts, " "))
	}
	if len(missing) > 0 {
		ew.printf("  absent from the server's reports (shown as absent, not zero): %s\n", strings.Join(missing, ", "))
	}
	if sv.NoReport != "" {
		ew.printf("  the server stopped being asked: %s; later stages have no server figures\n", sv.NoReport)
	}
}

func countReports(sv *ServerView) int {
	n := 0
	for i := range sv.Snapshots {
		if sv.Snapshots[i].Report != nil {
			n++
		}
	}
	return n
}

// rawValue shows a report value dmbench does not read, as JSON, shortened.
func rawValue(v any) string {
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprint(v)
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}

func printJoin(ew *errWriter, j *ServerJoin, title string) {
	span := ""
	if j.From != "" && j.To != "" {
		span = j.From + " → " + j.To
	}
	if j.IncludesWarmup {
		span = joinNotes(span, "the client's side includes the warm-up")
	}
	if span != "" {
		span = " (" + span + ")"
	}
	ew.printf("\n  %s%s:\n", title, span)
	if j.Problem != "" {
		ew.printf("    server side absent: %s\n", j.Problem)
	}
	if len(j.Commands) == 0 {
		ew.printf("    no requests\n")
	}
	if len(j.Commands) > 0 {
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "    COMMAND\tSENT\tRECEIVED\tCOMPLETED\tFAILED\tOK\tLOST BEFORE\tLOST AFTER\tP50 RTT / SERVICE\tP99 RTT / SERVICE\t\n")
		for i := range j.Commands {
			c := &j.Commands[i]
			recv, comp, failed := "absent", "absent", "absent"
			if s := c.Server; s != nil {
				recv, comp, failed = strconv.FormatUint(s.Received, 10), strconv.FormatUint(s.Completed, 10), strconv.FormatUint(s.Exceptions, 10)
			}
			fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", c.Command, c.ClientSent, recv, comp, failed, c.ClientOK,
				fmtLoss(c.LossBeforeServer), fmtLoss(c.LossAfterServer),
				rttService(c, c.ClientRTTP50US, c.ServiceTime.P50US), rttService(c, c.ClientRTTP99US, c.ServiceTime.P99US))
		}
		tw.Flush()
	}
	for i := range j.Commands {
		c := &j.Commands[i]
		if note := joinNotes(c.Note, c.ServiceProblem); note != "" {
			ew.printf("    %s: %s\n", c.Command, note)
		}
	}
	var state []string
	if j.Groups != nil {
		state = append(state, plural(uint64(max(*j.Groups, 0)), "group", "groups"))
	}
	if j.Memberships != nil {
		state = append(state, plural(uint64(max(*j.Memberships, 0)), "membership", "memberships"))
	}
	if j.RSSBytes != nil {
		state = append(state, "RSS "+fmtBytes(*j.RSSBytes))
	}
	if d := j.Dropped; d != nil && d.Requests+d.Replies > 0 {
		state = append(state, fmt.Sprintf("its fault injection dropped %d requests and %d replies", d.Requests, d.Replies))
	}
	if len(state) > 0 {
		ew.printf("    server at the end: %s\n", strings.Join(state, ", "))
	}
}

func fmtLoss(v *int64) string {
	if v == nil {
		return "absent"
	}
	return strconv.FormatInt(*v, 10)
}

// rttService formats "client RTT / server service time", "-" for a side with no values.
func rttService(c *ServerCommandJoin, rtt, service int64) string {
	left, right := "-", "-"
	if c.ClientRTTCount > 0 {
		left = fmtMicros(rtt)
	}
	switch {
	case c.ServiceTime.Count > 0:
		right = fmtMicros(service)
	case c.Server == nil || c.ServiceProblem != "":
		right = "absent"
	}
	return left + " / " + right
}

func printOverRun(ew *errWriter, o *ServerOverRun, embedded bool) {
	var parts []string
	g := func(name string, x *ServerGauge, f func(int64) string) {
		if x != nil {
			parts = append(parts, fmt.Sprintf("%s %s → %s (max %s)", name, f(x.Start), f(x.End), f(x.Max)))
		}
	}
	num := func(v int64) string { return strconv.FormatInt(v, 10) }
	g("groups", o.Groups, num)
	g("memberships", o.Memberships, num)
	g("RSS", o.RSSBytes, fmtBytes)
	g("peers", o.Peers, num)
	if o.CPUSeconds != nil && o.UptimeSeconds != nil {
		cpu := fmt.Sprintf("CPU %s in %s (%.2f cores)", fmtDuration(time.Duration(*o.CPUSeconds*float64(time.Second))),
			fmtDuration(time.Duration(*o.UptimeSeconds*float64(time.Second))), *o.CPUSeconds / *o.UptimeSeconds)
		if embedded {
			cpu += ", dmbench's own included: the embedded broker shares its process"
		}
		parts = append(parts, cpu)
	}
	if len(parts) > 0 {
		ew.printf("\n  server over the run: %s\n", strings.Join(parts, "; "))
	}
}

// fmtBytes formats a size in B, KiB, MiB or GiB with three significant digits.
func fmtBytes(v int64) string {
	f := float64(v)
	for _, u := range []string{"B", "KiB", "MiB", "GiB"} {
		if math.Abs(f) < 1024 || u == "GiB" {
			if u == "B" {
				return fmt.Sprintf("%d B", v)
			}
			return sig3(math.Abs(f)) + " " + u
		}
		f /= 1024
	}
	return ""
}

// withoutHistograms returns a copy of sv without the encoded histograms of its reports
// and joins (nil for nil), for the JSON summary.
func (sv *ServerView) withoutHistograms() *ServerView {
	if sv == nil {
		return nil
	}
	out := *sv
	out.Snapshots = make([]ServerSnapshot, len(sv.Snapshots))
	for i, s := range sv.Snapshots {
		if s.Report != nil {
			rep := *s.Report
			if s.Report.Commands != nil {
				rep.Commands = make(map[string]ServerCommandCounts, len(s.Report.Commands))
				for k, c := range s.Report.Commands {
					c.ServiceTime = ""
					rep.Commands[k] = c
				}
			}
			rep.Reports.ServiceTime = ""
			s.Report = &rep
		}
		out.Snapshots[i] = s
	}
	strip := func(j ServerJoin) ServerJoin {
		cmds := make([]ServerCommandJoin, len(j.Commands))
		for i, c := range j.Commands {
			c.ServiceTime.Histogram = ""
			cmds[i] = c
		}
		j.Commands = cmds
		return j
	}
	out.Stages = make([]ServerJoin, len(sv.Stages))
	for i, j := range sv.Stages {
		out.Stages[i] = strip(j)
	}
	if sv.Total != nil {
		t := strip(*sv.Total)
		out.Total = &t
	}
	return &out
}
