package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// Run executes cfg.Plan against cfg.Addr and returns what it measured; the package
// documentation says how. It returns when the last stage ends and outstanding replies are
// drained, or soon after ctx ends, always with the results gathered so far.
//
// When ctx ends, sending stops, outstanding replies are awaited for up to
// cfg.InterruptDrain (by default min(cfg.Drain, 2 s); closing cfg.Abandon ends the wait
// at once) and the rest counted as Abandoned, and the Result is returned with Interrupted
// set and a nil error; Result.Stages then holds the stages that started. Run returns an
// error when the plan is invalid, when no client could connect at all, or when
// cfg.Intervals failed (in the last two cases with the Result too).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	kind := cfg.Transport
	return runWith(ctx, cfg, func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error) {
		return transport.Dial(ctx, kind, addr, opts)
	}, kind == transport.Native || kind == "")
}

// dialFunc connects one DEALER; tests replace transport.Dial with an in-memory peer.
type dialFunc func(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error)

// maxTick bounds engine.tick: how long a receiver whose connection is down waits between
// looks at its timeouts.
const maxTick = 100 * time.Millisecond

// engine is one Run.
type engine struct {
	cfg  Config
	plan *Plan
	dial dialFunc

	replies ReplyTiming // how the I/O loops timed replies (closeLoops)

	base  time.Time // every int64 time is ns since base (monotonic); Result.Start but with Config.StartAt
	sh    shardState
	nonce [nonceLen]byte
	tick  time.Duration // how long a receiver whose connection is down waits between looks

	pacer      *pacer  // the one timing thread: open-loop sends, closed-loop think times
	pacerBatch batcher // events of the sends the pacer makes; used on its thread only

	budget  *transport.RecvBudget // what every connection's incoming messages may hold
	loopsOK bool                  // the dial gives native DEALERs, which may run on I/O loops
	loops   []*ioLoop             // the I/O loops clients run on (loop.go); none: a receiver goroutine each

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

// run is Run with another dial (tests: in-memory peers, counting wrappers); its clients
// never run on I/O loops, since such a dial need not honour DialOptions.Handler.
func run(ctx context.Context, cfg Config, dial dialFunc) (*Result, error) {
	return runWith(ctx, cfg, dial, false)
}

// runWith runs cfg with dial; loopsOK says that dial gives native DEALERs, which may run
// on I/O loops (Config.IOLoops).
func runWith(ctx context.Context, cfg Config, dial dialFunc, loopsOK bool) (*Result, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	if err := checkStartAt(cfg.StartAt, time.Now()); err != nil {
		return nil, err
	}
	e := &engine{
		cfg:      cfg,
		plan:     &cfg.Plan,
		dial:     dial,
		loopsOK:  loopsOK,
		cmdIndex: make(map[protocol.Command]uint8),
		batches:  make(chan *batch, 4096),
		stopSend: make(chan struct{}),
	}
	e.nonce = newNonce()
	if e.cfg.MaxFrame <= 0 {
		e.cfg.MaxFrame = DefaultMaxFrame
	}
	if e.cfg.RecvBudget <= 0 {
		e.cfg.RecvBudget = transport.DefaultRecvBudget
	}
	e.budget = transport.NewRecvBudget(e.cfg.RecvBudget)
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
			if !slices.Contains(idx, i) {
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
		e.pacer.clk.interrupt() // it drops what is scheduled
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
	e.startClock(time.Now())
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

	clk, runPacer := newPacerClock(e.base)
	e.pacerBatch.out, e.pacerBatch.size = e.batches, sharedBatchSize
	e.pacer = newPacer(e.cfg.Pacer, clk, e.stopSend, func(until int64) {
		if until == math.MaxInt64 {
			e.pacerBatch.flush()
		} else {
			e.pacerBatch.flushIfOld(until)
		}
	})
	e.startLoops()
	e.pacer.start(runPacer)
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
	e.pacer.shutdown() // every sender is done
	res.Interrupted = ctx.Err() != nil
	e.noteConnectedAtEnd()

	res.Drain = e.drain(res.Interrupted)
	// The stall monitor stops before the clients do: their shutdown abandons what is
	// outstanding, and a look at the count after that would end a stall that lasted
	// until the end (a silent server) early.
	close(monStop)
	<-monDone

	// Close every connection; receivers count what is left as abandoned and exit.
	e.clientsMu.Lock()
	all := append([]*client(nil), e.all...)
	e.clientsMu.Unlock()
	for _, c := range all {
		c.shutdown()
	}
	e.recvWG.Wait()
	e.closeLoops()
	close(e.batches)
	close(closerStop)
	cum := <-closerDone
	recWG.Wait()
	res.End = time.Now()
	endNs := e.offset(res.End)
	res.Stalls = e.stalls.result(endNs)

	e.assemble(res, cum, stageTimes, stagesEnd)
	res.Connections = e.conn.stats(cl.disconnectsMax)
	res.Connections.RecvPeak, res.Connections.RecvBudget = e.budget.Peak(), e.budget.Limit()
	gc.sample()
	e.selfWatch(res, cpu0, gc)
	if e.sh.timed && len(stageTimes) > 0 && stageTimes[0].start == e.sh.startAt {
		res.Start = e.at(e.sh.startAt) // Config.StartAt
	}

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
	e.conn.stagesEnded(up, e.sh.shard.Clients(len(e.active)))
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

// validate fills Config defaults and checks the address and the plan (Plan.Validate).
// Errors say what is wrong and how to fix it.
func validate(cfg *Config) error {
	if cfg.Addr == "" {
		return errors.New("loadgen: no address: give the broker's signalling address, e.g. tcp://127.0.0.1:5557")
	}
	if cfg.Transport == "" {
		cfg.Transport = transport.Native
	}
	if cfg.StallThreshold <= 0 {
		cfg.StallThreshold = time.Second
	}
	if err := cfg.Plan.Validate(); err != nil {
		return err
	}
	return cfg.Shard.Validate(&cfg.Plan)
}
