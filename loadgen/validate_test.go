package loadgen

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

// validPlan is a plan that passes Validate, for the cases below to break one rule of.
func validPlan() Plan {
	return Plan{Name: "p", Timeout: time.Second, Stages: []Stage{{
		Name: "s", Duration: time.Second, Clients: 1, Open: &Open{Rate: 1},
		Mix: []Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}},
	}}}
}

// TestPlanValidate breaks one rule at a time and checks where Validate says the problem
// is (the PlanError's Path, and whether it is about the value) and what it says. The
// cases marked "unified" are where the two copies of the rules this replaces (loadgen's
// validate and the scenario decoder's own checks) disagreed; the rule the case shows won.
func TestPlanValidate(t *testing.T) {
	stage := func(p *Plan) *Stage { return &p.Stages[0] }
	req := func(p *Plan) *Request { return &p.Stages[0].Mix[0] }
	tests := []struct {
		name  string
		edit  func(p *Plan)
		path  string // "" with msg "" for a valid plan
		value bool
		msg   string
	}{
		{"valid", func(p *Plan) {}, "", false, ""},

		// The plan.
		{"no stages", func(p *Plan) { p.Stages = nil }, "stages", false, "the list is empty; give at least one stage"},
		{"too many stages (unified: MaxStages, not the id layout's 65534)", func(p *Plan) {
			p.Stages = make([]Stage, MaxStages+1)
			for i := range p.Stages {
				p.Stages[i] = validPlan().Stages[0]
			}
		}, "stages", false, "1001 stages is too many; allowed at most 1000"},
		{"negative warm-up", func(p *Plan) { p.Warmup = -time.Second }, "warmup", true, "-1s is out of range; allowed 0 to 1h0m0s"},
		{"warm-up over the limit", func(p *Plan) { p.Warmup, stage(p).Duration = 2*time.Hour, 3*time.Hour }, "warmup", true, "2h0m0s is out of range; allowed 0 to 1h0m0s"},
		{"warm-up as long as the first stage (unified: loadgen had no such rule)", func(p *Plan) { p.Warmup = time.Second }, "warmup", true,
			"1s is not shorter than the first stage's duration 1s, so nothing of it would be measured; shorten the warm-up"},
		{"warm-up before a stage bounded by count", func(p *Plan) {
			p.Warmup, stage(p).Duration, stage(p).Requests = time.Minute, 0, 10
		}, "", false, ""},
		{"no plan timeout, though every request has its own (unified: the plan's default timeout is required)", func(p *Plan) {
			p.Timeout, req(p).Timeout = 0, time.Second
		}, "timeout", true, "0s is out of range; allowed 1ms to 10m0s"},
		{"plan timeout within the histograms but over the limit (unified: MaxTimeout, not MaxLatency)", func(p *Plan) { p.Timeout = 15 * time.Minute },
			"timeout", true, "15m0s is out of range; allowed 1ms to 10m0s"},
		{"sub-millisecond timeout (unified: at least MinTimeout, not just above 0)", func(p *Plan) { p.Timeout = 500 * time.Microsecond },
			"timeout", true, "500µs is out of range; allowed 1ms to 10m0s"},

		// A stage.
		{"both bounds", func(p *Plan) { stage(p).Requests = 5 }, "stages[0].requests", false,
			"give either duration or requests, not both: a stage ends after a time or after a count"},
		{"no bound", func(p *Plan) { stage(p).Duration = 0 }, "stages[0]", false,
			"missing duration or requests; say when the stage ends (e.g. duration: 60s, or requests: 1M)"},
		{"negative duration", func(p *Plan) { stage(p).Duration = -time.Second }, "stages[0].duration", true, "-1s is out of range; allowed 1ms to 24h0m0s"},
		{"sub-millisecond stage (unified: at least MinStageLength, not just above 0)", func(p *Plan) { stage(p).Duration = time.Microsecond },
			"stages[0].duration", true, "1µs is out of range; allowed 1ms to 24h0m0s"},
		{"stage over the limit", func(p *Plan) { stage(p).Duration = 25 * time.Hour }, "stages[0].duration", true, "25h0m0s is out of range; allowed 1ms to 24h0m0s"},
		{"negative count", func(p *Plan) { stage(p).Duration, stage(p).Requests = 0, -1 }, "stages[0].requests", true, "-1 is out of range; allowed 1 to 1000000000000"},
		{"count over the limit", func(p *Plan) { stage(p).Duration, stage(p).Requests = 0, MaxRequests+1 }, "stages[0].requests", true,
			"1000000000001 is out of range; allowed 1 to 1000000000000"},
		{"no clients", func(p *Plan) { stage(p).Clients = 0 }, "stages[0].clients", true, "0 is out of range; allowed 1 to 100000"},
		{"clients over the limit (unified: loadgen had no limit)", func(p *Plan) { stage(p).Clients = MaxClients + 1 }, "stages[0].clients", true,
			"100001 is out of range; allowed 1 to 100000"},
		{"connect rate 0 connects all at once", func(p *Plan) { stage(p).ConnectRate = 0 }, "", false, ""},
		{"negative connect rate", func(p *Plan) { stage(p).ConnectRate = -1 }, "stages[0].connect_rate", true,
			"-1/s is out of range; allowed 0/s (all at once) to 10000000/s"},
		{"connect rate not a number", func(p *Plan) { stage(p).ConnectRate = math.NaN() }, "stages[0].connect_rate", true,
			"NaN/s is out of range; allowed 0/s (all at once) to 10000000/s"},
		{"both loops", func(p *Plan) { stage(p).Closed = &Closed{InFlight: 1} }, "stages[0].in_flight", false,
			"give either an open loop (rate or rate_per_client) or a closed loop (in_flight), not both"},
		{"no loop", func(p *Plan) { stage(p).Open = nil }, "stages[0]", false,
			"missing rate, rate_per_client or in_flight; give an open loop (e.g. rate: 5000/s) or a closed loop (e.g. in_flight: 8)"},

		// An open loop.
		{"idle open loop (unified: a rate of 0 is allowed, scenarios refused it)", func(p *Plan) { stage(p).Open.Rate = 0 }, "", false, ""},
		{"ramp from 0", func(p *Plan) { stage(p).Open.Rate, stage(p).Open.RampTo = 0, 100 }, "", false, ""},
		{"negative rate", func(p *Plan) { stage(p).Open.Rate = -1 }, "stages[0].rate", true, "-1/s in total is out of range; allowed 0/s to 10000000/s"},
		{"infinite ramp", func(p *Plan) { stage(p).Open.RampTo = math.Inf(1) }, "stages[0].ramp_to", true, "+Inf/s in total is out of range; allowed 0/s to 10000000/s"},
		{"rate over the limit (unified: loadgen had no limit)", func(p *Plan) { stage(p).Open.Rate = MaxRate * 2 }, "stages[0].rate", true,
			"20000000/s in total is out of range; allowed 0/s to 10000000/s"},
		{"idle stage bounded by count", func(p *Plan) { stage(p).Duration, stage(p).Requests, stage(p).Open.Rate = 0, 10, 0 }, "stages[0].rate", true,
			"a stage bounded by 10 requests needs a rate above 0/s"},
		{"ramp with a count", func(p *Plan) { stage(p).Duration, stage(p).Requests, stage(p).Open.RampTo = 0, 10, 5 }, "stages[0].ramp_to", false,
			"a ramp runs across the stage's duration, and this stage ends after a count; give duration instead of requests, or remove ramp_to"},

		// A closed loop.
		{"closed without slots", func(p *Plan) { stage(p).Open, stage(p).Closed = nil, &Closed{} }, "stages[0].in_flight", true, "0 is out of range; allowed 1 to 65536"},
		{"too many in flight (unified: loadgen had no limit)", func(p *Plan) { stage(p).Open, stage(p).Closed = nil, &Closed{InFlight: MaxInFlight + 1} },
			"stages[0].in_flight", true, "65537 is out of range; allowed 1 to 65536"},
		{"negative think time", func(p *Plan) { stage(p).Open, stage(p).Closed = nil, &Closed{InFlight: 1, Think: -time.Millisecond} },
			"stages[0].think", true, "-1ms is out of range; allowed 0 to 1h0m0s"},

		// The mix.
		{"empty mix", func(p *Plan) { stage(p).Mix = nil }, "stages[0].mix", false, "the mix is empty; give at least one request (e.g. - command: HARTBEAT)"},
		{"too many entries (unified: loadgen had no limit)", func(p *Plan) {
			for range MaxMix {
				stage(p).Mix = append(stage(p).Mix, stage(p).Mix[0])
			}
		}, "stages[0].mix", false, "1001 mix entries is too many; allowed at most 1000"},
		{"no command", func(p *Plan) { req(p).Command = "" }, "stages[0].mix[0].command", false, "missing; say what to send (e.g. HARTBEAT)"},
		{"any command (the server answers an unknown one with an exception)", func(p *Plan) { req(p).Command = "BOGUSCMD" }, "", false, ""},
		{"fractional weight (unified: weights are above 0, not whole numbers from 1)", func(p *Plan) { req(p).Weight = 0.5 }, "", false, ""},
		{"zero weight", func(p *Plan) { req(p).Weight = 0 }, "stages[0].mix[0].weight", true, "0 is out of range; allowed above 0 up to 1000000"},
		{"weight over the limit (unified: loadgen had no limit)", func(p *Plan) { req(p).Weight = 2e6 }, "stages[0].mix[0].weight", true,
			"2000000 is out of range; allowed above 0 up to 1000000"},
		{"weight not a number", func(p *Plan) { req(p).Weight = math.NaN() }, "stages[0].mix[0].weight", true, "NaN is out of range; allowed above 0 up to 1000000"},
		{"ttl of 0 is left out", func(p *Plan) { req(p).TTL = 0 }, "", false, ""},
		{"negative ttl", func(p *Plan) { req(p).TTL = -1 }, "stages[0].mix[0].ttl", true, "-1s is out of range; allowed 1s to 8760h0m0s (0 leaves the ttl out)"},
		{"ttl over the limit", func(p *Plan) { req(p).TTL = math.MaxInt64 }, "stages[0].mix[0].ttl", true,
			"9223372036854775807s is out of range; allowed 1s to 8760h0m0s (0 leaves the ttl out)"},
		{"request timeout 0 is the plan's", func(p *Plan) { req(p).Timeout = 0 }, "", false, ""},
		{"negative request timeout (unified: it no longer falls back to the plan's)", func(p *Plan) { req(p).Timeout = -time.Second },
			"stages[0].mix[0].timeout", true, "-1s is out of range; allowed 1ms to 10m0s"},
		{"request timeout over the limit, without ack too", func(p *Plan) { req(p).Timeout, req(p).Ack = 11*time.Minute, false },
			"stages[0].mix[0].timeout", true, "11m0s is out of range; allowed 1ms to 10m0s"},
		{"too many distinct commands", func(p *Plan) {
			for i := range maxCmds {
				stage(p).Mix = append(stage(p).Mix, Request{Command: protocol.Command(strings.Repeat("X", i+1)), Weight: 1})
			}
		}, "", false, "257 distinct commands is too many; allowed at most 256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPlan()
			tc.edit(&p)
			err := p.Validate()
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var list PlanErrors
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("error %v (%T), want one PlanError", err, err)
			}
			e := list[0]
			if e.Path() != tc.path || e.Value != tc.value || e.Msg != tc.msg {
				t.Errorf("got path %q value %v msg %q\nwant path %q value %v msg %q", e.Path(), e.Value, e.Msg, tc.path, tc.value, tc.msg)
			}
		})
	}
}

// TestPlanValidateAll: Validate reports every problem, in the plan's order, and each
// reads as a loadgen error that says where it is.
func TestPlanValidateAll(t *testing.T) {
	p := validPlan()
	p.Timeout = 0
	p.Stages = append(p.Stages, Stage{Name: "b", Clients: 0, Closed: &Closed{InFlight: 1}, Mix: []Request{{Weight: 1}, {Command: protocol.Heartbeat}}})
	err := p.Validate()
	want := `loadgen: plan "p": timeout: 0s is out of range; allowed 1ms to 10m0s
loadgen: plan "p": stage 1 ("b"): missing duration or requests; say when the stage ends (e.g. duration: 60s, or requests: 1M)
loadgen: plan "p": stage 1 ("b"): clients: 0 is out of range; allowed 1 to 100000
loadgen: plan "p": stage 1 ("b"): mix[0].command: missing; say what to send (e.g. HARTBEAT)
loadgen: plan "p": stage 1 ("b"): mix[1].weight: 0 is out of range; allowed above 0 up to 1000000`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	var list PlanErrors
	if !errors.As(err, &list) {
		t.Fatalf("%T is not PlanErrors", err)
	}
	if e := list[3]; e.Stage != 1 || e.Request != 0 || e.StageName != "b" || e.Path() != "stages[1].mix[0].command" {
		t.Errorf("request problem %+v, want stage 1 (b), request 0, path stages[1].mix[0].command", *e)
	}
	if e := list[0]; e.Stage != -1 || e.Request != -1 || e.Path() != "timeout" {
		t.Errorf("plan problem %+v, want stage and request -1, path timeout", *e)
	}
}

// TestRunValidatesPlan: Run refuses an invalid plan before it dials anything.
func TestRunValidatesPlan(t *testing.T) {
	p := validPlan()
	p.Stages[0].Clients = 0
	res, err := Run(context.Background(), Config{Plan: p, Addr: "tcp://127.0.0.1:1"})
	if err == nil || res != nil || !strings.Contains(err.Error(), "clients") {
		t.Errorf("Run of a plan without clients: result %v, error %v; want no result and an error about clients", res, err)
	}
}
