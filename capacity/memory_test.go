package capacity

import (
	"math"
	"strings"
	"testing"
)

func TestFitMemory(t *testing.T) {
	// line returns points on RSS = base + g·groups + m·memberships.
	line := func(base, g, m float64, pts [][2]float64) []MemPoint {
		var out []MemPoint
		for _, p := range pts {
			out = append(out, MemPoint{Groups: p[0], Memberships: p[1], RSSBytes: base + g*p[0] + m*p[1]})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		pts      []MemPoint
		want     MemFit
		wantErr  string
		together bool
	}{
		{name: "memberships only", pts: line(1e6, 0, 200, [][2]float64{{0, 0}, {0, 1000}, {0, 5000}, {0, 9000}}),
			want: MemFit{Base: 1e6, PerMembership: 200}},
		{name: "groups only", pts: line(2e6, 300, 0, [][2]float64{{0, 0}, {100, 0}, {700, 0}}),
			want: MemFit{Base: 2e6, PerGroup: 300}},
		{name: "together", pts: line(1e6, 100, 50, [][2]float64{{0, 0}, {10, 20}, {50, 100}, {90, 180}}),
			want: MemFit{Base: 1e6, PerMembership: 100, Together: true, PerGroupRatio: 2}},
		{name: "apart", pts: line(5e5, 400, 120, [][2]float64{{0, 0}, {10, 100}, {20, 150}, {30, 400}, {35, 900}}),
			want: MemFit{Base: 5e5, PerGroup: 400, PerMembership: 120, PerGroupRatio: 900.0 / 35}},
		{name: "too few", pts: line(1, 1, 1, [][2]float64{{0, 0}, {1, 1}}), wantErr: "at least 3"},
		{name: "no change", pts: line(1, 1, 1, [][2]float64{{5, 5}, {5, 5}, {5, 5}}), wantErr: "did not change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FitMemory(tc.pts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }
			if !near(got.Base, tc.want.Base) || !near(got.PerGroup, tc.want.PerGroup) || !near(got.PerMembership, tc.want.PerMembership) ||
				got.Together != tc.want.Together || !near(got.PerGroupRatio, tc.want.PerGroupRatio) {
				t.Errorf("fit %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMemorySentence(t *testing.T) {
	m := &Memory{Stage: "fill", RatePerS: 1000, Source: "the server's reports", Project: 1_000_000}
	for i := range 5 {
		n := float64(i * 1000)
		m.Points = append(m.Points, MemPoint{Groups: n, Memberships: n, RSSBytes: 8<<20 + 150*n})
	}
	m.Size()
	s := m.Sentence()
	for _, want := range []string{"about 150 bytes per membership", "cannot be told apart", "1,000,000 groups of 1 membership(s) would need ≈ 143.1 MiB", "base of 8.0 MiB"} {
		if !strings.Contains(s, want) {
			t.Errorf("the sentence does not say %q: %s", want, s)
		}
	}
	c := &Memory{Cannot: "the server sent no report"}
	if s := c.Sentence(); !strings.HasPrefix(s, "Memory cannot be sized: the server sent no report") {
		t.Errorf("sentence %q", s)
	}
}
