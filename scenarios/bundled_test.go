package scenarios

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

// closedLoopGuess is the round-trip rate assumed for count-bounded closed-loop stages
// when checking the short overlays' wall time: a third of DMB 0.2.1's capacity, so the
// check holds on a slow CI machine too.
const closedLoopGuess Rate = 5000

var bundledNamesWant = []string{"capacity-ramp", "channels-workers", "expiry-walk", "group-churn", "keepalive-storm", "pipeline"}

func TestBundledList(t *testing.T) {
	list := Bundled()
	var got []string
	for _, i := range list {
		got = append(got, i.Name)
		if i.Description == "" || strings.Contains(i.Description, "\n") || strings.HasPrefix(i.Description, "(invalid") {
			t.Errorf("%s: description %q is not one valid line", i.Name, i.Description)
		}
	}
	if !slices.Equal(got, bundledNamesWant) {
		t.Errorf("Bundled() = %v, want %v", got, bundledNamesWant)
	}
	if _, err := BundledSource("nope"); err == nil || !strings.Contains(err.Error(), "bundled: capacity-ramp,") {
		t.Errorf("BundledSource(nope) error = %v, want one listing the bundled names", err)
	}
}

// TestBundledParse loads every bundled scenario in full and short, and checks that the
// short overlay fits in 10 s of wall time including connect and drain.
func TestBundledParse(t *testing.T) {
	for _, name := range bundledNamesWant {
		t.Run(name, func(t *testing.T) {
			full, err := Load(name, LoadOptions{})
			if err != nil {
				t.Fatalf("full: %v", err)
			}
			short, err := Load(name, LoadOptions{Short: true})
			if err != nil {
				t.Fatalf("short: %v", err)
			}
			if full.Name != name || short.Name != name || full.File != name+".yaml" {
				t.Errorf("names: full %q short %q file %q, want %q", full.Name, short.Name, full.File, name)
			}
			if full.Short || !short.Short || full.Hash != short.Hash {
				t.Errorf("Short flags %v/%v, hashes %s/%s", full.Short, short.Short, full.Hash, short.Hash)
			}
			est := short.Estimate(closedLoopGuess)
			if est.Total() > 10*time.Second {
				t.Errorf("short overlay takes %v (%+v), want at most 10s", est.Total(), est)
			}
			if fe := full.Estimate(closedLoopGuess); fe.Total() <= est.Total() {
				t.Errorf("full size %v is not longer than short %v", fe.Total(), est.Total())
			}
			t.Logf("full %v, short %v (closed loops at %v)", full.Estimate(closedLoopGuess).Total(), est.Total(), closedLoopGuess)
		})
	}
}

// TestBundledContent checks that each bundled scenario, at full size, is what its
// description promises.
func TestBundledContent(t *testing.T) {
	commands := func(st Stage) []protocol.Command {
		var cs []protocol.Command
		for _, r := range st.Mix {
			cs = append(cs, r.Command)
		}
		return cs
	}
	tests := []struct {
		name  string
		check func(t *testing.T, sc *Scenario)
	}{
		{"keepalive-storm", func(t *testing.T, sc *Scenario) {
			st := sc.Stages[0]
			if st.Clients != 5000 || !slices.Equal(commands(st), []protocol.Command{protocol.Heartbeat}) {
				t.Errorf("want 5,000 clients sending HARTBEAT, got %d clients %v", st.Clients, commands(st))
			}
			if err := sc.SetClients(300); err != nil || sc.Stages[0].Clients != 300 {
				t.Errorf("SetClients(300): %v, clients %d", err, sc.Stages[0].Clients)
			}
		}},
		{"group-churn", func(t *testing.T, sc *Scenario) {
			st := sc.Stages[0]
			if !slices.Equal(commands(st), []protocol.Command{protocol.GroupAdd, protocol.GroupDiscard}) {
				t.Errorf("commands %v, want GROUPADD and GROUPDIS", commands(st))
			}
			for _, r := range st.Mix {
				if r.Group.Kind != Zipf || r.Group.N != 100000 {
					t.Errorf("%s group %v over %d names, want zipf over 100000", r.Command, r.Group.Kind, r.Group.N)
				}
			}
		}},
		{"capacity-ramp", func(t *testing.T, sc *Scenario) {
			var prev Rate
			for _, st := range sc.Stages {
				if st.Open == nil || st.Open.Rate <= prev {
					t.Fatalf("stage %s does not raise the open-loop rate above %v", st.Name, prev)
				}
				prev = st.Open.Rate
			}
			if sc.Stages[0].Open.Rate > 10000 || prev < 200000 {
				t.Errorf("rates run %v to %v, want from below 0.2.1's capacity (15-21k/s) to 200k/s", sc.Stages[0].Open.Rate, prev)
			}
		}},
		{"pipeline", func(t *testing.T, sc *Scenario) {
			st := sc.Stages[0]
			if st.Clients != 1 || st.Closed == nil || st.Closed.InFlight != 8 {
				t.Errorf("want 1 client with 8 in flight, got %d clients, closed %+v", st.Clients, st.Closed)
			}
		}},
		{"expiry-walk", func(t *testing.T, sc *Scenario) {
			fill, hold := sc.Stages[0], sc.Stages[1]
			if fill.Requests != 1000000 || fill.Mix[0].Command != protocol.GroupAdd || fill.Mix[0].TTL <= 0 || fill.Mix[0].TTL > time.Minute {
				t.Errorf("fill: %d requests of %+v, want 1,000,000 GROUPADD with a short ttl", fill.Requests, fill.Mix[0])
			}
			if g := fill.Mix[0].Group; g.Kind != Sequential || g.N != 1000000 || g.PerClient {
				t.Errorf("fill groups %+v, want 1,000,000 distinct (shared sequential)", g)
			}
			if hold.Open == nil || hold.Open.Arrival != Constant || !slices.Equal(commands(hold), []protocol.Command{protocol.Heartbeat}) {
				t.Errorf("hold: want a constant HARTBEAT rate, got %+v %v", hold.Open, commands(hold))
			}
			if hold.Duration < 50*time.Second {
				t.Errorf("hold lasts %v, want at least 10 expiry periods of 5 s", hold.Duration)
			}
		}},
		{"channels-workers", func(t *testing.T, sc *Scenario) {
			st := sc.Stages[0]
			if st.Clients > 16 {
				t.Errorf("%d clients, want a few (one per Django worker)", st.Clients)
			}
			for _, r := range st.Mix {
				if (r.Command != protocol.GroupAdd && r.Command != protocol.GroupDiscard) || r.NameType != NameBytes || r.TTL != 0 || !r.Ack {
					t.Errorf("request %+v, want GROUPADD/GROUPDIS with bytes names, no ttl, ack true", r)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := Load(tt.name, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, sc)
		})
	}
}
