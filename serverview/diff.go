package serverview

import (
	"errors"
	"fmt"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/protocol"
)

// ErrRestarted is matched (errors.Is) by Between's error for snapshots of different
// server instances.
var ErrRestarted = errors.New("the server restarted")

// Delta is what the server did between two snapshots of one instance.
type Delta struct {
	From, To *Snapshot
	// Commands holds each command key of the later report (protocol.UnknownCommand for
	// the commands the server does not know), differenced.
	Commands map[string]CommandDelta
	// Reports are the PERFMNCE requests from every connection, Polls of them the
	// poller's own (its requests for To included, From's not).
	Reports   CommandDelta
	Polls     int
	Malformed uint64
	Dropped   protocol.Dropped
	// Unit is the histograms' unit as the later report gives it ("" when absent);
	// protocol.HistogramUnit ("us") is what dmbench's broker sends.
	Unit string
	// Absent lists the report keys the differences need that either report lacks
	// (commands, reports, malformed, dropped); those figures read zero here.
	Absent []string
}

// CommandDelta is one command's counts and service times between two snapshots.
type CommandDelta struct {
	Received, Completed, Exceptions, Malformed uint64
	// ServiceTime is the service times recorded between the snapshots; nil when the
	// later report has no histogram for the command, or ServiceErr says why not.
	ServiceTime *hdrhistogram.Histogram
	ServiceErr  string
}

// Between differences two snapshots: what the server counted after from and up to to.
// It fails when either has no report, when they are of different instances (a restart,
// ErrRestarted: also when the uptime went down), when a report has no commands, or when a
// count went down (not one server's history). A histogram that cannot be differenced
// leaves only that command's ServiceErr set.
func Between(from, to *Snapshot) (*Delta, error) {
	if from.Report == nil || to.Report == nil {
		s := from
		if from.Report != nil {
			s = to
		}
		return nil, fmt.Errorf("no server report at %q", s.Label)
	}
	a, b := from.Report, to.Report
	if Absent(a, "instance") == Absent(b, "instance") && a.Instance != b.Instance {
		return nil, fmt.Errorf("%w between %q and %q (instance %s, then %s): counts of two instances cannot be differenced", ErrRestarted, from.Label, to.Label, a.Instance, b.Instance)
	}
	if !Absent(a, "uptime_s") && !Absent(b, "uptime_s") && b.UptimeSeconds < a.UptimeSeconds {
		return nil, fmt.Errorf("%w between %q and %q (its uptime went from %.1fs down to %.1fs): counts of two runs of the server cannot be differenced", ErrRestarted, from.Label, to.Label, a.UptimeSeconds, b.UptimeSeconds)
	}
	for _, r := range []*protocol.Report{a, b} {
		if Absent(r, "commands") {
			s := from
			if r == b {
				s = to
			}
			return nil, fmt.Errorf("the server's report at %q has no commands: its counts are absent", s.Label)
		}
	}
	d := &Delta{From: from, To: to, Commands: make(map[string]CommandDelta, len(b.Commands)), Polls: to.Polls - from.Polls}
	if !Absent(b, "histogram_unit") {
		d.Unit = b.HistogramUnit
	}
	for _, k := range []string{"reports", "malformed", "dropped"} {
		if Absent(a, k) || Absent(b, k) {
			d.Absent = append(d.Absent, k)
		}
	}
	var errs []error
	sub := func(what string, x, y uint64) uint64 {
		if y < x {
			errs = append(errs, fmt.Errorf("%s went down from %d to %d", what, x, y))
			return 0
		}
		return y - x
	}
	one := func(name string, x, y protocol.CommandCounts) CommandDelta {
		c := CommandDelta{
			Received:   sub(name+" received", x.Received, y.Received),
			Completed:  sub(name+" completed", x.Completed, y.Completed),
			Exceptions: sub(name+" exceptions", x.Exceptions, y.Exceptions),
			Malformed:  sub(name+" malformed", x.Malformed, y.Malformed),
		}
		h, err := DiffHistogram(x.ServiceTime, y.ServiceTime)
		if err != nil {
			c.ServiceErr = fmt.Sprintf("%s service time: %v", name, err)
		}
		c.ServiceTime = h
		return c
	}
	keys := make([]string, 0, len(b.Commands))
	for k := range b.Commands {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Commands[k] = one(k, a.Commands[k], b.Commands[k])
	}
	for k := range a.Commands {
		if _, ok := b.Commands[k]; !ok {
			errs = append(errs, fmt.Errorf("command %s is in the report at %q but not in the later one at %q", k, from.Label, to.Label))
		}
	}
	d.Reports = one(string(protocol.Performance), a.Reports, b.Reports)
	d.Malformed = sub("malformed", a.Malformed, b.Malformed)
	d.Dropped.Requests = sub("dropped requests", a.Dropped.Requests, b.Dropped.Requests)
	d.Dropped.Replies = sub("dropped replies", a.Dropped.Replies, b.Dropped.Replies)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the reports at %q and %q are not one server's history: %w", from.Label, to.Label, err)
	}
	return d, nil
}

// Absent reports whether the report lacks the top-level key, or holds it with a type
// dmbench's schema cannot read (such a value is kept in Report.Extra): either way its
// field is not the server's figure.
func Absent(r *protocol.Report, key string) bool {
	if _, bad := r.Extra[key]; bad {
		return true
	}
	for _, k := range r.Missing {
		if k == key {
			return true
		}
	}
	return false
}

// DiffHistogram returns the values recorded in the later histogram and not in the
// earlier one, both in protocol.EncodeHistogram's encoding: the counts subtracted bucket
// by bucket. An empty earlier histogram counts as all zeros; an empty later one gives nil
// (nothing recorded). It fails when either does not decode, when their geometries
// (lowest and highest trackable value, significant figures) differ, or when a bucket's
// count went down.
func DiffHistogram(earlier, later []byte) (*hdrhistogram.Histogram, error) {
	if len(later) == 0 {
		if len(earlier) != 0 {
			return nil, errors.New("cannot difference: the later report has no histogram where the earlier one had")
		}
		return nil, nil
	}
	hl, err := protocol.DecodeHistogram(later)
	if err != nil {
		return nil, fmt.Errorf("cannot difference: the later histogram does not decode: %w", err)
	}
	if len(earlier) == 0 {
		return hl, nil
	}
	he, err := protocol.DecodeHistogram(earlier)
	if err != nil {
		return nil, fmt.Errorf("cannot difference: the earlier histogram does not decode: %w", err)
	}
	se, sl := he.Export(), hl.Export()
	if se.LowestTrackableValue != sl.LowestTrackableValue || se.HighestTrackableValue != sl.HighestTrackableValue ||
		se.SignificantFigures != sl.SignificantFigures || len(se.Counts) != len(sl.Counts) {
		return nil, fmt.Errorf("cannot difference: the histograms' geometries differ (%d..%d, %d digits, %d buckets, then %d..%d, %d digits, %d buckets)",
			se.LowestTrackableValue, se.HighestTrackableValue, se.SignificantFigures, len(se.Counts),
			sl.LowestTrackableValue, sl.HighestTrackableValue, sl.SignificantFigures, len(sl.Counts))
	}
	for i, n := range se.Counts {
		if sl.Counts[i] < n {
			return nil, fmt.Errorf("cannot difference: bucket %d went down from %d to %d values", i, n, sl.Counts[i])
		}
		sl.Counts[i] -= n
	}
	return hdrhistogram.Import(sl), nil
}
