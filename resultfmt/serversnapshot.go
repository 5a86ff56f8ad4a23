package resultfmt

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/serverview"
)

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

// UnknownFields returns, for each key some report held that dmbench's schema does not
// read, its value in the last report that held it, and the schema's keys some report
// lacked, both sorted.
func (v *ServerView) UnknownFields() (extra []string, values map[string]any, missing []string) {
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
