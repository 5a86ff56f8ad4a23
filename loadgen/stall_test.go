package loadgen

import (
	"testing"
	"time"
)

// TestStallMonitor drives the monitor's looks by hand: (now, outstanding, busy since,
// last message), with receivers' gap reports in between.
func TestStallMonitor(t *testing.T) {
	const s = int64(time.Second)
	type look struct {
		now, out, since, last int64
		gap                   [2]int64 // a receiver's gap report before the look, if non-zero
	}
	type want struct{ start, end, out int64 }
	tests := []struct {
		name  string
		looks []look
		end   int64 // run end
		want  []want
	}{
		{
			name: "replies keep coming: no stall",
			looks: []look{
				{now: 1 * s, out: 5, since: 0, last: s - 1000},
				{now: 2 * s, out: 5, since: 0, last: 2*s - 1000},
				{now: 3 * s, out: 5, since: 0, last: 3*s - 1000},
			},
			end: 4 * s,
		},
		{
			name: "silence with requests outstanding, ended by a reply: exact start and end",
			looks: []look{
				{now: 1 * s, out: 3, since: 0, last: s / 2},
				{now: 2 * s, out: 7, since: 0, last: s / 2}, // 1.5 s silent: stall from 0.5 s
				{now: 3 * s, out: 4, since: 0, last: 3 * s, gap: [2]int64{s / 2, 2*s + s/4}},
			},
			end:  4 * s,
			want: []want{{start: s / 2, end: 2*s + s/4, out: 7}},
		},
		{
			name: "idle, then a request that is never answered: starts at its send",
			looks: []look{
				{now: 1 * s, out: 0, since: -1, last: 0},
				{now: 2 * s, out: 1, since: 1*s + s/2, last: 0},
				{now: 3 * s, out: 1, since: 1*s + s/2, last: 0},
			},
			end:  4 * s,
			want: []want{{start: 1*s + s/2, end: 4 * s, out: 1}},
		},
		{
			name: "every request timed out: the stall ends when nothing is outstanding",
			looks: []look{
				{now: 2 * s, out: 2, since: 0, last: 0},
				{now: 3 * s, out: 0, since: -1, last: 0},
				{now: 4 * s, out: 0, since: -1, last: 0},
			},
			end:  5 * s,
			want: []want{{start: 0, end: 3 * s, out: 2}},
		},
		{
			name: "shorter than the threshold: no stall",
			looks: []look{
				{now: 1 * s, out: 2, since: s / 2, last: 0},
				{now: 2 * s, out: 2, since: s / 2, last: 1*s + s/2},
			},
			end: 3 * s,
		},
		{
			name: "two stalls",
			looks: []look{
				{now: 2 * s, out: 1, since: 0, last: 0},
				{now: 3 * s, out: 1, since: 2 * s, last: 2*s + s/2, gap: [2]int64{0, 2*s + s/2}},
				{now: 5 * s, out: 3, since: 2 * s, last: 2*s + s/2},
			},
			end:  6 * s,
			want: []want{{start: 0, end: 2*s + s/2, out: 1}, {start: 2*s + s/2, end: 6 * s, out: 3}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &engine{cfg: Config{StallThreshold: time.Second}, base: time.Unix(1000, 0)}
			m := newStallMonitor(e)
			for _, l := range tc.looks {
				if l.gap != [2]int64{} {
					m.gapEnded(l.gap[0], l.gap[1])
				}
				m.check(l.now, l.out, l.since, l.last)
			}
			got := m.result(tc.end)
			if len(got) != len(tc.want) {
				t.Fatalf("%d stalls %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Start != e.at(w.start) || g.End != e.at(w.end) || g.Outstanding != w.out {
					t.Errorf("stall %d: %v → %v, %d outstanding; want %v → %v, %d",
						i, g.Start.Sub(e.base), g.End.Sub(e.base), g.Outstanding,
						time.Duration(w.start), time.Duration(w.end), w.out)
				}
			}
		})
	}
}
