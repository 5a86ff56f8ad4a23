package loadgen

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// Run executes cfg.Plan against cfg.Addr and returns what it measured. It returns when the
// last stage ends and outstanding replies are drained, or soon after ctx ends, always with
// the results gathered so far.
//
// # Stages and clients
//
// Clients are DEALER connections that persist across stages; a stage with more clients
// connects the missing ones, one with fewer closes the extra ones once their outstanding
// requests are answered or time out. New clients connect at Stage.ConnectRate, each
// joining the stage's schedule when it is connected; with ConnectRate 0 they connect all
// at once (at most 128 dials in flight) and the stage's clock starts when every dial's
// first attempt is over. A client whose dial fails is counted in ConnectFailed and
// dialled again at the next stage; with Config.Reconnect it is also retried within the
// stage, with backoff, and joins late, and the transport reconnects lost connections.
//
// # Schedules
//
// Open loop: the stage's rate is split evenly across its clients; client c of C sends
// the stage's requests n ≡ c (mod C), the n-th due when the integrated rate reaches n + ½,
// so the clients together are as even as one sender at the full rate. RampTo makes the
// rate linear in time; Poisson makes the gaps exponential. A sender sleeps until each
// intended time and, when behind, sends at once without sleeping; requests intended
// before a stage's end are still sent up to 500 ms after it, the rest count as missed.
// Go's timers on Linux wake with about a millisecond's granularity (the runtime's poller
// waits in whole milliseconds), so a sleeping sender typically sends 0–1 ms after the
// intended time: that send delay is recorded and is part of the corrected latency, as
// with wrk2, whose timers have the same granularity. A stage bounded by count splits
// Requests across its clients. Closed loop: each client keeps InFlight
// requests outstanding; a reply or timeout frees a slot whose next request is intended at
// that moment plus Think. A request without ack frees its slot when sent; one the
// transport refuses frees it after 10 ms (or Think, if longer).
//
// # Replies
//
// Replies are matched by id within their client (the id layout is described in
// client.go). The expected command (COMPLETE for GROUPADD, GROUPDIS, FLUSHXXX and
// PRINTXXX; HARTBEAT for HARTBEAT; PERFRPRT for PERFMNCE) is OK, EXCEPTON is an
// exception, any other command is Unexpected: the 0.2.1 server echoes PERFMNCE unchanged,
// which is not a report. A frame that is not a signalling message is Undecodable; an id
// this client never issued is Unmatched; a reply after its request's deadline is a
// timeout and Late (for the last 1,024 timeouts of each client), one to a request
// already answered a Duplicate. A command that appears more than once in a mix has one
// CommandResult, in the order of its first appearance.
// Nothing is kept per request after its reply or timeout. Every matched reply, whatever
// its command, is recorded in the latency histograms; a timeout is recorded in the
// corrected histogram at its deadline exactly. Each receiver sets its receive deadline to
// the earliest deadline of its outstanding requests, so a timeout is found as it falls
// due (while a connection is down, at least every 100 ms); an idle connection, with
// nothing outstanding, has no deadline and costs no wakeups.
//
// # Recording and intervals
//
// See record.go: receivers batch events to GOMAXPROCS recorder goroutines, which own the
// histograms; one-second intervals, by the time of the reply (or send, or deadline), are
// closed one second after they end, merged and handed to cfg.Intervals. Requests whose
// intended time is within Plan.Warmup of the first stage's start are recorded in
// Result.Warmup and nowhere else but the intervals.
//
// # Stalls, self-watch, ending
//
// A stall is a time of at least cfg.StallThreshold with requests outstanding and no
// message received; see stall.go. The generator watches its own CPU, the CPU it waited
// for (other processes), GC pauses, send delay and achieved rate, and marks the result
// generator-bound when they show it could not hold the schedule; see selfwatch.go. When
// ctx ends, sending stops, outstanding replies are awaited for up to cfg.InterruptDrain
// (by default min(cfg.Drain, 2 s); closing cfg.Abandon ends the wait at once) and the rest
// counted as Abandoned, and the Result is returned with Interrupted set and a nil error; Result.Stages then holds the
// stages that started. Run returns an error when the plan is invalid, when no client
// could connect at all, or when cfg.Intervals failed (in the last two cases with the
// Result too).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	kind := cfg.Transport
	return run(ctx, cfg, func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error) {
		return transport.Dial(ctx, kind, addr, opts)
	})
}

// dialFunc connects one DEALER; tests replace transport.Dial with an in-memory peer.
type dialFunc func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error)

// Limits of the engine.
const (
	maxDialsInFlight = 128
	maxTick          = 100 * time.Millisecond
	reconnectMin     = 100 * time.Millisecond
	reconnectMax     = 5 * time.Second
)

// engine is one Run.
type engine struct {
	cfg  Config
	plan *Plan
	dial dialFunc

	base  time.Time // Result.Start; every int64 time is ns since base (monotonic)
	nonce [8]byte
	tick  time.Duration // how long a receiver whose connection is down waits between looks

	cmds      []protocol.Command // the command table: distinct commands, first appearance first
	cmdIndex  map[protocol.Command]uint8
	stageCmds [][]uint8 // per stage: its distinct command indexes in mix order

	batches  chan *batch
	stopSend chan struct{} // closed when sending must stop (interrupt)
	stopOnce sync.Once
	stopping atomic.Bool

	warmStart atomic.Int64 // the first stage's start; warm-up counts from it
	curStage  atomic.Int32
	stageInfo atomic.Pointer[stageInfo]

	lastReply atomic.Int64 // ns of the latest received message (1 ms granularity)
	stalls    *stallMonitor

	clientsMu sync.Mutex
	active    []*client // by position in the current stage; nil where not connected
	all       []*client // every client ever connected
	recvWG    sync.WaitGroup

	conn      connTracker
	connected atomic.Int64

	scheduled atomic.Int64 // open-loop requests the schedules asked for
	openSent  atomic.Int64 // of which sent on time or attempted (a refused send counts)
}

// stageInfo is what Progress reports about the running stage.
type stageInfo struct {
	name  string
	st    *Stage
	start int64
}

func run(ctx context.Context, cfg Config, dial dialFunc) (*Result, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	e := &engine{
		cfg:      cfg,
		plan:     &cfg.Plan,
		dial:     dial,
		cmdIndex: make(map[protocol.Command]uint8),
		batches:  make(chan *batch, 4096),
		stopSend: make(chan struct{}),
	}
	if _, err := crand.Read(e.nonce[:]); err != nil {
		binaryPutTime(e.nonce[:])
	}
	minTimeout := time.Duration(math.MaxInt64)
	for s := range e.plan.Stages {
		st := &e.plan.Stages[s]
		var idx []uint8
		for _, r := range st.Mix {
			i, ok := e.cmdIndex[r.Command]
			if !ok {
				i = uint8(len(e.cmds))
				e.cmdIndex[r.Command] = i
				e.cmds = append(e.cmds, r.Command)
			}
			if !containsU8(idx, i) {
				idx = append(idx, i)
			}
			if r.Ack {
				minTimeout = min(minTimeout, e.timeoutOf(&r))
			}
		}
		e.stageCmds = append(e.stageCmds, idx)
	}
	e.tick = max(time.Millisecond, min(maxTick, minTimeout/10))
	return e.run(ctx)
}

func containsU8(s []uint8, v uint8) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// binaryPutTime fills b from the clock, should crypto/rand ever fail.
func binaryPutTime(b []byte) {
	n := uint64(time.Now().UnixNano())
	for i := range b {
		b[i] = byte(n >> (8 * (i % 8)))
	}
}

func (e *engine) timeoutOf(r *Request) time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return e.plan.Timeout
}

// now returns ns since the run's start, from the monotonic clock.
func (e *engine) now() int64 { return int64(time.Since(e.base)) }

// at converts ns since the run's start to a time.
func (e *engine) at(ns int64) time.Time { return e.base.Add(time.Duration(ns)) }

// offset converts a time to ns since the run's start.
func (e *engine) offset(t time.Time) int64 {
	if t.IsZero() {
		return e.now()
	}
	return int64(t.Sub(e.base))
}

// bucketOf is where a request of stage intended at the given time is recorded.
func (e *engine) bucketOf(intended int64, stage int) uint16 {
	if w := e.plan.Warmup; w > 0 && intended-e.warmStart.Load() < int64(w) {
		return 0
	}
	return uint16(stage + 1)
}

// bucketNow is where a reply that matches no request, received now, is counted.
func (e *engine) bucketNow(now int64) uint16 {
	return e.bucketOf(now, int(e.curStage.Load()))
}

// parseID reads a reply's id: it must be this run's and name a bucket and command of
// the run.
func (e *engine) parseID(id []byte) (seq uint64, bucket uint16, cmd uint8, ok bool) {
	if len(id) != idLen || string(id[:8]) != string(e.nonce[:]) {
		return 0, 0, 0, false
	}
	v := uint64(id[8])<<56 | uint64(id[9])<<48 | uint64(id[10])<<40 | uint64(id[11])<<32 |
		uint64(id[12])<<24 | uint64(id[13])<<16 | uint64(id[14])<<8 | uint64(id[15])
	seq, bucket, cmd = v>>24, uint16(v>>8), uint8(v)
	if int(bucket) > len(e.plan.Stages) || int(cmd) >= len(e.cmds) {
		return 0, 0, 0, false
	}
	return seq, bucket, cmd, true
}

// sawReply notes that a message arrived, for stall detection. Stores are skipped within
// a millisecond of the last one so that receivers do not fight over the cache line.
func (e *engine) sawReply(now int64) {
	prev := e.lastReply.Load()
	if now-prev < int64(time.Millisecond) {
		return
	}
	if e.lastReply.CompareAndSwap(prev, now) {
		e.stalls.gapEnded(prev, now)
	}
}

// stop makes every sender stop; it is called on interrupt.
func (e *engine) stop() {
	e.stopOnce.Do(func() {
		e.stopping.Store(true)
		close(e.stopSend)
	})
}

// outstanding sums the requests awaiting a reply across clients.
func (e *engine) outstanding() int64 {
	n, _ := e.busy()
	return n
}

// busy returns the requests awaiting a reply across clients and the earliest time since
// which a client has had requests outstanding without a break (-1 when none has).
func (e *engine) busy() (n, since int64) {
	e.clientsMu.Lock()
	defer e.clientsMu.Unlock()
	since = -1
	for _, c := range e.all {
		if o := c.outstanding.Load(); o > 0 {
			n += o
			if b := c.busySince.Load(); since < 0 || b < since {
				since = b
			}
		}
	}
	return n, since
}

func (e *engine) run(ctx context.Context) (*Result, error) {
	e.base = time.Now()
	res := &Result{Start: e.base}
	cpu0 := newCPUWatch()
	gc := newGCWatch()
	e.stalls = newStallMonitor(e)
	e.warmStart.Store(math.MaxInt64 / 2)

	nrec := max(1, runtime.GOMAXPROCS(0))
	recs := make([]*recorder, nrec)
	var recWG sync.WaitGroup
	for i := range recs {
		recs[i] = newRecorder(e.batches, len(e.plan.Stages)+1, len(e.cmds))
		recWG.Add(1)
		go func() { defer recWG.Done(); recs[i].run() }()
	}
	cl := newCloser(e, recs, gc)
	closerDone := make(chan []bucketRec, 1)
	closerStop := make(chan struct{})
	go func() { closerDone <- cl.run(closerStop) }()
	monStop := make(chan struct{})
	monDone := make(chan struct{})
	go func() { defer close(monDone); e.stalls.run(monStop) }()

	stopAfter := context.AfterFunc(ctx, e.stop)
	defer stopAfter()

	var stageTimes []stageSpan
	var fatal error
	for s := range e.plan.Stages {
		if e.stopping.Load() {
			break
		}
		span, err := e.runStage(ctx, s)
		stageTimes = append(stageTimes, span)
		if err != nil {
			fatal = err
			break
		}
	}
	stagesEnd := e.now()
	res.Interrupted = ctx.Err() != nil
	e.noteConnectedAtEnd()

	res.Drain = e.drain(res.Interrupted)

	// Close every connection; receivers count what is left as abandoned and exit.
	e.clientsMu.Lock()
	all := append([]*client(nil), e.all...)
	e.clientsMu.Unlock()
	for _, c := range all {
		c.shutdown()
	}
	e.recvWG.Wait()
	close(e.batches)
	close(closerStop)
	cum := <-closerDone
	recWG.Wait()
	res.End = time.Now()
	endNs := e.offset(res.End)
	close(monStop)
	<-monDone
	res.Stalls = e.stalls.result(endNs)

	e.assemble(res, cum, stageTimes, stagesEnd)
	res.Connections = e.conn.stats(cl.disconnectsMax)
	gc.sample()
	e.selfWatch(res, cpu0, gc)

	if fatal != nil {
		return res, fatal
	}
	if res.Connections.Connected == 0 && !res.Interrupted {
		return res, e.noConnectionError()
	}
	if cl.sinkErr != nil {
		return res, &SinkError{At: cl.sinkErrAt, Err: cl.sinkErr}
	}
	return res, nil
}

// drain waits for outstanding replies, for a bounded time: Config.Drain (by default the
// longest request timeout) after the last stage, Config.InterruptDrain after an
// interrupt; Config.Abandon ends it at once.
func (e *engine) drain(interrupted bool) DrainStats {
	limit := e.cfg.Drain
	if limit <= 0 {
		limit = e.longestTimeout() + 2*e.tick
	}
	if interrupted {
		if e.cfg.InterruptDrain > 0 {
			limit = e.cfg.InterruptDrain
		} else {
			limit = min(limit, DefaultInterruptDrain)
		}
	}
	d := DrainStats{Limit: limit, Outstanding: e.outstanding()}
	start := e.now()
	deadline := start + int64(limit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for e.outstanding() > 0 && e.now() < deadline {
		select {
		case <-tick.C:
		case <-e.cfg.Abandon:
			d.Cut = true
			d.Waited = time.Duration(e.now() - start)
			return d
		}
	}
	d.Waited = time.Duration(e.now() - start)
	return d
}

// SinkError is returned by Run, with a complete Result, when Config.Intervals failed:
// the run went on, but the intervals from At on were not delivered.
type SinkError struct {
	At  time.Time // the start of the first interval that failed
	Err error
}

func (e *SinkError) Error() string {
	return fmt.Sprintf("loadgen: the interval sink failed, so the interval log stops at %s (the run went on and the Result is complete): %v", e.At.Format(time.RFC3339), e.Err)
}

func (e *SinkError) Unwrap() error { return e.Err }

// noteConnectedAtEnd records how many of the last stage's clients have a connection now.
func (e *engine) noteConnectedAtEnd() {
	e.clientsMu.Lock()
	defer e.clientsMu.Unlock()
	up := 0
	for _, c := range e.active {
		if c != nil && c.isConn.Load() {
			up++
		}
	}
	e.conn.stagesEnded(up, len(e.active))
}

func (e *engine) noConnectionError() error {
	return fmt.Errorf("loadgen: no client could connect to %s (%d attempts failed; last error: %v): check that the broker is running and that the address is its signalling port",
		e.cfg.Addr, e.conn.failed.Load(), e.conn.lastErr())
}

// longestTimeout is the longest request timeout of the plan.
func (e *engine) longestTimeout() time.Duration {
	var t time.Duration
	for s := range e.plan.Stages {
		for i := range e.plan.Stages[s].Mix {
			if r := &e.plan.Stages[s].Mix[i]; r.Ack {
				t = max(t, e.timeoutOf(r))
			}
		}
	}
	return t
}

// stageSpan is when a stage ran, in ns since the run's start: from start to end, with
// requests intended before sendEnd (the scheduled end of a stage bounded by duration,
// else the end).
type stageSpan struct{ start, end, sendEnd int64 }

// runStage runs stage s and returns when it ran. It returns an error only when the run
// cannot go on at all.
//
// New connections for the stage are dialled all at once (ConnectRate 0: the stage's clock
// starts when every dial has had its first attempt) or paced at ConnectRate from the
// stage's start. With Config.Reconnect a failed dial is retried with backoff while the
// stage lasts, and a client that connects late joins the stage's schedule from then on.
// A stage bounded by duration ends at its time; one bounded by count ends when every
// first dial attempt is over and every client that joined has sent its share.
func (e *engine) runStage(ctx context.Context, s int) (span stageSpan, err error) {
	st := &e.plan.Stages[s]
	n := st.Clients

	// Close clients beyond this stage's number, once their requests are done.
	e.clientsMu.Lock()
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
	var missing []int
	for i, c := range e.active {
		if c == nil {
			missing = append(missing, i)
		}
	}
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
		sr.start(c, s, func() bool { return e.now() < stageEnd }, func() { c.runStage(&works[c.index], e.now()) })
	}

	if st.ConnectRate == 0 && len(missing) > 0 {
		connWG.Add(1)
		go func() {
			defer connWG.Done()
			e.connectPaced(stageCtx, math.Inf(1), e.now(), missing, sr.firstDone, join)
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
				sr.startLocked(c, s, func() { c.runStage(&works[c.index], start) })
			}
		}
	})
	if st.ConnectRate > 0 && len(missing) > 0 {
		connWG.Add(1)
		go func() {
			defer connWG.Done()
			e.connectPaced(stageCtx, st.ConnectRate, start, missing, sr.firstDone, join)
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
func (sr *stageRun) start(c *client, s int, ok func() bool, run func()) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.opened && !sr.closed && ok() {
		sr.startLocked(c, s, run)
	}
}

// startLocked runs a client's part of stage s once. Caller holds sr.mu.
func (sr *stageRun) startLocked(c *client, s int, run func()) {
	if c.stageStarted == s+1 {
		return
	}
	c.stageStarted = s + 1
	sr.running++
	go func() {
		defer func() {
			sr.mu.Lock()
			sr.running--
			sr.cond.Broadcast()
			sr.mu.Unlock()
		}()
		run()
	}()
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

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// prepare builds every client's part of stage s: its mix (calling the name factories,
// from this one goroutine) and its random sources, seeded from Plan.Seed, the stage and
// the client, so a run's commands, names and Poisson gaps repeat with its seed.
func (e *engine) prepare(s int) []work {
	st := &e.plan.Stages[s]
	works := make([]work, st.Clients)
	seed := uint64(e.plan.Seed)
	for c := range works {
		w := &works[c]
		w.stage, w.st, w.clients = s, st, st.Clients
		stream := uint64(s)<<32 | uint64(c)
		w.cmdRng = rand.New(rand.NewPCG(seed, stream<<1))
		w.arrRng = rand.New(rand.NewPCG(seed, stream<<1|1))
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
			}
			if r.Group != nil {
				m.group = r.Group(c)
			}
			if r.Channel != nil {
				m.channel = r.Channel(c)
			}
			w.mix = append(w.mix, m)
		}
	}
	return works
}

// connectPaced starts the dial for the i-th position at start + i/rate, with at most
// maxDialsInFlight dials at a time; an infinite rate dials them all at once. first is
// called once per position when its first attempt is over; joined for each client that
// connects. It returns when every dial (with Config.Reconnect, every retry) has ended.
func (e *engine) connectPaced(ctx context.Context, rate float64, start int64, positions []int, first func(), joined func(*client)) {
	sem := make(chan struct{}, maxDialsInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for i, p := range positions {
		at := start + int64(float64(i)/rate*float64(time.Second))
		ready := true
		if d := at - e.now(); d > 0 {
			t.Reset(time.Duration(d))
			select {
			case <-t.C:
			case <-ctx.Done():
				ready = false
			}
		}
		if ready {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ready = false
			}
		}
		if !ready {
			for range positions[i:] {
				first()
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.connect(ctx, p, func() { <-sem; first() }, joined)
		}()
	}
}

// connect dials the client at position p, registers it and starts its receiver. first is
// called once, when the first attempt is over; joined is called with the client once it
// is connected. A failed dial is counted (unless ctx ended) and, with Config.Reconnect,
// retried with backoff until ctx ends.
func (e *engine) connect(ctx context.Context, p int, first func(), joined func(*client)) {
	firstOnce := sync.OnceFunc(first)
	defer firstOnce()
	backoff := reconnectMin
	for {
		c := newClient(e, p)
		t0 := time.Now()
		d, err := e.dial(ctx, e.cfg.Addr, transport.DialOptions{OnEvent: c.onEvent, Reconnect: e.cfg.Reconnect})
		if err == nil {
			e.conn.connected(time.Since(t0))
			c.d = d
			c.dialed.Store(true)
			c.isConn.Store(true)
			e.connected.Add(1)
			e.clientsMu.Lock()
			stale := p >= len(e.active) || e.active[p] != nil || e.stopping.Load()
			if !stale {
				e.active[p] = c
			}
			e.all = append(e.all, c)
			e.recvWG.Add(1)
			e.clientsMu.Unlock()
			go c.receive()
			firstOnce()
			if stale {
				c.retire()
				return
			}
			joined(c)
			return
		}
		if ctx.Err() != nil {
			return
		}
		e.conn.fail(err)
		firstOnce()
		if !e.cfg.Reconnect {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, reconnectMax)
	}
}

// assemble builds the stage results from the merged cumulative figures.
//
// Each stage's Measured window leaves out the warm-up where it overlaps the stage, so
// that its rates divide its counts by the time they cover.
func (e *engine) assemble(res *Result, cum []bucketRec, times []stageSpan, stagesEnd int64) {
	warmEnd := int64(math.MinInt64)
	if len(times) > 0 && e.plan.Warmup > 0 {
		warmEnd = times[0].start + int64(e.plan.Warmup)
	}
	result := func(name string, b int, order []uint8, start, end, sendEnd int64) StageResult {
		mStart := min(max(start, warmEnd), sendEnd)
		if b == 0 {
			mStart = start
		}
		sr := StageResult{Name: name, Start: e.at(start), End: e.at(end), Measured: Window{e.at(mStart), e.at(sendEnd)}}
		if b < len(cum) {
			sr.Undecodable, sr.Unmatched = cum[b].undecodable, cum[b].unmatched
		}
		for _, i := range order {
			cr := &CommandResult{Command: e.cmds[i]}
			var r *recorded
			if b < len(cum) && cum[b].cmds != nil {
				r = cum[b].cmds[i]
			}
			if r != nil {
				cr.Counts, cr.Corrected, cr.Uncorrected, cr.SendDelay = r.counts, r.corrected, r.uncorrected, r.sendDelay
			} else {
				cr.Corrected, cr.Uncorrected, cr.SendDelay = NewHistogram(), NewHistogram(), NewHistogram()
			}
			sr.Commands = append(sr.Commands, cr)
		}
		return sr
	}
	for s, t := range times {
		res.Stages = append(res.Stages, result(e.plan.Stages[s].Name, s+1, e.stageCmds[s], t.start, t.end, t.sendEnd))
	}
	if e.plan.Warmup > 0 && len(times) > 0 {
		var order []uint8
		for i := range e.cmds {
			if cum[0].cmds != nil && cum[0].cmds[i] != nil {
				order = append(order, uint8(i))
			}
		}
		ws := times[0].start
		we := min(warmEnd, stagesEnd)
		wr := result("warm-up", 0, order, ws, we, we)
		res.Warmup = &wr
	}
}

// mergedOver merges one histogram of every command of every stage (not the warm-up).
func mergedOver(res *Result, pick func(*CommandResult) *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	h := NewHistogram()
	for _, s := range res.Stages {
		for _, c := range s.Commands {
			h.Merge(pick(c))
		}
	}
	return h
}

// validate checks the plan and fills Config defaults. Errors say what is wrong and how
// to fix it.
func validate(cfg *Config) error {
	p := &cfg.Plan
	bad := func(format string, args ...any) error {
		return fmt.Errorf("loadgen: plan %q: "+format, append([]any{p.Name}, args...)...)
	}
	if cfg.Addr == "" {
		return errors.New("loadgen: no address: give the broker's signalling address, e.g. tcp://127.0.0.1:5557")
	}
	if cfg.Transport == "" {
		cfg.Transport = transport.Native
	}
	if cfg.StallThreshold <= 0 {
		cfg.StallThreshold = time.Second
	}
	if len(p.Stages) == 0 {
		return bad("no stages: give at least one")
	}
	if len(p.Stages) > maxStage {
		return bad("%d stages: at most %d are supported", len(p.Stages), maxStage)
	}
	if p.Warmup < 0 {
		return bad("warm-up %v is negative", p.Warmup)
	}
	cmds := map[protocol.Command]bool{}
	for s := range p.Stages {
		st := &p.Stages[s]
		where := fmt.Sprintf("stage %d (%q)", s, st.Name)
		if (st.Duration > 0) == (st.Requests > 0) {
			return bad("%s: set exactly one of duration and requests (got %v and %d)", where, st.Duration, st.Requests)
		}
		if st.Duration < 0 || st.Requests < 0 {
			return bad("%s: duration and requests must not be negative", where)
		}
		if (st.Open != nil) == (st.Closed != nil) {
			return bad("%s: set exactly one of an open loop (rate) and a closed loop (in flight)", where)
		}
		if st.Clients < 1 {
			return bad("%s: %d clients: give at least 1", where, st.Clients)
		}
		if st.ConnectRate < 0 || math.IsNaN(st.ConnectRate) || math.IsInf(st.ConnectRate, 0) {
			return bad("%s: connect rate %v: give a number ≥ 0 (0 connects all at once)", where, st.ConnectRate)
		}
		if o := st.Open; o != nil {
			if !(o.Rate >= 0) || !(o.RampTo >= 0) || math.IsInf(o.Rate, 0) || math.IsInf(o.RampTo, 0) {
				return bad("%s: rate %v ramping to %v: rates must be finite and ≥ 0", where, o.Rate, o.RampTo)
			}
			if st.Requests > 0 && o.Rate <= 0 {
				return bad("%s: a stage bounded by %d requests needs a rate > 0", where, st.Requests)
			}
			if st.Requests > 0 && o.RampTo > 0 {
				return bad("%s: a rate ramp needs a duration, not a request count", where)
			}
		}
		if c := st.Closed; c != nil {
			if c.InFlight < 1 {
				return bad("%s: %d in flight: give at least 1", where, c.InFlight)
			}
			if c.Think < 0 {
				return bad("%s: think time %v is negative", where, c.Think)
			}
		}
		if len(st.Mix) == 0 {
			return bad("%s: empty command mix: give at least one request", where)
		}
		for i := range st.Mix {
			r := &st.Mix[i]
			if r.Command == "" {
				return bad("%s: request %d has no command", where, i)
			}
			if !(r.Weight > 0) || math.IsInf(r.Weight, 0) {
				return bad("%s: request %d (%s): weight %v: give a finite weight > 0", where, i, r.Command, r.Weight)
			}
			if r.Ack {
				t := r.Timeout
				if t <= 0 {
					t = p.Timeout
				}
				if t <= 0 {
					return bad("%s: request %d (%s) waits for a reply but has no timeout: set the plan's timeout", where, i, r.Command)
				}
				if t > MaxLatency {
					return bad("%s: request %d (%s): timeout %v is above the histograms' limit of %v", where, i, r.Command, t, MaxLatency)
				}
			}
			cmds[r.Command] = true
		}
	}
	if len(cmds) > maxCmds {
		return bad("%d distinct commands: at most %d are supported", len(cmds), maxCmds)
	}
	return nil
}
