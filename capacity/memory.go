package capacity

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// MemPoint is one reading taken during a fill: the server's resident memory against the
// groups and memberships it held at that moment.
type MemPoint struct {
	Groups      float64 `json:"groups"`
	Memberships float64 `json:"memberships"`
	RSSBytes    float64 `json:"rss_bytes"`
}

// MemFit is RSS = Base + PerGroup·groups + PerMembership·memberships, fitted by least
// squares. When groups and memberships rose together (one a fixed multiple of the other
// over the fill) their costs cannot be told apart: Together is set, PerGroup is 0 and
// PerMembership carries the whole cost of a membership with its share of a group.
type MemFit struct {
	Base          float64 `json:"base_bytes"`
	PerGroup      float64 `json:"bytes_per_group"`
	PerMembership float64 `json:"bytes_per_membership"`
	Together      bool    `json:"together,omitempty"`
	// PerGroupRatio is memberships per group at the fill's last point.
	PerGroupRatio float64 `json:"memberships_per_group"`
}

// FitMemory fits RSS against groups and memberships over pts. It needs at least three
// points over which memberships (or groups) change.
func FitMemory(pts []MemPoint) (MemFit, error) {
	if len(pts) < 3 {
		return MemFit{}, fmt.Errorf("%d reading(s): at least 3 are needed", len(pts))
	}
	last := pts[len(pts)-1]
	ratio := 0.0
	if last.Groups > 0 {
		ratio = last.Memberships / last.Groups
	}
	g := make([]float64, len(pts))
	m := make([]float64, len(pts))
	y := make([]float64, len(pts))
	for i, p := range pts {
		g[i], m[i], y[i] = p.Groups, p.Memberships, p.RSSBytes
	}
	vg, vm, cgm := covariance(g, g), covariance(m, m), covariance(g, m)
	switch {
	case vg == 0 && vm == 0:
		return MemFit{}, errors.New("the groups and memberships did not change during the fill")
	case vm == 0:
		a, b := line(g, y)
		return MemFit{Base: a, PerGroup: b, PerGroupRatio: ratio}, nil
	}
	// Nearly collinear (|r| above 0.99): one slope, per membership.
	if vg == 0 || cgm*cgm/(vg*vm) > 0.99*0.99 {
		a, b := line(m, y)
		return MemFit{Base: a, PerMembership: b, Together: vg > 0, PerGroupRatio: ratio}, nil
	}
	// Two variables: solve the centred normal equations.
	cgy, cmy := covariance(g, y), covariance(m, y)
	det := vg*vm - cgm*cgm
	bg := (cgy*vm - cmy*cgm) / det
	bm := (cmy*vg - cgy*cgm) / det
	a := mean(y) - bg*mean(g) - bm*mean(m)
	return MemFit{Base: a, PerGroup: bg, PerMembership: bm, PerGroupRatio: ratio}, nil
}

// line fits y = a + b·x by least squares.
func line(x, y []float64) (a, b float64) {
	b = covariance(x, y) / covariance(x, x)
	return mean(y) - b*mean(x), b
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func covariance(x, y []float64) float64 {
	mx, my := mean(x), mean(y)
	s := 0.0
	for i := range x {
		s += (x[i] - mx) * (y[i] - my)
	}
	return s / float64(len(x))
}

// Memory is the memory sizing of a fill: what was run, the readings, the fit and the
// projection, or why memory could not be sized.
type Memory struct {
	Stage    string  `json:"stage,omitempty"`
	RatePerS float64 `json:"rate_per_s,omitempty"`
	Dir      string  `json:"dir,omitempty"` // the fill's run folder in the result set
	// Source says where RSS (and the counts) came from: the server's report, or
	// /proc/PID/status for --server-pid.
	Source string     `json:"source,omitempty"`
	Points []MemPoint `json:"points,omitempty"`
	Fit    *MemFit    `json:"fit,omitempty"`
	// Project is the number of groups projected (memberships when the fill knew no
	// groups); Projected their bytes above the fit's Base.
	Project   int64   `json:"project"`
	Projected float64 `json:"projected_bytes,omitempty"`
	// Estimated is set when the counts are not the server's but the fill's GROUPADD
	// replies spread over its time (an upper bound on memberships when names repeat).
	Estimated bool `json:"estimated,omitempty"`
	// Cannot says why memory could not be sized; empty when it was.
	Cannot string `json:"cannot,omitempty"`
}

// Size fits the points and projects Project groups, each with as many memberships as the
// fill's groups had at its end (Project memberships when no group count is known); it
// sets Cannot when the points do not allow a fit.
func (m *Memory) Size() {
	f, err := FitMemory(m.Points)
	if err != nil {
		m.Cannot = "the fill gave no usable readings: " + err.Error()
		return
	}
	m.Fit = &f
	n := float64(m.Project)
	switch {
	case f.Together:
		m.Projected = n * f.PerGroupRatio * f.PerMembership
	case f.PerGroup == 0:
		m.Projected = n * f.PerMembership
	default:
		m.Projected = n*f.PerGroup + n*f.PerGroupRatio*f.PerMembership
	}
}

// Sentence is the memory sizing in plain words.
func (m *Memory) Sentence() string {
	if m.Cannot != "" {
		return "Memory cannot be sized: " + m.Cannot + "."
	}
	f := m.Fit
	var b strings.Builder
	switch {
	case f.Together:
		fmt.Fprintf(&b, "Memory: about %s per membership (groups and memberships rose together, %.3g membership(s) per group, so the two cannot be told apart); %s groups of %.3g membership(s) would need ≈ %s",
			fmtBytes(f.PerMembership), f.PerGroupRatio, groupDigits(m.Project), f.PerGroupRatio, fmtMiB(m.Projected))
	case f.PerMembership == 0:
		fmt.Fprintf(&b, "Memory: about %s per group; %s groups would need ≈ %s", fmtBytes(f.PerGroup), groupDigits(m.Project), fmtMiB(m.Projected))
	case f.PerGroup == 0:
		fmt.Fprintf(&b, "Memory: about %s per membership; %s memberships would need ≈ %s", fmtBytes(f.PerMembership), groupDigits(m.Project), fmtMiB(m.Projected))
	default:
		fmt.Fprintf(&b, "Memory: about %s per group and %s per membership; %s groups of %.3g membership(s) would need ≈ %s",
			fmtBytes(f.PerGroup), fmtBytes(f.PerMembership), groupDigits(m.Project), f.PerGroupRatio, fmtMiB(m.Projected))
	}
	fmt.Fprintf(&b, " above the server's base of %s (fit over %d readings from %s, stage %s at %.0f/s)", fmtMiB(f.Base), len(m.Points), m.Source, m.Stage, m.RatePerS)
	if m.Estimated {
		b.WriteString("; the counts are the fill's GROUPADD replies spread over its time, an upper bound on memberships when names repeat, so the cost per membership is a lower bound")
	}
	b.WriteString(".")
	return b.String()
}

func fmtBytes(v float64) string {
	if math.Abs(v) >= 10 {
		return fmt.Sprintf("%.0f bytes", v)
	}
	return fmt.Sprintf("%.3g bytes", v)
}

func fmtMiB(v float64) string {
	return fmt.Sprintf("%.1f MiB", v/(1<<20))
}

// groupDigits writes n with thousands separators: 1,000,000.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
