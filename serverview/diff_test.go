package serverview

import (
	"errors"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/protocol"
)

// hist encodes a histogram of the given values with the broker's geometry (1 µs to 1 h,
// 3 digits), or the given geometry.
func hist(t *testing.T, values []int64, geometry ...int64) []byte {
	t.Helper()
	lo, hi, digits := int64(1), int64(3_600_000_000), int64(3)
	if len(geometry) == 3 {
		lo, hi, digits = geometry[0], geometry[1], geometry[2]
	}
	h := hdrhistogram.New(lo, hi, int(digits))
	for _, v := range values {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := protocol.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiffHistogram(t *testing.T) {
	early := []int64{10, 20, 20, 1000}
	late := append(append([]int64(nil), early...), 30, 30, 5000, 20)
	tests := []struct {
		name           string
		earlier, later func(t *testing.T) []byte
		count          int64  // values in the difference
		min, max       int64  // of the difference
		err            string // substring; "" for success
	}{
		{"later minus earlier",
			func(t *testing.T) []byte { return hist(t, early) }, func(t *testing.T) []byte { return hist(t, late) },
			4, 20, 5000, ""},
		{"equal: nothing between",
			func(t *testing.T) []byte { return hist(t, early) }, func(t *testing.T) []byte { return hist(t, early) },
			0, 0, 0, ""},
		{"no earlier histogram: all of the later",
			func(*testing.T) []byte { return nil }, func(t *testing.T) []byte { return hist(t, late) },
			8, 10, 5000, ""},
		{"neither has one",
			func(*testing.T) []byte { return nil }, func(*testing.T) []byte { return nil },
			-1, 0, 0, ""},
		{"the later one vanished",
			func(t *testing.T) []byte { return hist(t, early) }, func(*testing.T) []byte { return nil },
			0, 0, 0, "no histogram where the earlier one had"},
		{"geometries differ",
			func(t *testing.T) []byte { return hist(t, early, 1, 3_600_000_000, 2) }, func(t *testing.T) []byte { return hist(t, late) },
			0, 0, 0, "geometries differ"},
		{"a bucket went down",
			func(t *testing.T) []byte { return hist(t, late) }, func(t *testing.T) []byte { return hist(t, early) },
			0, 0, 0, "went down"},
		{"undecodable later",
			func(t *testing.T) []byte { return hist(t, early) }, func(*testing.T) []byte { return []byte("not a histogram") },
			0, 0, 0, "later histogram does not decode"},
		{"undecodable earlier",
			func(*testing.T) []byte { return []byte("HISTFAAA") }, func(t *testing.T) []byte { return hist(t, late) },
			0, 0, 0, "earlier histogram does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := DiffHistogram(tt.earlier(t), tt.later(t))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "cannot difference") {
					t.Fatalf("err %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.count < 0 {
				if h != nil {
					t.Errorf("got a histogram of %d values, want nil", h.TotalCount())
				}
				return
			}
			if h.TotalCount() != tt.count {
				t.Fatalf("difference holds %d values, want %d", h.TotalCount(), tt.count)
			}
			if tt.count > 0 && (!h.ValuesAreEquivalent(h.Min(), tt.min) || !h.ValuesAreEquivalent(h.Max(), tt.max)) {
				t.Errorf("difference spans %d..%d, want %d..%d", h.Min(), h.Max(), tt.min, tt.max)
			}
		})
	}
}

// snap is a snapshot with a report built by edit from a small base.
func snap(t *testing.T, label string, polls int, edit func(r *protocol.Report)) *Snapshot {
	t.Helper()
	r := &protocol.Report{
		Schema: 1, Instance: "i1", UptimeSeconds: 10, HistogramUnit: "us",
		Commands: map[string]protocol.CommandCounts{
			"HARTBEAT": {Received: 10, Completed: 10, ServiceTime: hist(t, []int64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5})},
			"GROUPADD": {Received: 4, Completed: 3, Exceptions: 1},
		},
		Reports: protocol.CommandCounts{Received: 2, Completed: 2},
		Dropped: protocol.Dropped{Requests: 1},
	}
	if edit != nil {
		edit(r)
	}
	return &Snapshot{Label: label, Stage: -1, Polls: polls, Report: r}
}

func TestBetween(t *testing.T) {
	later := func(r *protocol.Report) {
		r.UptimeSeconds = 12
		r.Commands["HARTBEAT"] = protocol.CommandCounts{Received: 15, Completed: 14, Exceptions: 1,
			ServiceTime: hist(t, []int64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 900})}
		r.Commands["unknown"] = protocol.CommandCounts{Received: 2, Exceptions: 2}
		r.Reports = protocol.CommandCounts{Received: 6, Completed: 6}
		r.Dropped = protocol.Dropped{Requests: 3, Replies: 2}
	}
	tests := []struct {
		name     string
		from, to *Snapshot
		err      string // substring; "" for success
		restart  bool
		check    func(t *testing.T, d *Delta)
	}{
		{
			name: "counts and histograms differenced",
			from: snap(t, "start", 1, nil), to: snap(t, "end", 4, later),
			check: func(t *testing.T, d *Delta) {
				hb := d.Commands["HARTBEAT"]
				if hb.Received != 5 || hb.Completed != 4 || hb.Exceptions != 1 || hb.ServiceTime.TotalCount() != 5 || hb.ServiceErr != "" {
					t.Errorf("HARTBEAT %+v (histogram of %d), want 5 received, 4 completed, 1 exception, 5 service times", hb, hb.ServiceTime.TotalCount())
				}
				if got := hb.ServiceTime.Max(); !hb.ServiceTime.ValuesAreEquivalent(got, 900) {
					t.Errorf("HARTBEAT service max %d, want 900", got)
				}
				if ga := d.Commands["GROUPADD"]; ga.Received != 0 || ga.ServiceTime != nil {
					t.Errorf("GROUPADD %+v, want nothing between", ga)
				}
				if u := d.Commands["unknown"]; u.Received != 2 || u.Exceptions != 2 {
					t.Errorf("unknown %+v: a command new in the later report counts from zero", u)
				}
				if d.Reports.Received != 4 || d.Polls != 3 {
					t.Errorf("reports %d received, polls %d; want 4 and 3", d.Reports.Received, d.Polls)
				}
				if d.Dropped != (protocol.Dropped{Requests: 2, Replies: 2}) || d.Unit != "us" || len(d.Absent) != 0 {
					t.Errorf("dropped %+v, unit %q, absent %v", d.Dropped, d.Unit, d.Absent)
				}
			},
		},
		{
			name: "another instance",
			from: snap(t, "start", 1, nil), to: snap(t, "end", 2, func(r *protocol.Report) { later(r); r.Instance = "i2" }),
			err: "instance i1, then i2", restart: true,
		},
		{
			name: "uptime went down",
			from: snap(t, "start", 1, nil), to: snap(t, "end", 2, func(r *protocol.Report) { later(r); r.UptimeSeconds = 1 }),
			err: "uptime went from 10.0s down to 1.0s", restart: true,
		},
		{
			name: "no commands",
			from: snap(t, "start", 1, nil), to: snap(t, "end", 2, func(r *protocol.Report) { r.Commands = nil; r.Missing = []string{"commands"} }),
			err: `report at "end" has no commands`,
		},
		{
			name: "a count went down",
			from: snap(t, "start", 1, later), to: snap(t, "end", 2, func(r *protocol.Report) { r.UptimeSeconds = 20 }),
			err: "not one server's history",
		},
		{
			name: "no report",
			from: &Snapshot{Label: "start", Err: "no reply"}, to: snap(t, "end", 2, nil),
			err: `no server report at "start"`,
		},
		{
			name: "a histogram that cannot be differenced spoils only its command",
			from: snap(t, "start", 1, nil),
			to: snap(t, "end", 2, func(r *protocol.Report) {
				later(r)
				c := r.Commands["HARTBEAT"]
				c.ServiceTime = []byte("garbage")
				r.Commands["HARTBEAT"] = c
			}),
			check: func(t *testing.T, d *Delta) {
				if hb := d.Commands["HARTBEAT"]; hb.ServiceErr == "" || hb.ServiceTime != nil || hb.Received != 5 {
					t.Errorf("HARTBEAT %+v: want counts and a ServiceErr", hb)
				}
			},
		},
		{
			name: "missing dropped and unit: absent, not an error",
			from: snap(t, "start", 1, func(r *protocol.Report) { r.Missing = []string{"dropped"} }),
			to:   snap(t, "end", 2, func(r *protocol.Report) { r.Missing = []string{"dropped", "histogram_unit"} }),
			check: func(t *testing.T, d *Delta) {
				if d.Unit != "" || len(d.Absent) != 1 || d.Absent[0] != "dropped" {
					t.Errorf("unit %q, absent %v: want no unit and dropped absent", d.Unit, d.Absent)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Between(tt.from, tt.to)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one saying %q", err, tt.err)
				}
				if got := errors.Is(err, ErrRestarted); got != tt.restart {
					t.Errorf("errors.Is(err, ErrRestarted) = %v, want %v", got, tt.restart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, d)
		})
	}
}
