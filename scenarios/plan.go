package scenarios

import "github.com/dmbench/dmbench/loadgen"

// Plan turns the scenario into what the load engine runs. Rates given per client become
// totals, and each stage's name generators get their own sources, seeded from Seed, so
// names shared by a stage's clients (a common sequential count) stay shared.
func (s *Scenario) Plan() loadgen.Plan {
	p := loadgen.Plan{Name: s.Name, Seed: s.Seed, Warmup: s.Warmup, Timeout: s.Timeout}
	for i := range s.Stages {
		st := &s.Stages[i]
		ls := loadgen.Stage{
			Name: st.Name, Duration: st.Duration, Requests: st.Requests, Clients: st.Clients,
			ConnectRate: float64(st.ConnectRate), Open: st.open(),
		}
		if c := st.Closed; c != nil {
			ls.Closed = &loadgen.Closed{InFlight: c.InFlight, Think: c.Think}
		}
		for _, r := range st.Mix {
			ls.Mix = append(ls.Mix, loadgen.Request{
				Command: r.Command, Weight: float64(r.Weight),
				Group: namers(r.Group, s.Seed), Channel: namers(r.Channel, s.Seed),
				StringNames: r.NameType == NameStr,
				TTL:         int64(r.TTL.Seconds()), Ack: r.Ack, Timeout: r.Timeout,
			})
		}
		p.Stages = append(p.Stages, ls)
	}
	return p
}

// open is the stage's open loop as the load engine runs it, its rates in total (per
// client times Clients), or nil for a closed loop.
func (st *Stage) open() *loadgen.Open {
	o := st.Open
	if o == nil {
		return nil
	}
	scale := 1.0
	if o.PerClient {
		scale = float64(st.Clients)
	}
	return &loadgen.Open{Rate: float64(o.Rate) * scale, RampTo: float64(o.RampTo) * scale, Poisson: o.Arrival == Poisson}
}

// namers returns the per-client name factory of g, or nil when g makes no names.
func namers(g NameGen, seed int64) func(client int) loadgen.Namer {
	if g.Kind == NoName {
		return nil
	}
	src := g.Source(seed)
	return func(client int) loadgen.Namer { return src.Namer(client) }
}
