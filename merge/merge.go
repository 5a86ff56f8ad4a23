package merge

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/resultfmt"
)

// DefaultWindowTolerance is how far apart the shards' measured windows may start or end
// before the merged result notes it, unless Options.WindowTolerance says otherwise.
const DefaultWindowTolerance = 100 * time.Millisecond

// Options change how shards are merged.
type Options struct {
	// AllowMissing merges the shards given when some of the run's shards are absent,
	// instead of refusing; the result lists them in Meta.Merge.Missing.
	AllowMissing bool
	// WindowTolerance is how far apart the shards' measured windows may start or end
	// without a note; 0 means DefaultWindowTolerance.
	WindowTolerance time.Duration
}

func (o Options) tolerance() time.Duration {
	if o.WindowTolerance > 0 {
		return o.WindowTolerance
	}
	return DefaultWindowTolerance
}

// Input is one shard's result and the run folder it was read from.
type Input struct {
	Dir    string
	Result *resultfmt.Result
}

// name is how messages name the input: its shard and folder.
func (in *Input) name() string {
	if s := in.Result.Meta.Shard; s != nil {
		return fmt.Sprintf("%s (%s)", s, in.Dir)
	}
	return in.Dir
}

// Read reads the shards' results. Each path is what resultfmt.LoadSet reads: a run
// folder, its result.json, or a folder of run folders (as the folder a shard's run -o
// named, which holds its one run folder), so a folder holding every shard's run folder
// gives them all.
func Read(paths ...string) ([]Input, error) {
	set, err := resultfmt.LoadSet(paths...)
	if err != nil {
		return nil, err
	}
	in := make([]Input, len(set.Runs))
	for i, r := range set.Runs {
		dir := set.Dirs[i]
		if filepath.Base(dir) == resultfmt.ResultFile {
			dir = filepath.Dir(dir)
		}
		in[i] = Input{Dir: dir, Result: r}
	}
	return in, nil
}

// Folders is the whole job of dmbench merge: it reads the shards' results from paths
// (see Read), merges them (Results) and their interval logs (Logs), and writes the
// merged run folder at out (Write). It returns the merged result.
func Folders(out string, paths []string, opts Options) (*resultfmt.Result, error) {
	in, err := Read(paths...)
	if err != nil {
		return nil, err
	}
	r, err := Results(in, opts)
	if err != nil {
		return nil, err
	}
	ivs, notes, err := Logs(in)
	if err != nil {
		return nil, err
	}
	r.Meta.Merge.Notes = append(r.Meta.Merge.Notes, notes...)
	if err := Write(out, r, ivs); err != nil {
		return nil, err
	}
	return r, nil
}

// Results merges the shards' result documents into one, as the package documentation
// describes, after checking that they are the shards of one run. The inputs are put in
// shard order. The merged result has Meta.Merge set and Meta.Shard unset.
func Results(in []Input, opts Options) (*resultfmt.Result, error) {
	run, err := check(in, opts)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(in, func(a, b Input) int { return a.Result.Meta.Shard.Index - b.Result.Meta.Shard.Index })
	m := &merger{in: in, opts: opts, run: run}
	return m.merge()
}

// merger builds one merged result.
type merger struct {
	in    []Input
	opts  Options
	run   runInfo
	notes []string
}

func (m *merger) note(format string, args ...any) {
	m.notes = append(m.notes, fmt.Sprintf(format, args...))
}

func (m *merger) merge() (*resultfmt.Result, error) {
	first := m.in[0].Result
	out := &resultfmt.Result{
		Meta:   m.meta(),
		Stages: make([]resultfmt.StageResult, 0, len(first.Stages)),
	}
	if first.Warmup != nil {
		w, err := m.stage("warm-up", func(r *resultfmt.Result) *resultfmt.StageResult { return r.Warmup })
		if err != nil {
			return nil, err
		}
		out.Warmup = &w
	}
	for k := range first.Stages {
		s, err := m.stage(fmt.Sprintf("stage %d", k+1), func(r *resultfmt.Result) *resultfmt.StageResult { return &r.Stages[k] })
		if err != nil {
			return nil, err
		}
		out.Stages = append(out.Stages, s)
	}
	out.Stalls = m.stalls(out.Meta.Start)
	out.Drain = m.drain()
	conns, err := m.connections()
	if err != nil {
		return nil, err
	}
	out.Connections = conns
	gen, err := m.generator(out)
	if err != nil {
		return nil, err
	}
	out.Generator = gen
	for _, in := range m.in {
		for _, w := range in.Result.Warnings {
			out.Warnings = append(out.Warnings, in.Result.Meta.Shard.String()+": "+w)
		}
	}
	if len(m.run.missing) > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("merged without %s: the counts and rates are short by their share of the load",
			shardList(m.run.missing, m.run.count)))
	}
	m.serverView(out)
	out.Meta.Merge.Notes = append(out.Meta.Merge.Notes, m.notes...)
	return out, nil
}

// meta is the merged run's metadata: the first shard's, with the run's start and end,
// the hosts and CPUs of every shard, interruptions prefixed by their shard, and Merge.
func (m *merger) meta() resultfmt.Meta {
	first := m.in[0].Result.Meta
	meta := first
	meta.SchemaVersion = resultfmt.SchemaVersion
	meta.Shard = nil
	meta.Interrupted, meta.InterruptReason = false, ""
	meta.NumCPU, meta.GOMAXPROCS = 0, 0
	var hosts, reasons []string
	merge := &resultfmt.Merge{Count: m.run.count, StartAt: m.run.startAt, Missing: m.run.missing}
	for i, in := range m.in {
		r := in.Result.Meta
		if i == 0 || r.Start.Before(meta.Start) {
			meta.Start = r.Start
		}
		if r.End.After(meta.End) {
			meta.End = r.End
		}
		meta.NumCPU += r.NumCPU
		meta.GOMAXPROCS += r.GOMAXPROCS
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
		if r.Interrupted {
			meta.Interrupted = true
			reasons = append(reasons, r.Shard.String()+": "+cmp.Or(r.InterruptReason, "interrupted"))
		}
		merge.Shards = append(merge.Shards, resultfmt.MergedShard{Index: r.Shard.Index, Dir: in.Dir, Host: r.Host, Start: r.Start, End: r.End})
		for _, d := range []struct{ what, a, b string }{
			{"tool version", first.ToolVersion, r.ToolVersion},
			{"target", first.Target.Address, r.Target.Address},
			{"transport", first.Transport, r.Transport},
			{"broker mode", first.Target.BrokerMode, r.Target.BrokerMode},
		} {
			if d.a != d.b {
				m.note("%s ran with %s %q, %s with %q: the merged metadata gives the first's", first.Shard, d.what, d.a, r.Shard, d.b)
			}
		}
	}
	meta.Host = strings.Join(hosts, ",")
	meta.InterruptReason = strings.Join(reasons, "; ")
	meta.Merge = merge
	if first.Target.Embedded {
		m.note("the shards ran against embedded brokers, each its own: they did not load one server")
	}
	return meta
}

// stage merges one stage (or the warm-up) of every shard: times and measured window,
// counts summed, histograms merged, rates over the merged window.
func (m *merger) stage(where string, pick func(*resultfmt.Result) *resultfmt.StageResult) (resultfmt.StageResult, error) {
	stages := make([]*resultfmt.StageResult, len(m.in))
	for i := range m.in {
		stages[i] = pick(m.in[i].Result)
	}
	s0 := stages[0]
	out := resultfmt.StageResult{Name: s0.Name, Start: s0.Start, End: s0.End}
	var (
		mStart, mEnd           time.Time
		minStart, maxStart     time.Time
		minEnd, maxEnd         time.Time
		measured               int
		undecodable, unmatched uint64
	)
	for _, s := range stages {
		if s.Start.Before(out.Start) {
			out.Start = s.Start
		}
		if s.End.After(out.End) {
			out.End = s.End
		}
		undecodable += s.Undecodable
		unmatched += s.Unmatched
		if s.MeasuredUS <= 0 {
			continue
		}
		start, end := s.MeasuredStart, s.MeasuredStart.Add(s.Measured())
		if measured == 0 {
			mStart, mEnd, minStart, maxStart, minEnd, maxEnd = start, end, start, start, end, end
		}
		measured++
		mStart, minStart, maxStart = minTime(mStart, start), minTime(minStart, start), maxTime(maxStart, start)
		mEnd, minEnd, maxEnd = maxTime(mEnd, end), minTime(minEnd, end), maxTime(maxEnd, end)
	}
	out.DurationUS = out.End.Sub(out.Start).Microseconds()
	out.Undecodable, out.Unmatched = undecodable, unmatched
	if measured > 0 {
		out.MeasuredStart, out.MeasuredUS = mStart, mEnd.Sub(mStart).Microseconds()
		tol := m.opts.tolerance()
		if ds, de := maxStart.Sub(minStart), maxEnd.Sub(minEnd); ds > tol || de > tol {
			m.note("%s %q: the shards' measured windows differ by %s at the start and %s at the end (more than %s): its rates divide by their union, from the earliest start to the latest end (%s)",
				where, s0.Name, ds.Round(time.Millisecond), de.Round(time.Millisecond), tol, mEnd.Sub(mStart).Round(time.Millisecond))
		}
	} else {
		out.MeasuredStart = s0.MeasuredStart
	}
	window := out.Measured().Seconds()
	for _, cmd := range commandsOf(stages) {
		c := resultfmt.CommandResult{Command: cmd}
		var parts [3][]resultfmt.Latency
		for _, s := range stages {
			for ci := range s.Commands {
				sc := &s.Commands[ci]
				if sc.Command != cmd {
					continue
				}
				c.Counts.Add(sc.Counts)
				parts[0] = append(parts[0], sc.Corrected)
				parts[1] = append(parts[1], sc.Uncorrected)
				parts[2] = append(parts[2], sc.SendDelay)
			}
		}
		for k, dst := range []*resultfmt.Latency{&c.Corrected, &c.Uncorrected, &c.SendDelay} {
			l, err := MergeLatencies(parts[k]...)
			if err != nil {
				return out, fmt.Errorf("merging %s %q %s %s: %w", where, s0.Name, cmd, []string{"corrected latency", "uncorrected latency", "send delay"}[k], err)
			}
			*dst = l
		}
		if window > 0 {
			c.ThroughputPerS = float64(c.Counts.OK) / window
			c.SentPerS = float64(c.Counts.Sent) / window
		}
		out.Commands = append(out.Commands, c)
	}
	if out.Commands == nil {
		out.Commands = []resultfmt.CommandResult{}
	}
	return out, nil
}

// commandsOf returns the commands of stages in the order they first appear.
func commandsOf(stages []*resultfmt.StageResult) []string {
	var names []string
	for _, s := range stages {
		for _, c := range s.Commands {
			if !slices.Contains(names, c.Command) {
				names = append(names, c.Command)
			}
		}
	}
	return names
}

// drain merges the shards' drains: the longest limit and wait, the outstanding requests
// summed, cut when any was.
func (m *merger) drain() resultfmt.Drain {
	var d resultfmt.Drain
	for _, in := range m.in {
		s := in.Result.Drain
		d.LimitUS = max(d.LimitUS, s.LimitUS)
		d.WaitedUS = max(d.WaitedUS, s.WaitedUS)
		d.Outstanding += s.Outstanding
		d.Cut = d.Cut || s.Cut
	}
	return d
}

// connections sums the shards' connection figures and merges their connect times.
func (m *merger) connections() (resultfmt.Connections, error) {
	var c resultfmt.Connections
	var times []resultfmt.Latency
	for _, in := range m.in {
		s := in.Result.Connections
		c.Connected += s.Connected
		c.ConnectFailed += s.ConnectFailed
		c.Disconnects += s.Disconnects
		c.DisconnectsMax += s.DisconnectsMax
		c.ClientsAtEnd += s.ClientsAtEnd
		c.ConnectedAtEnd += s.ConnectedAtEnd
		c.DisconnectCauses = addCauses(c.DisconnectCauses, s.DisconnectCauses)
		c.ConnectFailCauses = addCauses(c.ConnectFailCauses, s.ConnectFailCauses)
		times = append(times, s.ConnectTime)
		if s.ServerLost {
			m.note("%s lost the server: none of its clients had a connection as its stages ended", in.Result.Meta.Shard)
		}
	}
	c.ServerLost = c.Connected > 0 && c.ClientsAtEnd > 0 && c.ConnectedAtEnd == 0
	l, err := MergeLatencies(times...)
	if err != nil {
		return c, fmt.Errorf("merging the connect times: %w", err)
	}
	c.ConnectTime = l
	return c, nil
}

func addCauses(into, from map[string]uint64) map[string]uint64 {
	if len(from) == 0 {
		return into
	}
	if into == nil {
		into = map[string]uint64{}
	}
	for k, n := range from {
		into[k] += n
	}
	return into
}

// generator merges the generators' self-watch: bound when any shard was (its reasons
// prefixed by the shard), CPU, GOMAXPROCS, GC pauses and pacer work summed (the longest
// pause kept), the send delay's p99 over the merged stages, and the achieved ratio of
// everything sent to everything scheduled.
func (m *merger) generator(out *resultfmt.Result) (resultfmt.Generator, error) {
	first := m.in[0].Result.Generator
	g := resultfmt.Generator{Pacer: first.Pacer}
	g.Pacer.SpinSeconds, g.Pacer.Wakes, g.Pacer.BudgetSpent, g.Pacer.Note = 0, 0, 0, ""
	g.Replies = resultfmt.Replies{IOLoops: first.Replies.IOLoops, PacerServesIO: first.Replies.PacerServesIO, IOUring: first.Replies.IOUring}
	var waitSum float64
	var sent, scheduled float64
	var pacerNotes []string
	for _, in := range m.in {
		s := in.Result.Generator
		shard := in.Result.Meta.Shard.String()
		if s.Bound {
			g.Bound = true
			if len(s.Reasons) == 0 {
				g.Reasons = append(g.Reasons, shard+": bound")
			}
			for _, r := range s.Reasons {
				g.Reasons = append(g.Reasons, shard+": "+r)
			}
		}
		g.CPUSeconds += s.CPUSeconds
		g.GOMAXPROCS += s.GOMAXPROCS
		g.GCPauseTotalUS += s.GCPauseTotalUS
		g.GCPauseMaxUS = max(g.GCPauseMaxUS, s.GCPauseMaxUS)
		g.Pacer.SpinSeconds += s.Pacer.SpinSeconds
		g.Pacer.Wakes += s.Pacer.Wakes
		g.Pacer.BudgetSpent += s.Pacer.BudgetSpent
		g.Replies.KernelStamped += s.Replies.KernelStamped
		g.Replies.ReadStamped += s.Replies.ReadStamped
		g.Replies.KernelWaitMaxUS = max(g.Replies.KernelWaitMaxUS, s.Replies.KernelWaitMaxUS)
		waitSum += float64(s.Replies.KernelWaitMeanUS) * float64(s.Replies.KernelStamped)
		if s.Pacer.Note != "" {
			pacerNotes = append(pacerNotes, shard+": "+s.Pacer.Note)
		}
		if s.Pacer.Mode != first.Pacer.Mode {
			m.note("%s paced with %q, %s with %q", m.in[0].Result.Meta.Shard, first.Pacer.Mode, in.Result.Meta.Shard, s.Pacer.Mode)
		}
		n := float64(sentOf(in.Result))
		sent += n
		if s.AchievedRatio > 0 {
			scheduled += n / s.AchievedRatio
		}
	}
	g.Pacer.Note = strings.Join(pacerNotes, "; ")
	if g.Replies.KernelStamped > 0 {
		g.Replies.KernelWaitMeanUS = int64(waitSum / float64(g.Replies.KernelStamped))
	}
	g.AchievedRatio = 1
	if scheduled > 0 {
		g.AchievedRatio = sent / scheduled
	}
	var delays []resultfmt.Latency
	for _, s := range out.Stages {
		for _, c := range s.Commands {
			delays = append(delays, c.SendDelay)
		}
	}
	h, err := mergeHistograms(delays)
	if err != nil {
		return g, fmt.Errorf("merging the send delays: %w", err)
	}
	if h.TotalCount() > 0 {
		g.SendDelayP99US = h.ValueAtQuantile(99)
	}
	return g, nil
}

// sentOf counts a run's requests sent or attempted (a refused send counts, as the
// generator's achieved ratio counts it), warm-up included.
func sentOf(r *resultfmt.Result) uint64 {
	var n uint64
	stages := r.Stages
	if r.Warmup != nil {
		stages = append([]resultfmt.StageResult{*r.Warmup}, stages...)
	}
	for _, s := range stages {
		for _, c := range s.Commands {
			n += c.Counts.Sent + c.Counts.SendErrors
		}
	}
	return n
}

// shardList names shards by index, e.g. "shards 2/3 and 3/3".
func shardList(indexes []int, count int) string {
	names := make([]string, len(indexes))
	for i, k := range indexes {
		names[i] = fmt.Sprintf("%d/%d", k+1, count)
	}
	switch {
	case len(names) == 1:
		return "shard " + names[0]
	case len(names) > 8:
		return "shards " + words.ListSome(names, 8)
	}
	return "shards " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
