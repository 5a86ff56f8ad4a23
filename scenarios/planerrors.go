package scenarios

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/token"

	"github.com/dmbench/dmbench/loadgen"
)

// note records, for placePlan, the entries that give the plan's fields at canon, the
// plan's path of a mapping ("", "stages[1]", "stages[1].mix[0]"; the same when the
// short overlay gives the field): the mapping itself at canon and each field at
// canon.field. A rate_per_client gives the plan's rate, which is its total.
func (d *decoder) note(canon string, pos *token.Token, path string, fields map[string]*entry) {
	d.fields[canon] = &entry{key: pos, path: path}
	for k, e := range fields {
		if k == "rate_per_client" {
			if fields["rate"] != nil {
				continue
			}
			k = "rate"
		}
		d.fields[join(canon, k)] = e
	}
}

// placePlan validates the plan that sc makes (loadgen.Plan.Validate) and records each
// problem at the field of the file that gave the value: at the value, or at the key
// when the problem is that the field is given at all or a list's length (PlanError's
// Value), or the value is not what the file shows (a per-client rate's total, which the
// message then explains).
//
// A problem is left out when the file does not give that field (the plan's value
// comes from a default or the previous stage, whose own field is reported) or when the
// field already has a problem of its own, in earlier or in d: the plan then holds a
// stand-in there. Should that leave the file without any problem, the plan's problems
// are reported at the nearest mapping instead, so that Parse never accepts a plan that
// loadgen.Run refuses.
func (d *decoder) placePlan(sc *Scenario, earlier ErrorList) {
	plan := sc.Plan()
	var problems loadgen.PlanErrors
	if !errors.As(plan.Validate(), &problems) {
		return
	}
	bad := map[string]bool{}
	for _, list := range []ErrorList{earlier, *d.errs} {
		for _, e := range list {
			bad[e.Path] = true
		}
	}
	var left loadgen.PlanErrors
	for _, p := range problems {
		e := d.fields[p.Path()]
		if e == nil || d.at[e.path] == nil || (p.Field != "" && bad[e.path]) {
			left = append(left, p)
			continue
		}
		at, msg := d.at[e.path], p.Msg
		if !p.Value {
			at = e.key
		}
		if r, n, ok := perClientRate(sc, p); ok {
			at, msg = e.key, fmt.Sprintf("%s (%s per client × %d clients)", msg, r, n)
		}
		d.errorf(at, e.path, "%s", msg)
	}
	if len(bad) > 0 || len(left) < len(problems) {
		return
	}
	for _, p := range left {
		for at := p.Path(); ; at = parent(at) {
			if e := d.fields[at]; e != nil && d.at[e.path] != nil {
				d.errorf(d.at[e.path], p.Path(), "%s", p.Msg)
				break
			}
			if at == "" {
				break
			}
		}
	}
}

// perClientRate returns the rate the file gives per client, and the clients, when p
// is about an open loop's rate or ramp given per client: the plan holds their product,
// which the file does not show.
func perClientRate(sc *Scenario, p *loadgen.PlanError) (Rate, int, bool) {
	if p.Stage < 0 || p.Stage >= len(sc.Stages) || (p.Field != "rate" && p.Field != "ramp_to") {
		return 0, 0, false
	}
	st := &sc.Stages[p.Stage]
	if st.Open == nil || !st.Open.PerClient {
		return 0, 0, false
	}
	if p.Field == "ramp_to" {
		return st.Open.RampTo, st.Clients, true
	}
	return st.Open.Rate, st.Clients, true
}

// parent is the path of the mapping that holds path: "stages[1].mix[0]" for
// "stages[1].mix[0].weight", "" for "warmup".
func parent(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}
