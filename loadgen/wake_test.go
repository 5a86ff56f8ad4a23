package loadgen

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/transport"
)

// TestReceiverWakeups checks, over real sockets with each transport, that receivers wake
// only when they have work: an idle connection sets no receive deadline and never wakes;
// a request sent to a receiver asleep without a deadline still times out at its deadline,
// because the sender arms it (a closed loop with one request in flight would stop at its
// first lost reply otherwise); and a client a stage drops is closed as soon as nothing is
// outstanding, not at the end of the run.
func TestReceiverWakeups(t *testing.T) {
	t.Parallel()
	for _, kind := range transport.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			srv, _ := startBroker(t, broker.Config{Transport: kind, Faults: broker.Faults{DropReplies: 0.2, Seed: 5}})
			var counts dealerCounts
			plan := Plan{Timeout: 50 * time.Millisecond, Seed: 42, Stages: []Stage{
				{Name: "idle", Duration: 300 * time.Millisecond, Clients: 20, Open: &Open{Rate: 0}, Mix: heartbeat()},
				{Name: "closed", Duration: 600 * time.Millisecond, Clients: 20, Closed: &Closed{InFlight: 1}, Mix: heartbeat()},
				// Long enough for every receiver to settle with no deadline at all.
				{Name: "rest", Duration: 300 * time.Millisecond, Clients: 20, Open: &Open{Rate: 0}, Mix: heartbeat()},
				{Name: "fewer", Duration: 300 * time.Millisecond, Clients: 5, Open: &Open{Rate: 50}, Mix: heartbeat()},
			}}
			res, err := run(context.Background(), Config{Plan: plan, Addr: srv.Addr(), Transport: kind}, counts.dial(kind))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(res.Stages) != 4 {
				t.Fatalf("%d stage results, want 4", len(res.Stages))
			}
			var all Counts
			for i := range res.Stages {
				c := sumCounts(&res.Stages[i])
				checkBalance(t, res.Stages[i].Name, c)
				all.Add(c)
			}
			// Every dropped reply is a timeout; a timeout whose reply came after all (late:
			// a slow machine, the race detector) was not dropped.
			if rep := srv.Report(); all.Timeouts < rep.Dropped.Replies || all.Timeouts-all.Late > rep.Dropped.Replies {
				t.Errorf("%d timeouts (%d of them late replies), but the broker dropped %d replies", all.Timeouts, all.Late, rep.Dropped.Replies)
			}

			idle := &res.Stages[0]
			if w, d := counts.between(idle.Start, idle.End); w != 0 || d != 0 {
				t.Errorf("idle stage: %d wakeups and %d receive deadlines set on 20 idle connections, want none", w, d)
			}

			closed := &res.Stages[1]
			c := sumCounts(closed)
			w, _ := counts.between(closed.Start, closed.End)
			t.Logf("closed stage: %+v; %d wakeups without a message", c, w)
			// One in flight per client, a fifth of replies lost, 50 ms timeouts: about 11
			// timeouts per client in 600 ms. A receiver that is not woken for a lost
			// reply leaves its client stuck after its first one (≤ 20 in all).
			if c.Timeouts < 100 {
				t.Errorf("closed stage: %d timeouts (%+v), want ≥ 100: timeouts are not found when due", c.Timeouts, c)
			}
			// Each request wakes its receiver at most once without a message (its timeout,
			// or the flush of the batch that holds its reply). A receiver that ticks every
			// timeout/10 would wake about 2,400 times here.
			if w > int64(c.Sent) {
				t.Errorf("closed stage: %d wakeups without a message for %d requests, want at most one each", w, c.Sent)
			}

			// The dropped clients sleep without a deadline when their stage begins: only
			// the retirement wakes them.
			fewer := &res.Stages[3]
			if n := counts.closedBefore(fewer.End); n != 15 {
				t.Errorf("%d connections closed before the last stage ended, want the 15 it dropped", n)
			}
		})
	}
}

// dealerCounts counts calls on the dealers of a run, with their times, so that a
// stage's share can be taken.
type dealerCounts struct {
	mu        sync.Mutex
	wakeups   []time.Time // Recv returned ErrTimeout
	deadlines []time.Time // SetRecvDeadline
	closes    []time.Time
}

// dial returns a dialFunc for the given transport whose dealers count into c.
func (c *dealerCounts) dial(kind transport.Kind) dialFunc {
	return func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error) {
		d, err := transport.Dial(ctx, kind, addr, opts)
		if err != nil {
			return nil, err
		}
		return &countingDealer{Dealer: d, c: c}, nil
	}
}

func (c *dealerCounts) add(list *[]time.Time) {
	now := time.Now()
	c.mu.Lock()
	*list = append(*list, now)
	c.mu.Unlock()
}

// between returns the wakeups and deadline calls between from and to.
func (c *dealerCounts) between(from, to time.Time) (wakeups, deadlines int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return countBetween(c.wakeups, from, to), countBetween(c.deadlines, from, to)
}

// closedBefore returns the number of dealers closed before t.
func (c *dealerCounts) closedBefore(t time.Time) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return countBetween(c.closes, time.Time{}, t)
}

// reset forgets every call.
func (c *dealerCounts) reset() {
	c.mu.Lock()
	c.wakeups, c.deadlines, c.closes = c.wakeups[:0], c.deadlines[:0], c.closes[:0]
	c.mu.Unlock()
}

func countBetween(ts []time.Time, from, to time.Time) (n int64) {
	for _, t := range ts {
		if !t.Before(from) && !t.After(to) {
			n++
		}
	}
	return n
}

// countingDealer counts a Dealer's wakeups without a message, deadline changes and
// Close.
type countingDealer struct {
	transport.Dealer
	c    *dealerCounts
	once sync.Once
}

func (d *countingDealer) Recv() ([][]byte, error) {
	m, err := d.Dealer.Recv()
	if errors.Is(err, transport.ErrTimeout) {
		d.c.add(&d.c.wakeups)
	}
	return m, err
}

func (d *countingDealer) SetRecvDeadline(t time.Time) error {
	d.c.add(&d.c.deadlines)
	return d.Dealer.SetRecvDeadline(t)
}

func (d *countingDealer) Close() error {
	d.once.Do(func() { d.c.add(&d.c.closes) })
	return d.Dealer.Close()
}
