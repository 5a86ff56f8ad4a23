package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/metric"
	"github.com/dmbench/dmbench/resultfmt"
)

// printServerView prints the server view section of the summary: one line when the
// server sent no report, else the client's and the server's figures side by side per
// stage and for the whole run, and the server's state over the run.
func printServerView(ew *errWriter, r *resultfmt.Result) {
	sv := r.ServerView
	if sv == nil {
		return
	}
	if !sv.Available {
		why := cmp.Or(sv.NoReport, "no report came")
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
	var id *resultfmt.ServerReport
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
		cmp.Or(id.Server, "(unnamed server)"), bracket(who), countReports(sv), when)
	ew.printf("  client SENT − server RECEIVED were lost before the server; server COMPLETED + FAILED − the replies the client got " +
		"(requests without ack count as answered) were lost after it. RTT (the client's, reply − actual send) − SERVICE (the " +
		"server's own time) is queueing, network and the generator. The whole run joins exactly, a stage approximately: " +
		"requests in flight at its boundaries fall on either side, and can make its losses read below zero.\n")
	// One stage that spans the whole run is printed once.
	whole := sv.Total != nil && len(sv.Stages) == 1 && sv.Stages[0].FromSnapshot == sv.Total.FromSnapshot &&
		sv.Stages[0].ToSnapshot == sv.Total.ToSnapshot && sv.Stages[0].Problem == sv.Total.Problem
	var joins []*resultfmt.ServerJoin
	for i := range sv.Stages {
		joins = append(joins, &sv.Stages[i])
	}
	if sv.Total != nil && !whole {
		joins = append(joins, sv.Total)
	}
	layout := joinLayouts[firstFitting(len(joinLayouts), ew.width, func(w io.Writer, i int) {
		for _, j := range joins {
			joinTables(w, j, joinLayouts[i])
		}
	})]
	for i := range sv.Stages {
		title := stageTitle(i, sv.Stages[i].Name)
		if whole {
			title += ", the whole run"
		}
		printJoin(ew, &sv.Stages[i], title, layout)
	}
	if sv.Total != nil {
		if !whole {
			printJoin(ew, sv.Total, "whole run", layout)
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
	extra, values, missing := sv.UnknownFields()
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

func countReports(sv *resultfmt.ServerView) int {
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

func printJoin(ew *errWriter, j *resultfmt.ServerJoin, title string, layout []int) {
	span := ""
	if j.From != "" && j.To != "" {
		span = j.From + " → " + j.To
	}
	if j.IncludesWarmup {
		span = words.Notes(span, "the client's side includes the warm-up")
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
	joinTables(ew, j, layout)
	for i := range j.Commands {
		c := &j.Commands[i]
		if note := words.Notes(c.Note, c.ServiceProblem); note != "" {
			ew.printf("    %s: %s\n", c.Command, note)
		}
	}
	var state []string
	if j.Groups != nil {
		state = append(state, words.Plural(max(*j.Groups, 0), "group", "groups"))
	}
	if j.Memberships != nil {
		state = append(state, words.Plural(max(*j.Memberships, 0), "membership", "memberships"))
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

// joinColumns are the columns of a server join table after COMMAND.
var joinColumns = []struct {
	head string
	cell func(c *resultfmt.ServerCommandJoin) string
}{
	{"SENT", func(c *resultfmt.ServerCommandJoin) string { return strconv.FormatUint(c.ClientSent, 10) }},
	{"RECEIVED", serverCount(func(s *resultfmt.ServerCounts) uint64 { return s.Received })},
	{"COMPLETED", serverCount(func(s *resultfmt.ServerCounts) uint64 { return s.Completed })},
	{"FAILED", serverCount(func(s *resultfmt.ServerCounts) uint64 { return s.Exceptions })},
	{"OK", func(c *resultfmt.ServerCommandJoin) string { return strconv.FormatUint(c.ClientOK, 10) }},
	{"LOST BEFORE", func(c *resultfmt.ServerCommandJoin) string { return fmtLoss(c.LossBeforeServer) }},
	{"LOST AFTER", func(c *resultfmt.ServerCommandJoin) string { return fmtLoss(c.LossAfterServer) }},
	{"P50 RTT / SERVICE", func(c *resultfmt.ServerCommandJoin) string {
		return rttService(c, c.ClientRTTP50US, c.ServiceTime.P50US)
	}},
	{"P99 RTT / SERVICE", func(c *resultfmt.ServerCommandJoin) string {
		return rttService(c, c.ClientRTTP99US, c.ServiceTime.P99US)
	}},
}

// joinLayouts are the join tables' layouts, the widest first: where each table, one under
// the other, ends in joinColumns. printServerView takes the first that fits its width.
var joinLayouts = [][]int{{9}, {5, 9}, {5, 7, 9}}

// joinTables writes j's commands in the tables of layout: each has a row per command.
func joinTables(w io.Writer, j *resultfmt.ServerJoin, layout []int) {
	if len(j.Commands) == 0 {
		return
	}
	from := 0
	for _, to := range layout {
		tw := newTable(w)
		row := []string{"    COMMAND"}
		for _, col := range joinColumns[from:to] {
			row = append(row, col.head)
		}
		tableRow(tw, row...)
		for i := range j.Commands {
			c := &j.Commands[i]
			row = []string{"    " + c.Command}
			for _, col := range joinColumns[from:to] {
				row = append(row, col.cell(c))
			}
			tableRow(tw, row...)
		}
		tw.Flush()
		from = to
	}
}

// serverCount returns a cell of one of the server's counts, "absent" without them.
func serverCount(pick func(*resultfmt.ServerCounts) uint64) func(*resultfmt.ServerCommandJoin) string {
	return func(c *resultfmt.ServerCommandJoin) string {
		if c.Server == nil {
			return "absent"
		}
		return strconv.FormatUint(pick(c.Server), 10)
	}
}

func fmtLoss(v *int64) string {
	if v == nil {
		return "absent"
	}
	return strconv.FormatInt(*v, 10)
}

// rttService formats "client RTT / server service time", "-" for a side with no values.
func rttService(c *resultfmt.ServerCommandJoin, rtt, service int64) string {
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

func printOverRun(ew *errWriter, o *resultfmt.ServerOverRun, embedded bool) {
	var parts []string
	g := func(name string, x *resultfmt.ServerGauge, f func(int64) string) {
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
			return metric.Significant(math.Abs(f), 3) + " " + u
		}
		f /= 1024
	}
	return ""
}
