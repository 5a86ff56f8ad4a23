package loadgen

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

// stageSpan is when a stage ran, in ns since the run's start: from start to end, with
// requests intended before sendEnd (the scheduled end of a stage bounded by duration,
// else the end).
type stageSpan struct{ start, end, sendEnd int64 }

// runStage runs stage s and returns when it ran. It returns an error only when the run
// cannot go on at all.
//
// New connections for the stage are dialled all at once (ConnectRate 0: the stage's clock
// starts when every dial has had its first attempt) or paced at ConnectRate from the
// stage's start. The first stage's clock starts at Config.StartAt when it is set, after
// those dials (a LateError when it has passed). A shard (Config.Shard) dials only its
// own positions, each when the whole run would dial it. With Config.Reconnect a failed
// dial is retried with backoff while the stage lasts, and a client that connects late
// joins the stage's schedule from then on.
// A stage bounded by duration ends at its time; one bounded by count ends when every
// first dial attempt is over and every client that joined has sent its share.
func (e *engine) runStage(ctx context.Context, s int) (span stageSpan, err error) {
	st := &e.plan.Stages[s]
	n := st.Clients

	// Close clients beyond this stage's number, once their requests are done.
	e.clientsMu.Lock()
	prev := min(len(e.active), n)
	var retired []*client
	for len(e.active) > n {
		last := len(e.active) - 1
		if c := e.active[last]; c != nil {
			retired = append(retired, c)
		}
		e.active = e.active[:last]
	}
	for len(e.active) < n {
		e.active = append(e.active, nil)
	}
	var missing []int // this shard's positions without a client
	for i, c := range e.active {
		if c == nil && e.sh.shard.Owns(i) {
			missing = append(missing, i)
		}
	}
	slots := e.dialSlots(missing, prev)
	e.clientsMu.Unlock()
	for _, c := range retired {
		c.retire()
	}

	works := e.prepare(s)
	stageCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stageEnd := int64(math.MaxInt64)
	sr := newStageRun(len(missing))
	wake := context.AfterFunc(stageCtx, sr.broadcast)
	defer wake()
	var connWG sync.WaitGroup
	join := func(c *client) {
		sr.start(c, s, func() bool { return e.now() < stageEnd }, func(finished func()) { c.runStage(&works[c.index], e.now(), finished) })
	}

	if st.ConnectRate == 0 && len(missing) > 0 {
		connWG.Add(1)
		go func() {
			defer connWG.Done()
			e.connectPaced(stageCtx, math.Inf(1), e.now(), slots, sr.firstDone, join)
		}()
		sr.waitFirst(e.stopSend)
		if s == 0 && e.connected.Load() == 0 && !e.cfg.Reconnect && !e.stopping.Load() {
			cancel()
			connWG.Wait()
			now := e.now()
			return stageSpan{now, now, now}, e.noConnectionError()
		}
	}
	start := e.now()
	if s == 0 && e.sh.timed {
		if start, err = e.awaitStart(); err != nil {
			cancel()
			connWG.Wait()
			return stageSpan{start, start, start}, err
		}
	}
	if s == 0 {
		e.warmStart.Store(start)
	}
	if st.Duration > 0 {
		stageEnd = start + int64(st.Duration)
	}
	for i := range works {
		works[i].start, works[i].end = start, stageEnd
	}
	e.curStage.Store(int32(s))
	e.stageInfo.Store(&stageInfo{name: st.Name, st: st, start: start})
	if e.cfg.OnStage != nil {
		e.cfg.OnStage(s, st.Name, e.at(start))
	}

	e.clientsMu.Lock()
	active := append([]*client(nil), e.active...)
	e.clientsMu.Unlock()
	sr.open(func() {
		for _, c := range active {
			if c != nil {
				sr.startLocked(c, s, func(finished func()) { c.runStage(&works[c.index], start, finished) })
			}
		}
	})
	if st.ConnectRate > 0 && len(missing) > 0 {
		connWG.Add(1)
		go func() {
			defer connWG.Done()
			e.connectPaced(stageCtx, st.ConnectRate, start, slots, sr.firstDone, join)
		}()
	}

	if st.Duration > 0 {
		t := time.NewTimer(time.Duration(stageEnd - e.now()))
		select {
		case <-t.C:
		case <-e.stopSend:
			t.Stop()
		}
		sr.close()
	} else {
		sr.waitCountDone(e.stopSend)
	}
	cancel() // stops dials still retrying
	connWG.Wait()
	sr.waitIdle()
	end := e.now()
	sendEnd := end
	if st.Duration > 0 {
		sendEnd = min(end, stageEnd)
		if !e.stopping.Load() {
			end = max(end, stageEnd)
		}
	}
	return stageSpan{start, end, sendEnd}, nil
}

// stageRun tracks a stage's senders and first dial attempts, so that the stage ends
// exactly once they are done and no sender starts after it closed.
type stageRun struct {
	mu           sync.Mutex
	cond         *sync.Cond
	running      int  // senders running
	firstPending int  // first dial attempts not yet over
	opened       bool // the stage's clock started: clients that connect now join at once
	closed       bool // the stage is over: no sender starts
}

func newStageRun(firstPending int) *stageRun {
	sr := &stageRun{firstPending: firstPending}
	sr.cond = sync.NewCond(&sr.mu)
	return sr
}

func (sr *stageRun) broadcast() {
	sr.mu.Lock()
	sr.cond.Broadcast()
	sr.mu.Unlock()
}

// firstDone records that one first dial attempt is over.
func (sr *stageRun) firstDone() {
	sr.mu.Lock()
	sr.firstPending--
	sr.cond.Broadcast()
	sr.mu.Unlock()
}

// open starts the stage's clock, calling startAll under the lock.
func (sr *stageRun) open(startAll func()) {
	sr.mu.Lock()
	sr.opened = true
	startAll()
	sr.mu.Unlock()
}

// start runs a client that connected during the stage, if the stage is open and not
// closed, the client has not started in it yet, and ok() holds.
func (sr *stageRun) start(c *client, s int, ok func() bool, run func(finished func())) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.opened && !sr.closed && ok() {
		sr.startLocked(c, s, run)
	}
}

// startLocked runs a client's part of stage s once, on a goroutine of its own: run calls
// finished, once, when the part is done, which may be after run returned (an open-loop
// part is the pacer's until then, with no goroutine waiting for it). Caller holds sr.mu.
func (sr *stageRun) startLocked(c *client, s int, run func(finished func())) {
	if c.stageStarted == s+1 {
		return
	}
	c.stageStarted = s + 1
	sr.running++
	finished := sync.OnceFunc(func() {
		sr.mu.Lock()
		sr.running--
		sr.cond.Broadcast()
		sr.mu.Unlock()
	})
	go run(finished)
}

// waitFirst waits until every first dial attempt is over or the run stops.
func (sr *stageRun) waitFirst(stop <-chan struct{}) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for sr.firstPending > 0 && !isClosed(stop) {
		sr.cond.Wait()
	}
}

// waitCountDone waits until every first dial attempt is over and no sender runs (or the
// run stops), then closes the stage.
func (sr *stageRun) waitCountDone(stop <-chan struct{}) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for (sr.firstPending > 0 || sr.running > 0) && !isClosed(stop) {
		sr.cond.Wait()
	}
	sr.closed = true
}

// close ends the stage: no sender starts after it.
func (sr *stageRun) close() {
	sr.mu.Lock()
	sr.closed = true
	sr.mu.Unlock()
}

// waitIdle waits until every sender has returned.
func (sr *stageRun) waitIdle() {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for sr.running > 0 {
		sr.cond.Wait()
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// work is one client's part of a stage.
type work struct {
	stage   int
	st      *Stage
	start   int64      // the stage's start, ns since the run's start
	end     int64      // the stage's end; math.MaxInt64 when bounded by count
	mix     []mixEntry // mix1 while the stage has one request
	mix1    [1]mixEntry
	total   float64 // sum of weights
	cmdRng  *rand.Rand
	arrSrc  rand.PCG // the Poisson gaps' source (copied into the arrivals)
	clients int
}

// mixEntry is one Request of a stage's mix, prepared for one client.
type mixEntry struct {
	cum            float64 // cumulative weight up to and including this entry
	cmd            uint8
	command        protocol.Command
	group, channel Namer
	stringNames    bool
	ttl            int64
	ack            bool
	timeout        int64 // ns
	fifo           *fifo
	props          []byte // the encoded properties when they never change (no names), else nil
}

// prepare builds every client's part of stage s: its mix (calling the name factories,
// from this one goroutine) and its random sources, seeded from Plan.Seed, the stage and
// the client, so a run's commands, names and Poisson gaps repeat with its seed. A shard
// prepares only its own clients, by their positions in the whole run; the others' parts
// stay empty.
func (e *engine) prepare(s int) []work {
	st := &e.plan.Stages[s]
	works := make([]work, st.Clients)
	seed := uint64(e.plan.Seed)
	// A request without names has the same properties every time: encoded once here,
	// shared by every client, rather than at each send.
	props := make([][]byte, len(st.Mix))
	for i := range st.Mix {
		if r := &st.Mix[i]; r.Group == nil && r.Channel == nil {
			enc := protocol.Encoder{StringNames: r.StringNames}
			props[i] = bytes.Clone(enc.Properties(&protocol.Properties{TTL: r.TTL, Ack: r.Ack}))
		}
	}
	for c := range works {
		if !e.sh.shard.Owns(c) {
			continue
		}
		w := &works[c]
		w.stage, w.st, w.clients = s, st, st.Clients
		w.mix = w.mix1[:0]
		stream := uint64(s)<<32 | uint64(c)
		w.cmdRng = rand.New(rand.NewPCG(seed, stream<<1))
		w.arrSrc = *rand.NewPCG(seed, stream<<1|1)
		for i := range st.Mix {
			r := &st.Mix[i]
			w.total += r.Weight
			m := mixEntry{
				cum:         w.total,
				cmd:         e.cmdIndex[r.Command],
				command:     r.Command,
				stringNames: r.StringNames,
				ttl:         r.TTL,
				ack:         r.Ack,
				timeout:     int64(e.timeoutOf(r)),
				props:       props[i],
			}
			if r.Group != nil {
				m.group = e.sh.shard.namer(r.Group(c))
			}
			if r.Channel != nil {
				m.channel = e.sh.shard.namer(r.Channel(c))
			}
			w.mix = append(w.mix, m)
		}
	}
	return works
}

// tooLate reports whether a sender at now is more than endSlack past the stage's end.
func (w *work) tooLate(now int64) bool {
	return w.end != math.MaxInt64 && now-w.end >= int64(endSlack)
}

// pick chooses a mix entry by weight.
func (w *work) pick() *mixEntry {
	if len(w.mix) == 1 {
		return &w.mix[0]
	}
	x := w.cmdRng.Float64() * w.total
	for i := range w.mix {
		if x < w.mix[i].cum {
			return &w.mix[i]
		}
	}
	return &w.mix[len(w.mix)-1]
}
