package loadgen

import (
	"fmt"
	"time"
)

// Shard is one share of a sharded run: N processes, usually on N machines, that together
// run one Plan against one server (dmbench run --shard i/N, joined by dmbench merge).
//
// The Plan stays the whole scenario. Shard i of N runs the client positions p of every
// stage with p mod N == i, and each of them exactly as it runs in an unsharded run: client
// c of a stage's C keeps its index c, so it sends the open-loop requests n ≡ c (mod C) at
// the same intended times, takes share(Requests, C, c) of a stage bounded by count, gets
// its names from the mix's factories called with c (Request.Group(c), Request.Channel(c))
// and its random streams (command choice, Poisson gaps) from Plan.Seed, the stage and c.
// The union of the N shards' requests is therefore the unsharded run's, request for
// request; only their timing differs by how far apart the shards' clocks are (see
// Config.StartAt). A stage's ConnectRate is split the same way: each position is dialled
// when the unsharded run would dial it, so each shard connects at about ConnectRate/N.
//
// Name sources whose state is shared between clients (a sequential count without the
// client in the name) are shared within one process only: each shard counts from the
// start, so the shards together use fewer distinct names than the unsharded run.
//
// Request ids cannot collide across shards: every Run draws a random 8-byte nonce that
// leads every id it sends (ids.go), so two shards' ids differ unless their nonces are
// equal, a chance of 2⁻⁶⁴ per pair of shards. Replies are matched per connection anyway.
//
// The zero Shard (Count 0) runs the whole plan, as does Shard{0, 1}.
type Shard struct {
	Index int // 0-based, below Count
	Count int // the run's shards, N
}

// String returns "i/N", as the --shard flag takes it (the index counts from 0).
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// count is the shard count with the zero Shard as one shard.
func (s Shard) count() int { return max(s.Count, 1) }

// namer strides a shared count of names across the shards (ShardedNamer).
func (s Shard) namer(n Namer) Namer {
	if sn, ok := n.(ShardedNamer); ok && s.count() > 1 {
		sn.Shard(s.Index, s.Count)
	}
	return n
}

// Owns reports whether the shard runs the client at position p (0-based) of a stage.
func (s Shard) Owns(p int) bool { return p%s.count() == s.Index }

// Clients returns how many of a stage's clients clients the shard runs: the positions
// p < clients with p mod Count == Index.
func (s Shard) Clients(clients int) int {
	n := s.count()
	if clients <= s.Index {
		return 0
	}
	return (clients - s.Index + n - 1) / n
}

// Validate checks the shard against the plan it is to run a share of: Count is 1 or more
// (or the zero Shard), Index is 0 to Count−1, and every stage has at least Count
// clients, so that no shard is left without a client in a stage.
func (s Shard) Validate(p *Plan) error {
	if s == (Shard{}) {
		return nil
	}
	if s.Count < 1 {
		return fmt.Errorf("loadgen: shard %s: the shard count is %d; give 1 or more shards", s, s.Count)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("loadgen: shard %s: the index %d is out of range; of %d shards the indexes are 0 to %d", s, s.Index, s.Count, s.Count-1)
	}
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.Clients < s.Count {
			return fmt.Errorf("loadgen: %d shards: stage %d (%q) has %d clients, fewer than the shards, so some shards would run none of it; use at most %d shards, or more clients",
				s.Count, i, st.Name, st.Clients, st.Clients)
		}
	}
	return nil
}

// startLead is how long before Config.StartAt the first stage's clock is set going: its
// clock starts at StartAt exactly, and every request is timed from it by the pacer, so
// waking a little early costs nothing while waking late on Go's timers would delay the
// first sends.
const startLead = 2 * time.Millisecond

// shardState is what an engine keeps of Config.Shard and Config.StartAt.
type shardState struct {
	shard   Shard
	timed   bool  // Config.StartAt is set
	startAt int64 // Config.StartAt in ns since the run's start, when timed
}

// startClock sets the run's base time from now and, with Config.StartAt, the offset of
// StartAt from it. The base is then StartAt less a whole number of seconds, so that the
// one-second intervals of every shard started at the same StartAt share one grid.
func (e *engine) startClock(now time.Time) {
	e.sh.shard = e.cfg.Shard
	e.base = now
	if e.cfg.StartAt.IsZero() {
		return
	}
	e.sh.timed = true
	d := e.cfg.StartAt.Sub(now) // by the wall clock: StartAt has no monotonic reading
	if d <= 0 {
		e.sh.startAt = int64(d) // already late: the first stage refuses to start
		return
	}
	whole := (d + time.Second - 1) / time.Second * time.Second
	e.base = now.Add(d - whole) // monotonic, StartAt − whole by the wall clock
	e.sh.startAt = int64(whole)
}

// awaitStart waits, before the first stage's clock starts, for Config.StartAt. It
// returns the stage's start (StartAt, ns since the run's start), or the time now when
// the run stopped meanwhile, or a LateError when StartAt had passed already.
func (e *engine) awaitStart() (int64, error) {
	now := e.now()
	if now > e.sh.startAt {
		return now, &LateError{StartAt: e.cfg.StartAt, Late: time.Duration(now - e.sh.startAt)}
	}
	if d := time.Duration(e.sh.startAt-now) - startLead; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-e.stopSend:
			t.Stop()
			return e.now(), nil
		}
	}
	return e.sh.startAt, nil
}

// checkStartAt refuses a StartAt that has passed before Run began, before connecting.
func checkStartAt(startAt, now time.Time) error {
	if startAt.IsZero() || now.Before(startAt) {
		return nil
	}
	return &LateError{StartAt: startAt, Late: now.Sub(startAt), BeforeConnecting: true}
}

// LateError is Run's error when Config.StartAt had passed when the first stage was to
// start: its clients were connected too late (or Run began too late) to start together
// with the other shards, so the run did not start. Run returns it with no requests sent.
type LateError struct {
	StartAt          time.Time
	Late             time.Duration // how long after StartAt
	BeforeConnecting bool          // it had passed already when Run began
}

// Error says by how much StartAt had passed, and what to do.
func (e *LateError) Error() string {
	when := "when the first stage's clients were connected"
	if e.BeforeConnecting {
		when = "before connecting began"
	}
	return fmt.Sprintf("loadgen: the start instant %s had passed by %v %s, so the run did not start (it would not line up with the other shards'); start every shard again with a start instant further ahead",
		e.StartAt.UTC().Format(time.RFC3339Nano), e.Late.Round(time.Millisecond), when)
}

// dialSlot is a position to dial in a stage and its place in the unsharded run's dial
// order, which sets when it is dialled at the stage's ConnectRate.
type dialSlot struct{ pos, seq int }

// dialSlots orders this shard's missing positions (ascending) as the unsharded run
// would dial them: its dial order is every missing position of the stage, which are the
// positions new in the stage (at or above prev, the clients of the stage before) and
// those whose earlier dial failed. Another shard's failures are not known here, so
// another shard's position below prev counts as connected.
func (e *engine) dialSlots(missing []int, prev int) []dialSlot {
	slots := make([]dialSlot, len(missing))
	seq, j := 0, 0
	for q := 0; j < len(missing); q++ {
		switch {
		case missing[j] == q:
			slots[j] = dialSlot{pos: q, seq: seq}
			j++
			seq++
		case q >= prev: // another shard's new position
			seq++
		}
	}
	return slots
}
