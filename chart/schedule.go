package chart

import (
	"fmt"
	"strconv"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/scenarios"
)

// RateSegment is a stretch of a scheduled send rate, in seconds since the run's start:
// From at Start rising (or falling) in a straight line to To at End.
type RateSegment struct {
	Stage      string
	Start, End float64
	From, To   float64 // requests per second
}

// schedule is the send rate each stage of a run was scheduled to keep, as far as the
// result tells.
type schedule struct {
	stages []*loadgen.Stage // by the result's stage index; nil for a closed loop
	note   string           // why there is none, when stages is nil
}

// scheduleOf rebuilds the run's plan from what result.json keeps of it: the scenario's
// text (meta.scenario.text) and the flags that change its rates (--short applies the
// short overlay, --clients scales per-client rates). result.json holds no rate of its
// own, so without the text there is no schedule to draw.
func scheduleOf(r *resultfmt.Result) schedule {
	m := r.Meta
	if m.Scenario.Text == "" {
		return schedule{note: "the result does not keep the scenario's text, so its scheduled rate is unknown"}
	}
	file := m.Scenario.File
	if file == "" {
		file = m.Scenario.Name + ".yaml"
	}
	short := m.Flags["short"] == "true"
	sc, err := scenarios.Parse(file, []byte(m.Scenario.Text), scenarios.LoadOptions{Short: short})
	if err != nil {
		return schedule{note: fmt.Sprintf("the scenario kept in the result does not read back (%v)", err)}
	}
	if c := m.Flags["clients"]; c != "" {
		n, err := strconv.Atoi(c)
		if err == nil {
			err = sc.SetClients(n)
		}
		if err != nil {
			return schedule{note: fmt.Sprintf("--clients %s could not be applied again (%v)", c, err)}
		}
	}
	plan := sc.Plan()
	if len(r.Stages) > len(plan.Stages) {
		return schedule{note: fmt.Sprintf("the result has %d stages and its scenario %d", len(r.Stages), len(plan.Stages))}
	}
	s := schedule{stages: make([]*loadgen.Stage, len(r.Stages))}
	for i := range r.Stages {
		ps := &plan.Stages[i]
		if ps.Name != r.Stages[i].Name {
			return schedule{note: fmt.Sprintf("stage %d is %q in the result and %q in its scenario", i+1, r.Stages[i].Name, ps.Name)}
		}
		if ps.Open != nil {
			s.stages[i] = ps
		}
	}
	return s
}

// share returns the fraction of stage i's requests that are command ("" for all), by
// the weights of its mix.
func (s schedule) share(i int, command string) float64 {
	st := s.stages[i]
	if command == "" {
		return 1
	}
	var total, mine float64
	for _, m := range st.Mix {
		total += m.Weight
		if string(m.Command) == command {
			mine += m.Weight
		}
	}
	if total == 0 {
		return 0
	}
	return mine / total
}

// segments returns the scheduled rate of command ("" for all) over the open-loop
// stages, placed at the stages' times in the result.
func (s schedule) segments(r *resultfmt.Result, command string) []RateSegment {
	var out []RateSegment
	for i, st := range s.stages {
		if st == nil {
			continue
		}
		rs := &r.Stages[i]
		share := s.share(i, command)
		if share == 0 {
			continue
		}
		dur := st.Duration
		lasted := rs.End.Sub(rs.Start)
		out = append(out, RateSegment{
			Stage: rs.Name,
			Start: seconds(rs.Start.Sub(r.Meta.Start)), End: seconds(rs.End.Sub(r.Meta.Start)),
			From: share * st.Open.RateAt(0, dur), To: share * st.Open.RateAt(lasted, dur),
		})
	}
	return out
}

// measuredRate returns stage i's scheduled rate of command ("" for all) averaged over
// its measured window, and false for a closed loop or an unknown schedule.
func (s schedule) measuredRate(r *resultfmt.Result, i int, command string) (float64, bool) {
	if s.stages == nil || s.stages[i] == nil {
		return 0, false
	}
	st, rs := s.stages[i], &r.Stages[i]
	from := rs.MeasuredStart.Sub(rs.Start)
	mid := from + rs.Measured()/2 // the rate is linear in time: its mean is its middle value
	return s.share(i, command) * st.Open.RateAt(mid, st.Duration), true
}
