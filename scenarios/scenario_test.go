package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/loadgen"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    Rate
		wantErr bool
	}{
		{"5000/s", 5000, false},
		{"20k/s", 20000, false},
		{"2.5k/s", 2500, false},
		{"1M/s", 1e6, false},
		{"1_000/s", 1000, false},
		{"60/m", 1, false},
		{"60/min", 1, false},
		{"3600/h", 1, false},
		{"1/100ms", 10, false},
		{"1/ms", 1000, false},
		{"0.5/s", 0.5, false},
		{" 10 / s ", 10, false},
		{"5000", 0, true},
		{"fast", 0, true},
		{"5000/", 0, true},
		{"/s", 0, true},
		{"5000/fortnight", 0, true},
		{"1/0s", 0, true},
		{"1/-1s", 0, true},
		{"inf/s", 0, true},
		{"NaN/s", 0, true},
		{"0x10/s", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRate(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "write e.g. 5000/s") {
					t.Errorf("error %q does not say what to write", err)
				}
				return
			}
			if diff := float64(got - tt.want); diff > 1e-9 || diff < -1e-9 {
				t.Errorf("ParseRate(%q) = %v, want %v", tt.in, float64(got), float64(tt.want))
			}
		})
	}
}

func TestRateString(t *testing.T) {
	tests := []struct {
		r        Rate
		want     string
		interval time.Duration
	}{
		{5000, "5000/s", 200 * time.Microsecond},
		{0.5, "0.5/s", 2 * time.Second},
		{200000, "200000/s", 5 * time.Microsecond},
		{0, "0/s", 0},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Rate(%v).String() = %q, want %q", float64(tt.r), got, tt.want)
		}
		if got := tt.r.Interval(); got != tt.interval {
			t.Errorf("Rate(%v).Interval() = %v, want %v", float64(tt.r), got, tt.interval)
		}
		if tt.r > 0 {
			back, err := ParseRate(tt.r.String())
			if err != nil || back != tt.r {
				t.Errorf("ParseRate(%q) = %v, %v; want it to parse back to %v", tt.r.String(), back, err, tt.r)
			}
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "group-churn.yaml", Line: 14, Column: 7, Path: "stages[1].rate", Message: `"fast" is not a rate (write e.g. 5000/s)`},
			`group-churn.yaml:14:7: stages[1].rate: "fast" is not a rate (write e.g. 5000/s)`},
		{Error{File: "a.yaml", Message: "the file is empty"}, "a.yaml: the file is empty"},
		{Error{File: "a.yaml", Line: 3, Message: "bad"}, "a.yaml:3: bad"},
		{Error{Path: "stages", Message: "missing"}, "stages: missing"},
		{Error{Message: "cannot read"}, "cannot read"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	list := ErrorList{&tests[0].err, &tests[1].err}
	if got, want := list.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("ErrorList.Error() = %q, want %q", got, want)
	}
}

// parse is Parse for tests: it fails the test on an error.
func parse(t *testing.T, src string, opts LoadOptions) *Scenario {
	t.Helper()
	sc, err := Parse("test.yaml", []byte(src), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return sc
}

func TestParseErrors(t *testing.T) {
	const stage = "stages:\n  - {duration: 1s, clients: 1, rate: 1/s, mix: [{command: HARTBEAT}]}\n"
	tests := []struct {
		name string
		src  string
		opts LoadOptions
		want string
	}{
		{"short missing", stage, LoadOptions{Short: true},
			"test.yaml:1:1: short: missing; there is no short overlay to apply: add one (see the bundled scenarios) or run without --short"},
		{"short problem reported without --short", stage + "short: {timeout: 0s}\n", LoadOptions{},
			"test.yaml:3:18: short.timeout: 0s is out of range; allowed 1ms to 10m0s"},
		{"stages missing", "name: x\n", LoadOptions{},
			"test.yaml:1:1: stages: missing; a scenario needs a list of stages (see the bundled scenarios)"},
		{"stages empty", "stages: []\n", LoadOptions{}, "test.yaml:1:1: stages: the list is empty; give at least one stage"},
		{"top is a list", "- a\n", LoadOptions{}, "test.yaml:1:1: found a list where a mapping of fields (key: value) belongs"},
		{"merge of a scalar", "x: &x 1\n" + stage + "<<: *x\n", LoadOptions{},
			"test.yaml:1:1: x: unknown field \"x\"; allowed: name, description, seed, warmup, target, timeout, stages, short\n" +
				"test.yaml:1:7: << merges mappings, found 1; write << *anchor with an anchored mapping"},
		{"target port", "target: tcp://h:99999\n" + stage, LoadOptions{},
			`test.yaml:1:9: target: port "99999" is out of range; allowed 1 to 65534 (the signalling port, one above, must exist too)`},
		{"per-client rate over the limit with inherited clients", "stages:\n  - {duration: 1s, clients: 20, rate: 1/s, mix: [{command: HARTBEAT}]}\n" +
			"  - {duration: 1s, rate_per_client: 1M/s, mix: [{command: HARTBEAT}]}\n", LoadOptions{},
			"test.yaml:3:20: stages[1].rate_per_client: 20000000/s in total is out of range; allowed 0/s to 10000000/s (1000000/s per client × 20 clients)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.src), tt.opts)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error = %v (%T), want an ErrorList", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	sc := parse(t, `
stages:
  - duration: 10s
    clients: 3
    in_flight: 2
    mix:
      - command: GROUPADD
        group: {zipf: 10}
        channel: {sequential: 5}
  - duration: 5s
    rate: 10/s
    mix: [{command: HARTBEAT}]
`, LoadOptions{})
	if sc.Name != "test" || sc.Seed != DefaultSeed || sc.Timeout != DefaultTimeout || sc.Warmup != 0 || sc.Target != "" {
		t.Errorf("scenario defaults = name %q seed %d timeout %v warmup %v target %q", sc.Name, sc.Seed, sc.Timeout, sc.Warmup, sc.Target)
	}
	if len(sc.Hash) != 64 || string(sc.Source) == "" || sc.File != "test.yaml" {
		t.Errorf("record fields: hash %q file %q source %d bytes", sc.Hash, sc.File, len(sc.Source))
	}
	s0, s1 := sc.Stages[0], sc.Stages[1]
	if s0.Name != "stage-1" || s1.Name != "stage-2" {
		t.Errorf("stage names = %q, %q", s0.Name, s1.Name)
	}
	if s1.Clients != 3 {
		t.Errorf("stage 2 clients = %d, want 3 kept from stage 1", s1.Clients)
	}
	if s0.Closed.Think != 0 || s1.Open.Arrival != Constant || s1.Open.PerClient || s1.Open.RampTo != 0 {
		t.Errorf("loop defaults: %+v %+v", *s0.Closed, *s1.Open)
	}
	r := s0.Mix[0]
	if r.Weight != 1 || !r.Ack || r.Timeout != DefaultTimeout || r.TTL != 0 || r.NameType != NameStr {
		t.Errorf("request defaults: %+v", r)
	}
	if r.Group.Prefix != DefaultGroup || r.Group.S != DefaultZipfS || r.Channel.Prefix != DefaultChannel || r.Group.Stream == r.Channel.Stream {
		t.Errorf("name defaults: group %+v channel %+v", r.Group, r.Channel)
	}
	if s1.Mix[0].Group.Kind != NoName || s1.Mix[0].Channel.Kind != NoName {
		t.Errorf("HARTBEAT has names: %+v", s1.Mix[0])
	}
}

// TestPlanOpenLoop: the plan's open loop holds totals, so the rate the engine schedules
// (loadgen's Open.RateAt, the one rate function) is per client times the clients.
func TestPlanOpenLoop(t *testing.T) {
	stage := func(perClient bool, arrival Arrival) Stage {
		return Stage{Duration: 10 * time.Second, Clients: 4, Open: &OpenLoop{Rate: 100, RampTo: 300, PerClient: perClient, Arrival: arrival},
			Mix: []Request{{Command: "HARTBEAT", Weight: 1}}}
	}
	tests := []struct {
		name    string
		st      Stage
		want    loadgen.Open
		midRate float64
	}{
		{"in total", stage(false, Constant), loadgen.Open{Rate: 100, RampTo: 300}, 200},
		{"per client", stage(true, Poisson), loadgen.Open{Rate: 400, RampTo: 1200, Poisson: true}, 800},
	}
	for _, tt := range tests {
		sc := &Scenario{Stages: []Stage{tt.st, {Duration: time.Second, Clients: 1, Closed: &ClosedLoop{InFlight: 1}}}}
		p := sc.Plan()
		if got := p.Stages[0].Open; got == nil || *got != tt.want {
			t.Errorf("%s: plan open loop %+v, want %+v", tt.name, got, tt.want)
			continue
		}
		if got := p.Stages[0].Open.RateAt(5*time.Second, p.Stages[0].Duration); got != tt.midRate {
			t.Errorf("%s: rate half way %v, want %v", tt.name, got, tt.midRate)
		}
		if p.Stages[1].Open != nil {
			t.Errorf("%s: a closed loop has an open loop in the plan: %+v", tt.name, p.Stages[1].Open)
		}
	}
}

func TestEstimate(t *testing.T) {
	mix := func(timeouts ...time.Duration) []Request {
		var m []Request
		for _, d := range timeouts {
			m = append(m, Request{Weight: 1, Timeout: d})
		}
		return m
	}
	tests := []struct {
		name       string
		stages     []Stage
		closedRate Rate
		want       Estimate
	}{
		{"one timed stage", []Stage{{Duration: 3 * time.Second, Clients: 100, ConnectRate: 50, Open: &OpenLoop{Rate: 10}, Mix: mix(time.Second, 2*time.Second)}},
			0, Estimate{Connect: 2 * time.Second, Run: 3 * time.Second, Drain: 2 * time.Second, Exact: true}},
		{"count-bounded open loop, per client", []Stage{{Requests: 1000, Clients: 10, Open: &OpenLoop{Rate: 50, PerClient: true}, Mix: mix(time.Second)}},
			0, Estimate{Run: 2 * time.Second, Drain: time.Second, Exact: true}},
		{"count-bounded closed loop, then more clients", []Stage{
			{Requests: 10000, Clients: 8, Closed: &ClosedLoop{InFlight: 1}, Mix: mix(time.Second)},
			{Duration: 5 * time.Second, Clients: 18, ConnectRate: 10, Open: &OpenLoop{Rate: 10}, Mix: mix(3 * time.Second)},
		}, 5000, Estimate{Connect: time.Second, Run: 7 * time.Second, Drain: 4 * time.Second, Exact: false}},
		{"closed loop without a rate", []Stage{{Requests: 10000, Clients: 8, Closed: &ClosedLoop{InFlight: 1}, Mix: mix(time.Second)}},
			0, Estimate{Drain: time.Second, Exact: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &Scenario{Stages: tt.stages}
			got := sc.Estimate(tt.closedRate)
			if got != tt.want {
				t.Errorf("Estimate = %+v, want %+v", got, tt.want)
			}
			if got.Total() != tt.want.Connect+tt.want.Run+tt.want.Drain {
				t.Errorf("Total = %v", got.Total())
			}
		})
	}
}

func TestSetClients(t *testing.T) {
	tests := []struct {
		name    string
		clients []int
		n       int
		want    []int
		wantErr bool
	}{
		{"all the same", []int{5000, 5000}, 100, []int{100, 100}, false},
		{"proportional", []int{8, 32, 16}, 64, []int{16, 64, 32}, false},
		{"at least one", []int{1, 100}, 10, []int{1, 10}, false},
		{"zero", []int{4}, 0, []int{4}, true},
		{"too many", []int{4}, loadgen.MaxClients + 1, []int{4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &Scenario{Name: "x"}
			for _, c := range tt.clients {
				sc.Stages = append(sc.Stages, Stage{Clients: c})
			}
			err := sc.SetClients(tt.n)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SetClients(%d) error = %v, want error %v", tt.n, err, tt.wantErr)
			}
			for i, st := range sc.Stages {
				if st.Clients != tt.want[i] {
					t.Errorf("stage %d clients = %d, want %d", i, st.Clients, tt.want[i])
				}
			}
			if tt.wantErr != (len(sc.Overrides) == 0) {
				t.Errorf("Overrides = %v", sc.Overrides)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "mine.yml")
	if err := os.WriteFile(good, []byte("stages: [{duration: 1s, clients: 1, rate: 1/s, mix: [{command: HARTBEAT}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("stages: [{duration: 1s, clients: 1, rate: fast, mix: [{command: HARTBEAT}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg      string
		wantName string
		wantErr  string
	}{
		{"group-churn", "group-churn", ""},
		{good, "mine", ""},
		{"no-such-scenario", "", `no bundled scenario named "no-such-scenario"; bundled: capacity-ramp, channels-workers, expiry-walk, group-churn, keepalive-storm, pipeline`},
		{filepath.Join(dir, "missing.yaml"), "", "does not exist; give a path to a YAML file or a bundled name"},
		{bad, "", bad + `:1:43: stages[0].rate: "fast" is not a rate (write e.g. 5000/s)`},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.arg), func(t *testing.T) {
			sc, err := Load(tt.arg, LoadOptions{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load(%q) error = %v, want it to contain %q", tt.arg, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%q): %v", tt.arg, err)
			}
			if sc.Name != tt.wantName {
				t.Errorf("Name = %q, want %q", sc.Name, tt.wantName)
			}
		})
	}

	err := Validate(good, "pipeline", bad, filepath.Join(dir, "missing.yaml"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("Validate = %v, want an ErrorList of 2 problems", err)
	}
	if !strings.HasPrefix(list[0].Error(), bad+":1:43: ") || !strings.Contains(list[1].Error(), "missing.yaml does not exist") {
		t.Errorf("Validate problems:\n%v", err)
	}
	if err := Validate(good, "pipeline"); err != nil {
		t.Errorf("Validate of valid scenarios = %v", err)
	}
}

// TestPlanRules checks how the rules of loadgen.Plan.Validate, which Parse applies to the
// plan a file makes, come out in a file: at the field that gave the value, once, and not
// for a value the file already has a problem with. A file cannot write 0 where a plan
// reads 0 as "not given"; that rule is the file's.
func TestPlanRules(t *testing.T) {
	const mix = "mix: [{command: HARTBEAT}]"
	tests := []struct {
		name string
		src  string
		want string // "" for a valid file
	}{
		// scenarios refused a rate of 0/s and loadgen ran such a stage idle: the plan's
		// rule (rates 0 to MaxRate) wins, so a file can hold an idle stage.
		{"an idle open loop", "stages: [{duration: 1s, clients: 1, rate: 0/s, " + mix + "}]", ""},
		{"an idle stage bounded by count", "stages: [{requests: 10, clients: 1, rate: 0/s, " + mix + "}]",
			"test.yaml:1:43: stages[0].rate: a stage bounded by 10 requests needs a rate above 0/s"},
		{"a rate over the limit", "stages: [{duration: 1s, clients: 1, rate: 20M/s, " + mix + "}]",
			"test.yaml:1:43: stages[0].rate: 20000000/s in total is out of range; allowed 0/s to 10000000/s"},
		{"a per-client ramp over the limit, at its key", "stages: [{duration: 1s, clients: 10, rate_per_client: 1/s, ramp_to: 2M/s, " + mix + "}]",
			"test.yaml:1:60: stages[0].ramp_to: 20000000/s in total is out of range; allowed 0/s to 10000000/s (2000000/s per client × 10 clients)"},
		{"a negative warm-up", "warmup: -1s\nstages: [{duration: 1s, clients: 1, rate: 1/s, " + mix + "}]",
			"test.yaml:1:9: warmup: -1s is out of range; allowed 0 to 1h0m0s"},
		{"a stage too short", "stages: [{duration: 10us, clients: 1, rate: 1/s, " + mix + "}]",
			"test.yaml:1:21: stages[0].duration: 10µs is out of range; allowed 1ms to 24h0m0s"},
		{"a duration of 0", "stages: [{duration: 0s, clients: 1, rate: 1/s, " + mix + "}]",
			"test.yaml:1:21: stages[0].duration: 0s is out of range; allowed 1ms to 24h0m0s"},
		{"an unreadable duration is not also missing", "stages: [{duration: soon, clients: 1, rate: 1/s, " + mix + "}]",
			`test.yaml:1:21: stages[0].duration: "soon" is not a duration (write e.g. 30s, 250ms or 1m30s)`},
		{"a count of 0", "stages: [{requests: 0, clients: 1, rate: 1/s, " + mix + "}]",
			"test.yaml:1:21: stages[0].requests: 0 is out of range; allowed 1 to 1000000000000"},
		{"both bounds, one unreadable", "stages: [{duration: 1s, requests: x, clients: 1, rate: 1/s, " + mix + "}]",
			`test.yaml:1:35: stages[0].requests: "x" is not a whole number (write e.g. 1M)`},
		{"a ramp to 0/s", "stages: [{duration: 1s, clients: 1, rate: 1/s, ramp_to: 0/s, " + mix + "}]",
			"test.yaml:1:57: stages[0].ramp_to: 0/s is out of range; allowed above 0/s up to 10000000/s"},
		{"a ttl of 0s", "stages: [{duration: 1s, clients: 1, rate: 1/s, mix: [{command: GROUPADD, group: g, channel: c, ttl: 0s}]}]",
			"test.yaml:1:101: stages[0].mix[0].ttl: 0s is out of range; allowed 1s to 8760h0m0s"},
		{"a request timeout of 0s", "stages: [{duration: 1s, clients: 1, rate: 1/s, mix: [{command: HARTBEAT, timeout: 0s}]}]",
			"test.yaml:1:83: stages[0].mix[0].timeout: 0s is out of range; allowed 1ms to 10m0s"},
		{"a think time over the limit", "stages: [{duration: 1s, clients: 1, in_flight: 1, think: 2h, " + mix + "}]",
			"test.yaml:1:58: stages[0].think: 2h0m0s is out of range; allowed 0 to 1h0m0s"},
		{"the scenario's timeout, not every request's", "timeout: 11m\nstages: [{duration: 1s, clients: 1, rate: 1/s, mix: [{command: HARTBEAT}, {command: PRINTXXX}]}]",
			"test.yaml:1:10: timeout: 11m0s is out of range; allowed 1ms to 10m0s"},
		{"inherited clients, at the stage that gives them", "stages:\n  - {duration: 1s, clients: 200000, rate: 1/s, " + mix + "}\n  - {duration: 1s, rate: 1/s, " + mix + "}\n",
			"test.yaml:2:29: stages[0].clients: 200000 is out of range; allowed 1 to 100000"},
		{"in flight over the limit", "stages: [{duration: 1s, clients: 1, in_flight: 100000, " + mix + "}]",
			"test.yaml:1:48: stages[0].in_flight: 100000 is out of range; allowed 1 to 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.src), LoadOptions{})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
