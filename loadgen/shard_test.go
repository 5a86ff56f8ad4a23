package loadgen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// clientTally counts, per stage and client position, the name factories called (the
// clients a run prepared) and the names taken (one per request sent).
type clientTally struct {
	mu       sync.Mutex
	prepared map[[2]int]bool
	requests map[[2]int]*atomic.Int64
}

func newClientTally() *clientTally {
	return &clientTally{prepared: map[[2]int]bool{}, requests: map[[2]int]*atomic.Int64{}}
}

// factory is a Request.Group for stage s that tallies.
func (ct *clientTally) factory(s int) func(client int) Namer {
	return func(client int) Namer {
		ct.mu.Lock()
		defer ct.mu.Unlock()
		k := [2]int{s, client}
		ct.prepared[k] = true
		n := ct.requests[k]
		if n == nil {
			n = new(atomic.Int64)
			ct.requests[k] = n
		}
		return tallyNamer{n: n, name: []byte(fmt.Sprintf("s%d.c%d", s, client))}
	}
}

// counts returns the requests sent, by stage and client.
func (ct *clientTally) counts() map[[2]int]int64 {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	out := map[[2]int]int64{}
	for k, n := range ct.requests {
		out[k] = n.Load()
	}
	return out
}

type tallyNamer struct {
	n    *atomic.Int64
	name []byte
}

func (t tallyNamer) Next() []byte { t.n.Add(1); return t.name }

// shardPlan is a plan whose every stage's requests are tallied by client: an open loop
// bounded by time, one bounded by count on more clients, a closed loop bounded by count
// on fewer.
func shardPlan(ct *clientTally) Plan {
	mix := func(s int) []Request {
		return []Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true, Group: ct.factory(s)}}
	}
	return Plan{
		Name: "shards", Seed: 7, Timeout: 2 * time.Second,
		Stages: []Stage{
			{Name: "open", Duration: 600 * time.Millisecond, Clients: 5, Open: &Open{Rate: 500}, Mix: mix(0)},
			{Name: "count", Requests: 101, Clients: 7, Open: &Open{Rate: 1000, Poisson: true}, Mix: mix(1)},
			{Name: "closed", Requests: 50, Clients: 4, Closed: &Closed{InFlight: 2}, Mix: mix(2)},
		},
	}
}

// TestShardUnionIsTheWholeRun runs a plan whole and as N shards (N engines in this
// process against one broker, started at one StartAt): the shards run disjoint client
// positions that cover every stage's clients, each position sends exactly the requests it
// sends in the whole run, so every stage's counts add up to the whole run's (a stage
// bounded by count to its count exactly); each shard's clock starts at StartAt.
func TestShardUnionIsTheWholeRun(t *testing.T) {
	tests := []struct {
		name   string
		shards int
	}{
		{"2 shards", 2},
		{"3 shards", 3},
	}
	srv, _ := startBroker(t, broker.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := newClientTally()
			tallies := make([]*clientTally, tt.shards)
			results := make([]*Result, tt.shards)
			errs := make([]error, tt.shards+1)
			logs := make([]*intervalLog, tt.shards)
			var wholeRes *Result
			startAt := time.Now().Add(700 * time.Millisecond)
			var wg sync.WaitGroup
			for i := range tt.shards {
				tallies[i], logs[i] = newClientTally(), &intervalLog{}
				wg.Go(func() {
					cfg := Config{Plan: shardPlan(tallies[i]), Addr: srv.Addr(), Shard: Shard{Index: i, Count: tt.shards}, StartAt: startAt, Intervals: logs[i]}
					results[i], errs[i] = Run(context.Background(), cfg)
				})
			}
			wg.Go(func() {
				wholeRes, errs[tt.shards] = Run(context.Background(), Config{Plan: shardPlan(whole), Addr: srv.Addr()})
			})
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}

			// Positions: disjoint, covering, the shard's own.
			owner := map[[2]int]int{}
			for i, ct := range tallies {
				for k := range ct.prepared {
					if j, dup := owner[k]; dup {
						t.Errorf("stage %d client %d was run by shards %d and %d", k[0], k[1], j, i)
					}
					owner[k] = i
					if k[1]%tt.shards != i {
						t.Errorf("shard %d ran client %d of stage %d", i, k[1], k[0])
					}
				}
			}
			for k := range whole.prepared {
				if _, ok := owner[k]; !ok {
					t.Errorf("no shard ran client %d of stage %d", k[1], k[0])
				}
			}
			if len(owner) != len(whole.prepared) {
				t.Errorf("the shards ran %d (stage, client) positions, the whole run %d", len(owner), len(whole.prepared))
			}
			// Requests per client: the union is the whole run's.
			union := map[[2]int]int64{}
			for _, ct := range tallies {
				maps.Copy(union, ct.counts())
			}
			if w := whole.counts(); !maps.Equal(union, w) {
				t.Errorf("requests per (stage, client): shards %v, whole run %v", union, w)
			}

			var connected uint64
			for i, r := range results {
				connected += r.Connections.Connected
				if !r.Start.Equal(startAt) || !r.Stages[0].Start.Equal(startAt) {
					t.Errorf("shard %d: run start %v, first stage start %v, want StartAt %v", i, r.Start, r.Stages[0].Start, startAt)
				}
				for _, iv := range logs[i].ivs {
					if d := iv.Start.Sub(startAt); d%time.Second != 0 {
						t.Errorf("shard %d: an interval starts %v after StartAt, off the one-second grid from it", i, d)
						break
					}
				}
			}
			if connected != wholeRes.Connections.Connected {
				t.Errorf("the shards connected %d clients, the whole run %d", connected, wholeRes.Connections.Connected)
			}
			for s := range wholeRes.Stages {
				want := sumCounts(&wholeRes.Stages[s])
				var got Counts
				for _, r := range results {
					got.Add(sumCounts(&r.Stages[s]))
				}
				name := wholeRes.Stages[s].Name
				if got.Sent != want.Sent || got.OK != want.Sent || want.OK != want.Sent {
					t.Errorf("stage %s: shards sent %d (%d OK), the whole run %d (%d OK)", name, got.Sent, got.OK, want.Sent, want.OK)
				}
				if n := wholeRes.Stages[s].Name; n == "count" || n == "closed" {
					if req := shardPlan(newClientTally()).Stages[s].Requests; got.Sent != uint64(req) {
						t.Errorf("stage %s: shards sent %d, the stage's count is %d", name, got.Sent, req)
					}
				}
			}
		})
	}
}

// TestShardValidate checks the refusals of a shard that does not fit the plan.
func TestShardValidate(t *testing.T) {
	plan := &Plan{Stages: []Stage{{Name: "a", Clients: 8}, {Name: "b", Clients: 4}}}
	tests := []struct {
		shard Shard
		want  string // a part of the error; "" for none
	}{
		{Shard{}, ""},
		{Shard{0, 1}, ""},
		{Shard{3, 4}, ""},
		{Shard{0, -1}, "give 1 or more shards"},
		{Shard{2, 0}, "give 1 or more shards"},
		{Shard{4, 4}, "0 to 3"},
		{Shard{-1, 4}, "out of range"},
		{Shard{0, 5}, `5 shards: stage 1 ("b") has 4 clients, fewer than the shards`},
	}
	for _, tt := range tests {
		t.Run(tt.shard.String(), func(t *testing.T) {
			err := tt.shard.Validate(plan)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestShardClients checks which positions a shard owns and how many.
func TestShardClients(t *testing.T) {
	tests := []struct {
		shard   Shard
		clients int
		want    []int
	}{
		{Shard{}, 3, []int{0, 1, 2}},
		{Shard{0, 1}, 3, []int{0, 1, 2}},
		{Shard{0, 3}, 7, []int{0, 3, 6}},
		{Shard{2, 3}, 7, []int{2, 5}},
		{Shard{2, 3}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s of %d", tt.shard, tt.clients), func(t *testing.T) {
			var got []int
			for p := range tt.clients {
				if tt.shard.Owns(p) {
					got = append(got, p)
				}
			}
			if !slices.Equal(got, tt.want) || tt.shard.Clients(tt.clients) != len(tt.want) {
				t.Errorf("owns %v (Clients %d), want %v", got, tt.shard.Clients(tt.clients), tt.want)
			}
		})
	}
}

// TestShardDialSlots checks that a shard dials its positions when the whole run would:
// at their place in the whole run's dial order.
func TestShardDialSlots(t *testing.T) {
	tests := []struct {
		name    string
		shard   Shard
		missing []int // the shard's positions without a client
		prev    int   // clients of the stage before
		want    []dialSlot
	}{
		{"whole run", Shard{}, []int{0, 1, 2}, 0, []dialSlot{{0, 0}, {1, 1}, {2, 2}}},
		{"first stage", Shard{1, 3}, []int{1, 4, 7}, 0, []dialSlot{{1, 1}, {4, 4}, {7, 7}}},
		{"grown stage", Shard{1, 3}, []int{4, 7}, 3, []dialSlot{{4, 1}, {7, 4}}},
		{"a failed dial retried", Shard{0, 2}, []int{2, 6}, 5, []dialSlot{{2, 0}, {6, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &engine{sh: shardState{shard: tt.shard}}
			if got := e.dialSlots(tt.missing, tt.prev); !slices.Equal(got, tt.want) {
				t.Errorf("slots %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStartAtLate checks that a run whose StartAt has passed before it began, or by the
// time its clients were connected, does not start: a LateError saying by how much, and
// nothing sent.
func TestStartAtLate(t *testing.T) {
	srv, _ := startBroker(t, broker.Config{})
	slowDial := func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error) {
		time.Sleep(150 * time.Millisecond)
		return transport.Dial(ctx, transport.Native, addr, opts)
	}
	tests := []struct {
		name             string
		startIn          time.Duration
		beforeConnecting bool
	}{
		{"passed before Run", -time.Second, true},
		{"passed while connecting", 20 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Plan{Name: "late", Timeout: time.Second, Stages: []Stage{
				{Name: "s", Duration: 200 * time.Millisecond, Clients: 2, Open: &Open{Rate: 100}, Mix: []Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}}},
			}}
			res, err := run(context.Background(), Config{Plan: plan, Addr: srv.Addr(), StartAt: time.Now().Add(tt.startIn)}, slowDial)
			var late *LateError
			if !errors.As(err, &late) || late.BeforeConnecting != tt.beforeConnecting || late.Late <= 0 {
				t.Fatalf("error %v, want a LateError (before connecting: %v)", err, tt.beforeConnecting)
			}
			if res != nil {
				for _, s := range res.Stages {
					if c := sumCounts(&s); c.Sent != 0 {
						t.Errorf("a late run sent %d requests", c.Sent)
					}
				}
			}
		})
	}
}

// TestShardConnectRate checks that a shard dials its positions of a stage with a
// ConnectRate when the whole run would: position p at the stage's start + p/rate, so that
// each of N shards connects at about rate/N.
func TestShardConnectRate(t *testing.T) {
	srv, _ := startBroker(t, broker.Config{})
	const rate = 20.0 // a dial every 50 ms in the whole run
	tests := []struct {
		shard Shard
		want  []time.Duration // the dials, from the stage's start
	}{
		{Shard{0, 3}, []time.Duration{0, 150 * time.Millisecond}},
		{Shard{1, 3}, []time.Duration{50 * time.Millisecond, 200 * time.Millisecond}},
		{Shard{2, 3}, []time.Duration{100 * time.Millisecond, 250 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.shard.String(), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var dials []time.Time
			dial := func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error) {
				mu.Lock()
				dials = append(dials, time.Now())
				mu.Unlock()
				return transport.Dial(ctx, transport.Native, addr, opts)
			}
			plan := Plan{Name: "connect", Timeout: time.Second, Stages: []Stage{
				{Name: "s", Duration: 400 * time.Millisecond, Clients: 6, ConnectRate: rate, Open: &Open{Rate: 60}, Mix: []Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}}},
			}}
			res, err := run(context.Background(), Config{Plan: plan, Addr: srv.Addr(), Shard: tt.shard}, dial)
			if err != nil {
				t.Fatal(err)
			}
			if len(dials) != len(tt.want) || res.Connections.Connected != uint64(len(tt.want)) {
				t.Fatalf("%d dials, %d connected, want %d", len(dials), res.Connections.Connected, len(tt.want))
			}
			for i, at := range dials {
				if d := at.Sub(res.Stages[0].Start) - tt.want[i]; d < -5*time.Millisecond || d > 40*time.Millisecond {
					t.Errorf("dial %d at %v from the stage's start, want %v", i, at.Sub(res.Stages[0].Start), tt.want[i])
				}
			}
		})
	}
}
