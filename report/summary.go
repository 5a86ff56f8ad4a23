package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
)

// SummaryOptions changes what Summary prints.
type SummaryOptions struct {
	// Warmup also prints the warm-up's table (it is always excluded from the stages').
	Warmup bool
}

// Summary prints r as text: the run's identity, a table per stage with a row per command
// (sent, ok, errors by kind, throughput, and p50 p90 p99 p99.9 max of corrected latency with
// uncorrected latency in brackets), the server's view beside the client's when the result
// has one (or the line saying why the server sent no report), stalls, connections, the
// generator's own figures, and a warning when the generator could not keep up.
func Summary(w io.Writer, r *resultfmt.Result, opts SummaryOptions) error {
	ew := &errWriter{w: w}
	m := &r.Meta
	printHeader(ew, m)
	if len(r.Stages) > 0 || r.Warmup != nil {
		ew.printf("\nlatency: corrected, timed from each request's intended send (uncorrected, timed from its actual send, in brackets)\n")
	}
	if r.Warmup != nil {
		var c resultfmt.Counts
		for _, cmd := range r.Warmup.Commands {
			c.Add(cmd.Counts)
		}
		ew.printf("\nwarm-up: %s, %d sent, %d ok: excluded from the figures below\n", fmtDuration(r.Warmup.Duration()), c.Sent, c.OK)
		if opts.Warmup {
			printStage(ew, r.Warmup, "warm-up (excluded)", m.Start)
		}
	}
	for i := range r.Stages {
		printStage(ew, &r.Stages[i], fmt.Sprintf("stage %d %q", i+1, r.Stages[i].Name), m.Start)
	}
	if len(r.Stages) == 0 {
		ew.printf("\nno stage ran, so there are no figures\n")
	}
	printServerView(ew, r)
	printStalls(ew, r.Stalls)
	printDrain(ew, &r.Drain)
	printConnections(ew, &r.Connections)
	if len(r.Stages) > 0 || r.Warmup != nil {
		printGenerator(ew, r)
	}
	for _, s := range r.Warnings {
		ew.printf("warning: %s\n", s)
	}
	return ew.err
}

func printHeader(ew *errWriter, m *resultfmt.Meta) {
	build := m.ToolVersion
	if m.GitSHA != "" {
		sha := m.GitSHA
		if len(sha) > 12 {
			sha = sha[:12]
		}
		build += " (git " + sha
		if m.GitModified {
			build += ", modified"
		}
		build += ")"
	}
	ew.printf("%s %s, %s on %s (%s/%s, %d CPUs, GOMAXPROCS %d)\n", cmp.Or(m.Tool, "dmbench"), build, m.GoVersion, m.Host, m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS)

	sc := m.Scenario
	var scDetail []string
	if sc.File != "" {
		scDetail = append(scDetail, "file "+sc.File)
	}
	if sc.SHA256 != "" {
		scDetail = append(scDetail, "sha256 "+sc.SHA256[:min(12, len(sc.SHA256))])
	}
	ew.printf("scenario %s%s, seed %d\n", cmp.Or(sc.Name, "(unnamed)"), bracket(scDetail), m.Seed)

	t := m.Target
	var tDetail []string
	if t.Embedded {
		tDetail = append(tDetail, "embedded broker")
		if t.BrokerMode != "" {
			tDetail = append(tDetail, "mode "+t.BrokerMode)
		}
		if len(t.Faults) > 0 {
			tDetail = append(tDetail, "faults "+strings.Join(t.Faults, ", "))
		}
	} else {
		tDetail = append(tDetail, "external server")
	}
	ew.printf("target %s (%s), transport %s\n", cmp.Or(t.Address, "(none)"), strings.Join(tDetail, "; "), cmp.Or(m.Transport, "(default)"))

	if len(m.Labels) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
			kv = append(kv, k+"="+m.Labels[k])
		}
		ew.printf("labels %s\n", strings.Join(kv, " "))
	}
	if !m.Start.IsZero() {
		ew.printf("run %s to %s (%s)\n", m.Start.UTC().Format(time.RFC3339), m.End.UTC().Format(time.RFC3339), fmtDuration(m.End.Sub(m.Start)))
	}
	if m.Interrupted {
		reason := ""
		if m.InterruptReason != "" {
			reason = " (" + m.InterruptReason + ")"
		}
		ew.printf("INTERRUPTED%s: the run stopped before its end; the figures cover what it gathered until then\n", reason)
	}
}

func printStage(ew *errWriter, s *resultfmt.StageResult, title string, runStart time.Time) {
	at := ""
	if !runStart.IsZero() && !s.Start.IsZero() {
		at = " from +" + fmtDuration(s.Start.Sub(runStart))
	}
	measured := ""
	if d := s.Duration() - s.Measured(); s.MeasuredUS > 0 && (d > time.Millisecond || d < -time.Millisecond) {
		measured = ", rates over the " + fmtDuration(s.Measured()) + " measured"
		if w := s.MeasuredStart.Sub(s.Start); w > time.Millisecond {
			measured += " after " + fmtDuration(w) + " of warm-up"
		}
	}
	ew.printf("\n%s: %s%s%s\n", title, fmtDuration(s.Duration()), at, measured)
	if len(s.Commands) == 0 {
		ew.printf("  no requests\n")
	}
	if len(s.Commands) > 0 {
		tw := newTable(ew)
		fmt.Fprint(tw, "  COMMAND\tSENT\tOK\tEXCEPTIONS\tUNEXPECTED\tTIMEOUTS\tSEND ERRORS\tABANDONED\tOK/S\tP50\tP90\tP99\tP99.9\tMAX\t\n")
		for i := range s.Commands {
			c := &s.Commands[i]
			n := c.Counts
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
				c.Command, n.Sent, n.OK, n.Exceptions, n.Unexpected, n.Timeouts, n.SendErrors, n.Abandoned,
				fmtRate(c.ThroughputPerS),
				latCell(c.Corrected, c.Uncorrected, func(l resultfmt.Latency) int64 { return l.P50US }),
				latCell(c.Corrected, c.Uncorrected, func(l resultfmt.Latency) int64 { return l.P90US }),
				latCell(c.Corrected, c.Uncorrected, func(l resultfmt.Latency) int64 { return l.P99US }),
				latCell(c.Corrected, c.Uncorrected, func(l resultfmt.Latency) int64 { return l.P999US }),
				latCell(c.Corrected, c.Uncorrected, func(l resultfmt.Latency) int64 { return l.MaxUS }))
		}
		tw.Flush()
	}
	for i := range s.Commands {
		c := &s.Commands[i]
		var notes []string
		if n := c.Counts.NoAck; n > 0 {
			notes = append(notes, fmt.Sprintf("%d of %d sent without ack, never timed", n, c.Counts.Sent))
		}
		if n := c.Counts.Late; n > 0 {
			notes = append(notes, words.Plural(n, "late reply", "late replies")+" (after the timeout, counted as timeouts)")
		}
		if n := c.Counts.Duplicates; n > 0 {
			notes = append(notes, words.Plural(n, "duplicate reply", "duplicate replies"))
		}
		if len(notes) > 0 {
			ew.printf("  %s: %s\n", c.Command, strings.Join(notes, "; "))
		}
	}
	if s.Undecodable > 0 || s.Unmatched > 0 {
		ew.printf("  replies tied to no request: %d undecodable, %d with an id never sent\n", s.Undecodable, s.Unmatched)
	}
}

// latCell formats one percentile as "corrected (uncorrected)", or "-" when nothing was timed.
func latCell(corr, unc resultfmt.Latency, pick func(resultfmt.Latency) int64) string {
	if corr.Count == 0 && unc.Count == 0 {
		return "-"
	}
	c, u := "-", "-"
	if corr.Count > 0 {
		c = fmtMicros(pick(corr))
	}
	if unc.Count > 0 {
		u = fmtMicros(pick(unc))
	}
	return c + " (" + u + ")"
}

func printStalls(ew *errWriter, stalls []resultfmt.Stall) {
	if len(stalls) == 0 {
		ew.printf("\nstalls: none\n")
		return
	}
	var total int64
	for _, s := range stalls {
		total += s.DurationUS
	}
	ew.printf("\nstalls: %d, %s in all (requests outstanding and no reply at all)\n", len(stalls), fmtMicros(total))
	for _, s := range stalls {
		ew.printf("  at +%s for %s, %d outstanding\n", fmtMicros(s.OffsetUS), fmtMicros(s.DurationUS), s.Outstanding)
	}
	if last := stalls[len(stalls)-1]; last.UntilEnd {
		ew.printf("SERVER SILENT: no reply at all for the last %s of the run with %d requests outstanding: the server stopped answering (it is stuck, or it drops what it receives)\n",
			fmtMicros(last.DurationUS), last.Outstanding)
	}
}

func printDrain(ew *errWriter, d *resultfmt.Drain) {
	if d.Outstanding == 0 {
		return
	}
	how := ""
	if d.Cut {
		how = ", cut short by a second interrupt"
	}
	ew.printf("drain: waited %s of at most %s for %d outstanding replies%s; what was still outstanding then is counted as abandoned\n",
		fmtMicros(d.WaitedUS), fmtMicros(d.LimitUS), d.Outstanding, how)
}

func printConnections(ew *errWriter, c *resultfmt.Connections) {
	ew.printf("connections: %d connected, %d failed, %d disconnects (at most %d in one interval)", c.Connected, c.ConnectFailed, c.Disconnects, c.DisconnectsMax)
	if l := c.ConnectTime; l.Count > 0 {
		ew.printf("; connect time p50 %s, p99 %s, max %s", fmtMicros(l.P50US), fmtMicros(l.P99US), fmtMicros(l.MaxUS))
	}
	ew.printf("\n")
	if len(c.DisconnectCauses) > 0 {
		ew.printf("  lost: %s\n", fmtCauses(c.DisconnectCauses))
	}
	if len(c.ConnectFailCauses) > 0 {
		ew.printf("  failed to connect: %s\n", fmtCauses(c.ConnectFailCauses))
	}
	if c.ClientsAtEnd > 0 && c.ConnectedAtEnd < c.ClientsAtEnd {
		ew.printf("  %d of %d clients had no connection when the stages ended\n", c.ClientsAtEnd-c.ConnectedAtEnd, c.ClientsAtEnd)
	}
	if c.ServerLost {
		ew.printf("SERVER LOST: no client had a connection to the server when the stages ended; the errors and timeouts above are the server's absence, not the generator's\n")
	}
}

// fmtCauses prints counts by cause, most frequent first: "reset by the server 8, refused 3".
func fmtCauses(m map[string]uint64) string {
	keys := slices.Sorted(maps.Keys(m))
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", printable(k), m[k])
	}
	return strings.Join(parts, ", ")
}

func printGenerator(ew *errWriter, r *resultfmt.Result) {
	g := &r.Generator
	cpu := fmt.Sprintf("CPU %s", fmtDuration(time.Duration(g.CPUSeconds*float64(time.Second))))
	if wall := r.Meta.End.Sub(r.Meta.Start).Seconds(); wall > 0 {
		cpu += fmt.Sprintf(" in %s, %.2f cores on average", fmtDuration(r.Meta.End.Sub(r.Meta.Start)), g.CPUSeconds/wall)
	}
	if r.Meta.Target.Embedded {
		cpu += " (includes the embedded broker)"
	}
	ew.printf("generator: %s, GOMAXPROCS %d; GC pauses %s in all, %s at most; send delay p99 %s; sent %.1f%% of the schedule\n",
		cpu, g.GOMAXPROCS, fmtMicros(g.GCPauseTotalUS), fmtMicros(g.GCPauseMaxUS), fmtMicros(g.SendDelayP99US), 100*g.AchievedRatio)
	if p := g.Pacer; p.Mode != "" {
		ew.printf("pacer: %s", p.Mode)
		if p.Mode != string(loadgen.PacerSleep) {
			ew.printf(", spin window %s, budget %.2g core", fmtMicros(p.SpinWindowUS), p.SpinBudget)
		}
		if wall := r.Meta.End.Sub(r.Meta.Start).Seconds(); wall > 0 {
			ew.printf("; spun %.3f cores on average", p.SpinSeconds/wall)
		}
		ew.printf("; its lateness is the send delay above (p99 %s)\n", fmtMicros(g.SendDelayP99US))
		if p.Note != "" {
			ew.printf("note: %s\n", printable(p.Note))
		}
	}
	if g.Bound {
		why := strings.Join(g.Reasons, "; ")
		if why == "" {
			why = "no reason given"
		}
		ew.printf("WARNING: the generator could not keep up: %s. These figures measure dmbench, not the server: lower the rate or the clients, or run dmbench on another machine.\n", why)
	}
}

// SummaryJSON prints r as indented JSON in result.json's schema, without the encoded
// histograms and the scenario's text, which only matter to later merging and comparing.
func SummaryJSON(w io.Writer, r *resultfmt.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(withoutHistograms(r)); err != nil {
		return fmt.Errorf("report: printing the summary as JSON: %w", err)
	}
	return nil
}

// withoutHistograms returns a copy of r without encoded histograms and scenario text.
func withoutHistograms(r *resultfmt.Result) *resultfmt.Result {
	out := *r
	out.Meta.Scenario.Text = ""
	strip := func(s resultfmt.StageResult) resultfmt.StageResult {
		cmds := make([]resultfmt.CommandResult, len(s.Commands))
		for i, c := range s.Commands {
			c.Corrected.Histogram, c.Uncorrected.Histogram, c.SendDelay.Histogram = "", "", ""
			cmds[i] = c
		}
		s.Commands = cmds
		return s
	}
	if r.Warmup != nil {
		w := strip(*r.Warmup)
		out.Warmup = &w
	}
	out.Stages = make([]resultfmt.StageResult, len(r.Stages))
	for i, s := range r.Stages {
		out.Stages[i] = strip(s)
	}
	out.Connections.ConnectTime.Histogram = ""
	out.ServerView = serverViewWithoutHistograms(r.ServerView)
	return &out
}

// withoutHistograms returns a copy of sv without the encoded histograms of its reports
// and joins (nil for nil), for the JSON summary.
func serverViewWithoutHistograms(sv *resultfmt.ServerView) *resultfmt.ServerView {
	if sv == nil {
		return nil
	}
	out := *sv
	out.Snapshots = make([]resultfmt.ServerSnapshot, len(sv.Snapshots))
	for i, s := range sv.Snapshots {
		if s.Report != nil {
			rep := *s.Report
			if s.Report.Commands != nil {
				rep.Commands = make(map[string]resultfmt.ServerCommandCounts, len(s.Report.Commands))
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
	strip := func(j resultfmt.ServerJoin) resultfmt.ServerJoin {
		cmds := make([]resultfmt.ServerCommandJoin, len(j.Commands))
		for i, c := range j.Commands {
			c.ServiceTime.Histogram = ""
			cmds[i] = c
		}
		j.Commands = cmds
		return j
	}
	out.Stages = make([]resultfmt.ServerJoin, len(sv.Stages))
	for i, j := range sv.Stages {
		out.Stages[i] = strip(j)
	}
	if sv.Total != nil {
		t := strip(*sv.Total)
		out.Total = &t
	}
	return &out
}
