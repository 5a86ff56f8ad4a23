package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

// Limits of a plan. Validate refuses a plan beyond them: they keep a typo (an extra
// zero) from starting a run the machine cannot hold, and every value within what the
// engine, its histograms and the wire accept.
const (
	MaxStages      = 1000                 // stages in a plan (each keeps histograms per command)
	MaxMix         = 1000                 // entries in a stage's mix
	MaxClients     = 100_000              // DEALER connections in a stage
	MaxRate        = 10_000_000.0         // requests, or new connections, per second in total
	MaxInFlight    = 65_536               // requests in flight per client (closed loop)
	MaxRequests    = 1_000_000_000_000    // requests in a stage bounded by count
	MaxWeight      = 1_000_000            // weight of a mix entry
	MinStageLength = time.Millisecond     // duration of a stage bounded by time, at least
	MaxStageLength = 24 * time.Hour       // and at most
	MaxWarmup      = time.Hour            // warm-up at the start of the first stage
	MaxThink       = time.Hour            // think time of a closed loop
	MinTimeout     = time.Millisecond     // request timeout, at least (about the timers' granularity)
	MaxTimeout     = 10 * time.Minute     // and at most
	MaxTTL         = 365 * 24 * time.Hour // group ttl sent with GROUPADD
)

// The engine's own bounds hold the limits: a stage number fits an id's bucket, and a
// timeout recorded at its deadline (the timeout plus up to as much send delay) fits the
// histograms. A limit raised past them stops the build here.
const (
	_ = uint(maxStage - MaxStages)
	_ = uint64(MaxLatency - 2*MaxTimeout)
)

// PlanError is one problem with a Plan: where it is and what is wrong with it. Field
// names the place the way a scenario file does, so that package scenarios can report
// the problem at the line that gave the value.
type PlanError struct {
	Plan      string // the plan's name
	Stage     int    // the stage, from 0; -1 when the problem is not about one stage
	StageName string // the stage's name, for messages
	Request   int    // the entry of the stage's mix, from 0; -1 when not about one
	// Field is the path of what is wrong below the stage (below the plan when Stage is
	// -1): "clients", "rate", "ramp_to", "in_flight", "mix", "mix[2].weight",
	// "mix[2].timeout", "warmup", "stages"…; "" is the stage (or the plan) as a whole.
	// Rates are totals: a scenario's rate_per_client is Field "rate".
	Field string
	// Value is true when Field's value is wrong (out of range, or too long for the
	// stage), and false when the problem is that Field is given, or missing, or a list's
	// length: a scenario then points at the field's key rather than its value.
	Value bool
	Msg   string // what is wrong and what to write instead
}

// Path is Field from the top of the plan: "stages[1].mix[2].weight", "warmup",
// "stages[0]"; "" for the plan as a whole.
func (e *PlanError) Path() string {
	if e.Stage < 0 {
		return e.Field
	}
	p := "stages[" + strconv.Itoa(e.Stage) + "]"
	if e.Field != "" {
		p += "." + e.Field
	}
	return p
}

// Error formats e as `loadgen: plan "p": stage 1 ("b"): mix[2].weight: message`.
func (e *PlanError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loadgen: plan %q: ", e.Plan)
	if e.Stage >= 0 {
		fmt.Fprintf(&b, "stage %d (%q): ", e.Stage, e.StageName)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// PlanErrors is every problem Validate found in a plan, in the plan's order.
type PlanErrors []*PlanError

// Error prints one problem per line.
func (l PlanErrors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Validate checks every rule about a plan and returns every problem it finds as
// PlanErrors, or nil when there is none. Run refuses a plan that fails it; package
// scenarios calls it on the plan a file makes and reports each problem at its field.
//
// The rules, with the limits above:
//
//   - there are 1 to MaxStages stages; Timeout is MinTimeout to MaxTimeout; Warmup is
//     0 to MaxWarmup and, when the first stage is bounded by time, shorter than it;
//   - a stage has exactly one of Duration (MinStageLength to MaxStageLength) and
//     Requests (1 to MaxRequests), 1 to MaxClients clients, a ConnectRate of 0 (all at
//     once) to MaxRate, and exactly one of Open and Closed;
//   - an open loop's Rate and RampTo are 0 to MaxRate; a stage bounded by count needs
//     a Rate above 0 and cannot ramp; a closed loop has 1 to MaxInFlight in flight and
//     a Think of 0 to MaxThink;
//   - a mix has 1 to MaxMix entries, each with a command, a weight above 0 up to
//     MaxWeight, a TTL of 0 (not sent) or 1 s to MaxTTL, and a Timeout of 0 (the plan's)
//     or MinTimeout to MaxTimeout; the plan has at most 256 distinct commands.
func (p *Plan) Validate() error {
	c := &checker{p: p}
	c.plan()
	for s := range p.Stages {
		c.stage(s)
	}
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// checker collects the problems of one plan.
type checker struct {
	p    *Plan
	errs PlanErrors
}

// add records a problem of stage s (-1: none) and request r (-1: none) at field.
func (c *checker) add(s, r int, field string, value bool, format string, args ...any) {
	e := &PlanError{Plan: c.p.Name, Stage: s, Request: r, Field: field, Value: value, Msg: fmt.Sprintf(format, args...)}
	if s >= 0 {
		e.StageName = c.p.Stages[s].Name
	}
	c.errs = append(c.errs, e)
}

// duration checks that the value d of field is within [lo, hi].
func (c *checker) duration(s, r int, field string, d, lo, hi time.Duration) {
	if d >= lo && d <= hi {
		return
	}
	if lo == 0 {
		c.add(s, r, field, true, "%s is out of range; allowed 0 to %s", d, hi)
	} else {
		c.add(s, r, field, true, "%s is out of range; allowed %s to %s", d, lo, hi)
	}
}

// count checks that the value n of field is within [lo, hi].
func (c *checker) count(s, r int, field string, n, lo, hi int64) {
	if n < lo || n > hi {
		c.add(s, r, field, true, "%d is out of range; allowed %d to %d", n, lo, hi)
	}
}

func (c *checker) plan() {
	p := c.p
	switch {
	case len(p.Stages) == 0:
		c.add(-1, -1, "stages", false, "the list is empty; give at least one stage")
	case len(p.Stages) > MaxStages:
		c.add(-1, -1, "stages", false, "%d stages is too many; allowed at most %d", len(p.Stages), MaxStages)
	}
	c.duration(-1, -1, "warmup", p.Warmup, 0, MaxWarmup)
	if len(p.Stages) > 0 && p.Warmup > 0 && p.Warmup <= MaxWarmup {
		if first := p.Stages[0].Duration; first > 0 && p.Warmup >= first {
			c.add(-1, -1, "warmup", true, "%s is not shorter than the first stage's duration %s, so nothing of it would be measured; shorten the warm-up",
				p.Warmup, first)
		}
	}
	c.duration(-1, -1, "timeout", p.Timeout, MinTimeout, MaxTimeout)
	cmds := map[protocol.Command]bool{}
	for _, st := range p.Stages {
		for _, r := range st.Mix {
			cmds[r.Command] = true
		}
	}
	if len(cmds) > maxCmds {
		c.add(-1, -1, "", false, "%d distinct commands is too many; allowed at most %d", len(cmds), maxCmds)
	}
}

func (c *checker) stage(s int) {
	st := &c.p.Stages[s]
	switch {
	case st.Duration != 0 && st.Requests != 0:
		c.add(s, -1, "requests", false, "give either duration or requests, not both: a stage ends after a time or after a count")
	case st.Duration == 0 && st.Requests == 0:
		c.add(s, -1, "", false, "missing duration or requests; say when the stage ends (e.g. duration: 60s, or requests: 1M)")
	}
	if st.Duration != 0 {
		c.duration(s, -1, "duration", st.Duration, MinStageLength, MaxStageLength)
	}
	if st.Requests != 0 {
		c.count(s, -1, "requests", st.Requests, 1, MaxRequests)
	}
	c.count(s, -1, "clients", int64(st.Clients), 1, MaxClients)
	if r := st.ConnectRate; !(r >= 0 && r <= MaxRate) {
		c.add(s, -1, "connect_rate", true, "%s is out of range; allowed 0/s (all at once) to %s", perSecond(r), perSecond(MaxRate))
	}

	switch {
	case st.Open != nil && st.Closed != nil:
		c.add(s, -1, "in_flight", false, "give either an open loop (rate or rate_per_client) or a closed loop (in_flight), not both")
	case st.Open == nil && st.Closed == nil:
		c.add(s, -1, "", false, "missing rate, rate_per_client or in_flight; give an open loop (e.g. rate: 5000/s) or a closed loop (e.g. in_flight: 8)")
	}
	if o := st.Open; o != nil {
		for _, f := range []struct {
			field string
			r     float64
		}{{"rate", o.Rate}, {"ramp_to", o.RampTo}} {
			if !(f.r >= 0 && f.r <= MaxRate) {
				c.add(s, -1, f.field, true, "%s in total is out of range; allowed 0/s to %s", perSecond(f.r), perSecond(MaxRate))
			}
		}
		if st.Requests > 0 && o.Rate == 0 {
			c.add(s, -1, "rate", true, "a stage bounded by %d requests needs a rate above 0/s", st.Requests)
		}
		if st.Requests > 0 && o.RampTo > 0 {
			c.add(s, -1, "ramp_to", false, "a ramp runs across the stage's duration, and this stage ends after a count; give duration instead of requests, or remove ramp_to")
		}
	}
	if cl := st.Closed; cl != nil {
		c.count(s, -1, "in_flight", int64(cl.InFlight), 1, MaxInFlight)
		c.duration(s, -1, "think", cl.Think, 0, MaxThink)
	}

	switch {
	case len(st.Mix) == 0:
		c.add(s, -1, "mix", false, "the mix is empty; give at least one request (e.g. - command: HARTBEAT)")
	case len(st.Mix) > MaxMix:
		c.add(s, -1, "mix", false, "%d mix entries is too many; allowed at most %d", len(st.Mix), MaxMix)
	}
	for i := range st.Mix {
		c.request(s, i)
	}
}

func (c *checker) request(s, i int) {
	r := &c.p.Stages[s].Mix[i]
	field := func(name string) string { return "mix[" + strconv.Itoa(i) + "]." + name }
	if r.Command == "" {
		c.add(s, i, field("command"), false, "missing; say what to send (e.g. HARTBEAT)")
	}
	if !(r.Weight > 0 && r.Weight <= MaxWeight) {
		c.add(s, i, field("weight"), true, "%s is out of range; allowed above 0 up to %d", strconv.FormatFloat(r.Weight, 'f', -1, 64), MaxWeight)
	}
	if r.TTL < 0 || r.TTL > int64(MaxTTL/time.Second) {
		c.add(s, i, field("ttl"), true, "%s is out of range; allowed 1s to %s (0 leaves the ttl out)", seconds(r.TTL), MaxTTL)
	}
	if r.Timeout != 0 {
		c.duration(s, i, field("timeout"), r.Timeout, MinTimeout, MaxTimeout)
	}
}

// perSecond formats a rate as a scenario file writes it: "5000/s".
func perSecond(r float64) string {
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

// seconds formats n seconds as a duration, or as "<n>s" when a Duration cannot hold it.
func seconds(n int64) string {
	if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
		return strconv.FormatInt(n, 10) + "s"
	}
	return (time.Duration(n) * time.Second).String()
}
