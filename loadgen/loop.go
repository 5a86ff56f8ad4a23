package loadgen

import (
	"runtime"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// ioLoop is one transport.Loop and what the clients on it share: the batch their replies'
// and timeouts' events go to (handed to the recorders by age, from the Loop's
// AfterEvents, instead of one small batch per client), and the scratch message replies
// are decoded into. Both are used on the Loop's goroutine only.
//
// A client on a Loop has no receiver goroutine: the Loop calls its handler with each
// reply (handle, then tendLoop), when its receive deadline passes (tendLoop: timeouts
// and a retiring client's close), and once when it is closed (finish). Its open-loop
// sends are made by the pacer (sender.go), so an idle client is in no goroutine at all.
type ioLoop struct {
	e   *engine
	l   *transport.Loop
	rb  batcher
	msg protocol.Message
}

// startLoops starts the run's I/O loops as Config.IOLoops says. Where the transport has
// no Loops (not Linux) the clients run without them.
func (e *engine) startLoops() {
	n := e.cfg.IOLoops
	if !e.loopsOK || n < 0 {
		return
	}
	manual := false
	if n == 0 {
		for i := range e.plan.Stages {
			if e.plan.Stages[i].Open == nil {
				return // a closed loop's sender goroutine batches its own writes
			}
		}
		// One loop, served by the pacer's thread between sends: a reply then wakes the
		// thread that sleeps anyway, or none when the next send is near (kernel receive
		// times), and no goroutine.
		n, manual = 1, true
		if _, ok := e.pacer.clk.(ioClock); !ok {
			n, manual = runtime.GOMAXPROCS(0), false
		}
	}
	for range n {
		il := &ioLoop{e: e}
		il.rb.out, il.rb.size = e.batches, sharedBatchSize
		l, err := transport.NewLoop(transport.LoopOptions{AfterEvents: il.afterEvents, Manual: manual, RecvTimestamps: true})
		if err != nil {
			e.closeLoops()
			return
		}
		il.l = l
		e.loops = append(e.loops, il)
	}
	if manual && !e.pacer.withIO(e.loops[0].l, e.base, e.cfg.PacerKeepsP, !e.cfg.NoIOUring) {
		e.loops[0].l.Start()
	}
}

// closeLoops stops the I/O loops once every client on them is closed, and hands their
// last events on; it keeps how their replies were timed.
func (e *engine) closeLoops() {
	if len(e.loops) == 0 {
		return
	}
	rt := ReplyTiming{IOLoops: len(e.loops), PacerIO: e.pacer.io != nil, IOUring: e.pacer.ioRing.Load()}
	var waitSum time.Duration
	for _, il := range e.loops {
		_ = il.l.Close()
		il.rb.flush()
		st := il.l.ReadStats()
		rt.Kernel += st.Stamped
		rt.Read += st.Unstamped
		waitSum += st.WaitSum
		rt.KernelWaitMax = max(rt.KernelWaitMax, st.WaitMax)
	}
	if rt.Kernel > 0 {
		rt.KernelWaitMean = waitSum / time.Duration(rt.Kernel)
	}
	e.replies = rt
	e.loops = nil
}

// loopFor returns the I/O loop of the client at position p, or nil without loops.
func (e *engine) loopFor(p int) *ioLoop {
	if len(e.loops) == 0 {
		return nil
	}
	return e.loops[p%len(e.loops)]
}

// afterEvents hands the loop's batch on once its oldest event is maxBatchAge old, and
// asks to be called again by then.
func (il *ioLoop) afterEvents(time.Time) time.Time {
	bt := &il.rb
	if bt.b != nil && il.e.now()-bt.first >= int64(maxBatchAge) {
		bt.flush()
	}
	if bt.b == nil {
		return time.Time{}
	}
	return il.e.at(bt.first + int64(maxBatchAge))
}

// loopHandler is a client's transport.Handler on an I/O loop.
type loopHandler struct {
	c  *client
	il *ioLoop
}

// Message matches and records a reply as of its arrival, then looks at the client's
// deadlines.
func (h loopHandler) Message(frames [][]byte, at time.Time) {
	c := h.c
	arrived := c.e.offset(at)
	c.e.sawReply(arrived)
	c.handle(frames, arrived, &h.il.msg)
	if c.dialed.Load() {
		c.tendLoop(c.e.now())
	}
}

// Wake times out what is due and closes a retiring client.
func (h loopHandler) Wake() {
	if h.c.dialed.Load() {
		h.c.tendLoop(h.c.e.now())
	}
}

// Closed ends the client's receiving: what is left is abandoned.
func (h loopHandler) Closed() {
	c := h.c
	c.finish(c.e.now())
	c.e.recvWG.Done()
}

// tendLoop is tend for a client on an I/O loop: it times out the requests whose deadline
// has passed, keeps the receive deadline at or before the earliest one left, and closes a
// retiring client with nothing outstanding. The loop's batch is handed on by the loop
// (afterEvents). A deadline still ahead is left where it is when the requests' are later
// (a reply ended the earliest): each move is an entry in the loop's timer heap, while a
// deadline left early costs one look at the client when it passes. A keepalive client at
// 1/s with a 5 s timeout so moves it about once in five requests, not twice in each.
func (c *client) tendLoop(now int64) {
	c.expire(now)
	due := int64(noDeadline)
	c.mu.Lock()
	for _, f := range c.fifos {
		if !f.empty() {
			due = min(due, f.front().deadline)
		}
	}
	if due < c.armed || c.armed <= now && c.armed != due {
		c.armLocked(due)
	}
	c.mu.Unlock()
	if c.retiring.Load() && c.outstanding.Load() == 0 {
		c.shutdown()
	}
}
