package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
)

// DefaultWidth is the width, in columns, Summary lays its text out for unless told another.
const DefaultWidth = 120

// SummaryOptions changes what Summary prints.
type SummaryOptions struct {
	// Warmup also prints the warm-up's table (it is always excluded from the stages').
	Warmup bool
	// Width is the terminal's width in columns; 0 is DefaultWidth. No line of the summary
	// is wider, but for one that a single word fills (a long scenario path or label) and a
	// table row wider in its narrowest layout too (counts in the billions at 80 columns).
	Width int
}

// Summary prints r as text: the run's identity, a table per stage with a row per command
// (sent, ok, errors, throughput, and p50 p90 p99 p99.9 max of corrected latency with the
// uncorrected latency beside or below it) and a total row when the stage has more than one
// command, the server's view beside the client's when the result has one (or the line
// saying why the server sent no report), stalls, connections, the generator's own figures,
// and a warning when the generator could not keep up.
//
// The text fits opts.Width: prose wraps, and the tables take the first of stageLayouts
// (and joinLayouts) that fits, down to a single ERRORS column, the uncorrected latency on a
// row of its own and fewer percentiles. Every figure left out is in SummaryJSON.
func Summary(w io.Writer, r *resultfmt.Result, opts SummaryOptions) error {
	width := cmp.Or(opts.Width, DefaultWidth)
	ew := &errWriter{w: w, width: width}
	m := &r.Meta
	var tabled []*resultfmt.StageResult
	if r.Warmup != nil && opts.Warmup {
		tabled = append(tabled, r.Warmup)
	}
	for i := range r.Stages {
		tabled = append(tabled, &r.Stages[i])
	}
	layout := stageLayouts[firstFitting(len(stageLayouts), width, func(w io.Writer, i int) {
		for _, s := range tabled {
			stageTable(w, s, stageLayouts[i])
		}
	})]

	printHeader(ew, m)
	if len(r.Stages) > 0 || r.Warmup != nil {
		ew.printf("\n%s\n", layout.legend())
	}
	if r.Warmup != nil {
		var c resultfmt.Counts
		for _, cmd := range r.Warmup.Commands {
			c.Add(cmd.Counts)
		}
		ew.printf("\nwarm-up: %s, %d sent, %d ok: excluded from the figures below\n", fmtDuration(r.Warmup.Duration()), c.Sent, c.OK)
		if opts.Warmup {
			printStage(ew, r.Warmup, "warm-up (excluded)", m.Start, layout)
		}
	}
	for i := range r.Stages {
		printStage(ew, &r.Stages[i], stageTitle(i, r.Stages[i].Name), m.Start, layout)
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

// stageTitle names stage i (0-based) as the summary does: stage 2 "ramp", the name
// escaped (termtext.Escape) as it may come from someone else's result.json.
func stageTitle(i int, name string) string {
	return fmt.Sprintf("stage %d \"%s\"", i+1, termtext.Escape(name))
}

// percentile is a latency percentile as a stage table shows it.
type percentile struct {
	name string
	pick func(resultfmt.Latency) int64
}

var (
	p50  = percentile{"P50", func(l resultfmt.Latency) int64 { return l.P50US }}
	p90  = percentile{"P90", func(l resultfmt.Latency) int64 { return l.P90US }}
	p99  = percentile{"P99", func(l resultfmt.Latency) int64 { return l.P99US }}
	p999 = percentile{"P99.9", func(l resultfmt.Latency) int64 { return l.P999US }}
	pMax = percentile{"MAX", func(l resultfmt.Latency) int64 { return l.MaxUS }}
)

// allPercentiles are the percentiles the widest stage table shows.
var allPercentiles = []percentile{p50, p90, p99, p999, pMax}

// errorKinds are the kinds of error a request can come to (their sum is Counts.Errors),
// as the widest stage table heads their columns and the others name them below it.
var errorKinds = []struct {
	head, one, many string
	n               func(resultfmt.Counts) uint64
}{
	{"EXCEPTIONS", "exception", "exceptions", func(c resultfmt.Counts) uint64 { return c.Exceptions }},
	{"UNEXPECTED", "unexpected reply", "unexpected replies", func(c resultfmt.Counts) uint64 { return c.Unexpected }},
	{"TIMEOUTS", "timeout", "timeouts", func(c resultfmt.Counts) uint64 { return c.Timeouts }},
	{"SEND ERRORS", "send error", "send errors", func(c resultfmt.Counts) uint64 { return c.SendErrors }},
	{"ABANDONED", "abandoned", "abandoned", func(c resultfmt.Counts) uint64 { return c.Abandoned }},
}

// stageLayout is how a stage table shows a command's figures.
type stageLayout struct {
	byKind           bool // a column per kind of error, else one ERRORS column and the kinds below the table
	uncorrectedBelow bool // the uncorrected latency on a row of its own, else in brackets beside the corrected
	percentiles      []percentile
}

// stageLayouts are the stage tables' layouts, the widest first: Summary takes the first
// that fits its width.
var stageLayouts = []stageLayout{
	{byKind: true, percentiles: allPercentiles},
	{percentiles: allPercentiles},
	{uncorrectedBelow: true, percentiles: allPercentiles},
	{uncorrectedBelow: true, percentiles: []percentile{p50, p99, p999, pMax}},
	{uncorrectedBelow: true, percentiles: []percentile{p50, p99, pMax}},
}

// legend is the line that says what the latency cells hold.
func (l stageLayout) legend() string {
	where := "in brackets"
	if l.uncorrectedBelow {
		where = "in brackets below"
	}
	s := "latency: corrected, timed from each request's intended send (uncorrected, timed from its actual send, " + where + ")"
	var left []string
	for _, p := range allPercentiles {
		if !slices.ContainsFunc(l.percentiles, func(q percentile) bool { return q.name == p.name }) {
			left = append(left, p.name)
		}
	}
	if len(left) > 0 {
		s += "; " + strings.Join(left, " and ") + " left out to fit the width (the JSON summary has every figure)"
	}
	return s
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

func printStage(ew *errWriter, s *resultfmt.StageResult, title string, runStart time.Time, l stageLayout) {
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
	stageTable(ew, s, l)
	for i := range s.Commands {
		c := &s.Commands[i]
		var notes []string
		if n := c.Counts; !l.byKind && n.Errors() > 0 {
			var kinds []string
			for _, k := range errorKinds {
				if v := k.n(n); v > 0 {
					kinds = append(kinds, words.Plural(v, k.one, k.many))
				}
			}
			notes = append(notes, words.Plural(n.Errors(), "error", "errors")+" ("+strings.Join(kinds, ", ")+")")
		}
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

// stageTable writes s's table in layout l: a row per command, then a TOTAL row of all
// commands (counts and throughput summed: what the progress line showed) when there are
// more than one. Nothing when s has no commands.
func stageTable(w io.Writer, s *resultfmt.StageResult, l stageLayout) {
	if len(s.Commands) == 0 {
		return
	}
	counts := func(name string, n resultfmt.Counts, okPerS float64) []string {
		cells := []string{"  " + name, strconv.FormatUint(n.Sent, 10), strconv.FormatUint(n.OK, 10)}
		if l.byKind {
			for _, k := range errorKinds {
				cells = append(cells, strconv.FormatUint(k.n(n), 10))
			}
		} else {
			cells = append(cells, strconv.FormatUint(n.Errors(), 10))
		}
		return append(cells, fmtRate(okPerS))
	}
	tw := newTable(w)
	head := []string{"  COMMAND", "SENT", "OK"}
	if l.byKind {
		for _, k := range errorKinds {
			head = append(head, k.head)
		}
	} else {
		head = append(head, "ERRORS")
	}
	head = append(head, "OK/S")
	for _, p := range l.percentiles {
		head = append(head, p.name)
	}
	tableRow(tw, head...)
	var total resultfmt.Counts
	var totalPerS float64
	for i := range s.Commands {
		c := &s.Commands[i]
		total.Add(c.Counts)
		totalPerS += c.ThroughputPerS
		row := counts(c.Command, c.Counts, c.ThroughputPerS)
		below := make([]string, len(row))
		for _, p := range l.percentiles {
			corr, unc := latCells(c.Corrected, c.Uncorrected, p.pick)
			switch {
			case unc == "":
				row = append(row, corr)
			case l.uncorrectedBelow:
				row, below = append(row, corr), append(below, "("+unc+")")
			default:
				row = append(row, corr+" ("+unc+")")
			}
		}
		tableRow(tw, row...)
		tableRow(tw, below...)
	}
	if len(s.Commands) > 1 {
		tableRow(tw, counts("TOTAL", total, totalPerS)...)
	}
	tw.Flush()
}

// latCells formats one percentile of the corrected and the uncorrected latency, "-" for
// a side with nothing timed; both "-" and "" when nothing was timed at all.
func latCells(corr, unc resultfmt.Latency, pick func(resultfmt.Latency) int64) (string, string) {
	if corr.Count == 0 && unc.Count == 0 {
		return "-", ""
	}
	c, u := "-", "-"
	if corr.Count > 0 {
		c = fmtMicros(pick(corr))
	}
	if unc.Count > 0 {
		u = fmtMicros(pick(unc))
	}
	return c, u
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
	line := fmt.Sprintf("connections: %d connected, %d failed, %d disconnects (at most %d in one interval)", c.Connected, c.ConnectFailed, c.Disconnects, c.DisconnectsMax)
	if l := c.ConnectTime; l.Count > 0 {
		line += fmt.Sprintf("; connect time p50 %s, p99 %s, max %s", fmtMicros(l.P50US), fmtMicros(l.P99US), fmtMicros(l.MaxUS))
	}
	ew.printf("%s\n", line)
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
		parts[i] = fmt.Sprintf("%s %d", k, m[k]) // escaped as printf prints it
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
		line := "pacer: " + p.Mode
		if p.Mode != string(loadgen.PacerSleep) {
			line += fmt.Sprintf(", spin window %s, budget %.2g core", fmtMicros(p.SpinWindowUS), p.SpinBudget)
		}
		if wall := r.Meta.End.Sub(r.Meta.Start).Seconds(); wall > 0 {
			line += fmt.Sprintf("; spun %.3f cores on average", p.SpinSeconds/wall)
		}
		if p.KeepsP {
			line += "; it kept its P while it waited (the broker is in another process)"
		}
		ew.printf("%s; its lateness is the send delay above (p99 %s)\n", line, fmtMicros(g.SendDelayP99US))
		if p.Note != "" {
			ew.printf("note: %s\n", p.Note)
		}
	}
	if rp := g.Replies; rp.IOLoops > 0 {
		where := fmt.Sprintf("%d I/O loop(s)", rp.IOLoops)
		if rp.PacerServesIO {
			where = "one I/O loop served by the pacer's thread"
			if rp.IOUring {
				where += " through its io_uring"
			}
		}
		line := fmt.Sprintf("replies: on %s; %d reads timed by the kernel's receive timestamp, %d by the read", where, rp.KernelStamped, rp.ReadStamped)
		if rp.KernelStamped > 0 {
			line += fmt.Sprintf("; read %s after arrival on average, %s at most (not in the latency)", fmtMicros(rp.KernelWaitMeanUS), fmtMicros(rp.KernelWaitMaxUS))
		}
		ew.printf("%s\n", line)
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
// Strings hold no character that drives a terminal, raw: those encoding/json leaves (DEL,
// C1 controls, bidi overrides) are \u escapes too (termtext.EscapeJSON).
func SummaryJSON(w io.Writer, r *resultfmt.Result) error {
	if err := writeJSON(w, withoutHistograms(r)); err != nil {
		return fmt.Errorf("report: printing the summary as JSON: %w", err)
	}
	return nil
}

// writeJSON writes v to w as indented JSON, escaped for a terminal (termtext.EscapeJSON).
func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termtext.EscapeJSON(b.Bytes()))
	return err
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
