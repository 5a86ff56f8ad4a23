package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
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
func Summary(w io.Writer, r *Result, opts SummaryOptions) error {
	ew := &errWriter{w: w}
	m := &r.Meta
	printHeader(ew, m)
	if len(r.Stages) > 0 || r.Warmup != nil {
		ew.printf("\nlatency: corrected, timed from each request's intended send (uncorrected, timed from its actual send, in brackets)\n")
	}
	if r.Warmup != nil {
		var c Counts
		for _, cmd := range r.Warmup.Commands {
			c.add(cmd.Counts)
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

func printHeader(ew *errWriter, m *Meta) {
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
	ew.printf("%s %s, %s on %s (%s/%s, %d CPUs, GOMAXPROCS %d)\n", nonEmpty(m.Tool, "dmbench"), build, m.GoVersion, m.Host, m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS)

	sc := m.Scenario
	var scDetail []string
	if sc.File != "" {
		scDetail = append(scDetail, "file "+sc.File)
	}
	if sc.SHA256 != "" {
		scDetail = append(scDetail, "sha256 "+sc.SHA256[:min(12, len(sc.SHA256))])
	}
	ew.printf("scenario %s%s, seed %d\n", nonEmpty(sc.Name, "(unnamed)"), bracket(scDetail), m.Seed)

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
	ew.printf("target %s (%s), transport %s\n", nonEmpty(t.Address, "(none)"), strings.Join(tDetail, "; "), nonEmpty(m.Transport, "(default)"))

	if len(m.Labels) > 0 {
		var kv []string
		for _, k := range sortedKeys(m.Labels) {
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

func printStage(ew *errWriter, s *StageResult, title string, runStart time.Time) {
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
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "  COMMAND\tSENT\tOK\tEXCEPTIONS\tUNEXPECTED\tTIMEOUTS\tSEND ERRORS\tABANDONED\tOK/S\tP50\tP90\tP99\tP99.9\tMAX\t\n")
		for i := range s.Commands {
			c := &s.Commands[i]
			n := c.Counts
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
				c.Command, n.Sent, n.OK, n.Exceptions, n.Unexpected, n.Timeouts, n.SendErrors, n.Abandoned,
				fmtRate(c.ThroughputPerS),
				latCell(c.Corrected, c.Uncorrected, func(l Latency) int64 { return l.P50US }),
				latCell(c.Corrected, c.Uncorrected, func(l Latency) int64 { return l.P90US }),
				latCell(c.Corrected, c.Uncorrected, func(l Latency) int64 { return l.P99US }),
				latCell(c.Corrected, c.Uncorrected, func(l Latency) int64 { return l.P999US }),
				latCell(c.Corrected, c.Uncorrected, func(l Latency) int64 { return l.MaxUS }))
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
			notes = append(notes, plural(n, "late reply", "late replies")+" (after the timeout, counted as timeouts)")
		}
		if n := c.Counts.Duplicates; n > 0 {
			notes = append(notes, plural(n, "duplicate reply", "duplicate replies"))
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
func latCell(corr, unc Latency, pick func(Latency) int64) string {
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

func printStalls(ew *errWriter, stalls []Stall) {
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

func printDrain(ew *errWriter, d *Drain) {
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

func printConnections(ew *errWriter, c *Connections) {
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
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", printable(k), m[k])
	}
	return strings.Join(parts, ", ")
}

func printGenerator(ew *errWriter, r *Result) {
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
func SummaryJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(withoutHistograms(r)); err != nil {
		return fmt.Errorf("report: printing the summary as JSON: %w", err)
	}
	return nil
}

// withoutHistograms returns a copy of r without encoded histograms and scenario text.
func withoutHistograms(r *Result) *Result {
	out := *r
	out.Meta.Scenario.Text = ""
	strip := func(s StageResult) StageResult {
		cmds := make([]CommandResult, len(s.Commands))
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
	out.Stages = make([]StageResult, len(r.Stages))
	for i, s := range r.Stages {
		out.Stages[i] = strip(s)
	}
	out.Connections.ConnectTime.Histogram = ""
	out.ServerView = r.ServerView.withoutHistograms()
	return &out
}

// fmtMicros formats a number of microseconds with three significant digits in µs, ms or s.
func fmtMicros(v int64) string {
	switch {
	case v < 1000:
		return fmt.Sprintf("%dµs", v)
	case v < 1_000_000:
		return sig3(float64(v)/1e3) + "ms"
	default:
		return sig3(float64(v)/1e6) + "s"
	}
}

// sig3 formats f (at least 1) with three significant digits, or as a whole number from 1000 up.
func sig3(f float64) string {
	switch {
	case f < 9.995:
		return fmt.Sprintf("%.2f", f)
	case f < 99.95:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.0f", f)
	}
}

// fmtDuration formats a span of time: like fmtMicros below a second, in tenths of a
// second below a minute, then as 1m30s.
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return fmtMicros(int64(d / time.Microsecond))
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

func fmtRate(f float64) string {
	if f >= 100 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func nonEmpty(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func bracket(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// errWriter keeps the first write error and skips later writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("report: printing the summary: %w", err)
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

// printable returns s with control characters and invalid UTF-8 escaped as Go escapes
// them, so that text read from a file cannot drive the terminal.
func printable(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
