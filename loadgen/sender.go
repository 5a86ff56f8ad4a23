package loadgen

import (
	"container/heap"
	"math"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// sendResult says how a send went.
type sendResult int

const (
	sentAck sendResult = iota
	sentNoAck
	sendFailed
)

// send sends one request intended at the given time (ns since the run's start) and
// records it in bt: the client's own batch for its closed-loop sender, the pacer's for
// open-loop sends, which the pacer makes on its thread. With direct set and a transport
// that allows it, the request is written on this goroutine (transport.DirectSender).
func (c *client) send(w *work, intended int64, slot bool, bt *batcher, direct bool) sendResult {
	e := c.e
	m := w.pick()
	seq := c.nextSeq.Load()
	if seq > maxSeq {
		seq = 0 // 10¹² requests on one connection: wrap rather than fail
	}
	bucket := e.bucketOf(intended, w.stage)
	putID(&c.id, &e.nonce, seq, bucket, m.cmd)
	c.msg = protocol.Message{ID: c.id[:], Command: m.command, RawProperties: m.props}
	if m.props == nil {
		p := &c.msg.Properties
		if m.group != nil {
			p.GroupName = m.group.Next()
		}
		if m.channel != nil {
			p.ChannelName = m.channel.Next()
		}
		p.TTL = m.ttl
		p.Ack = m.ack
		c.enc.StringNames = m.stringNames
	}
	frames := c.enc.Encode(&c.msg)

	now := e.now()
	if m.ack {
		c.mu.Lock()
		deadline := now + m.timeout
		c.out.put(seq, pending{intended: intended, sent: now, deadline: deadline, stage: int32(w.stage), bucket: bucket, cmd: m.cmd, slot: slot})
		m.fifo.push(fifoEntry{seq: seq, deadline: deadline})
		if c.outstanding.Add(1) == 1 {
			c.busySince.Store(now)
		}
		c.nextSeq.Store(seq + 1)
		if deadline < c.armed {
			// The receiver sleeps past this deadline (or without one): wake it in time.
			c.armLocked(deadline)
		}
		c.mu.Unlock()
	} else {
		c.nextSeq.Store(seq + 1)
	}
	var err error
	if ds, ok := c.d.(transport.DirectSender); ok && direct {
		err = ds.SendDirect(frames)
	} else {
		err = c.d.Send(frames)
	}
	if err != nil {
		if m.ack {
			c.mu.Lock()
			if _, ok := c.out.take(seq); ok {
				c.outstanding.Add(-1)
			}
			c.mu.Unlock()
		}
		bt.add(event{at: now, bucket: bucket, cmd: m.cmd, kind: evSendErr}, now)
		return sendFailed
	}
	kind, res := evSent, sentAck
	if !m.ack {
		kind, res = evSentNoAck, sentNoAck
	}
	bt.add(event{at: now, v1: (now - intended) / 1e3, bucket: bucket, cmd: m.cmd, kind: kind}, now)
	return res
}

// wait sleeps until t (ns since the run's start), or until the run stops sending, or
// until wake (may be nil) has something. It reports whether the run is still sending.
// Before sleeping it hands the sender's batch on if it would get too old. A precise wait
// (a request's intended time) is timed by the run's pacer; others by Go's timers, which
// may wake up to a millisecond late.
func (c *client) wait(t int64, wake <-chan struct{}, precise bool) bool {
	e := c.e
	now := e.now()
	if t <= now {
		return !e.stopping.Load()
	}
	limit := t
	if c.sb.b != nil {
		c.sb.flushIfOld(t)
	}
	c.sendWake.Store(t)
	if precise {
		return c.waitPaced(t, wake)
	}
	d := time.Duration(limit - now)
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-c.timer.C:
	case <-wake:
		c.timer.Stop()
	case <-e.stopSend:
		c.timer.Stop()
		return false
	}
	return !e.stopping.Load()
}

// waitPaced waits for the pacer to reach t, for wake or for the run to stop sending.
func (c *client) waitPaced(t int64, wake <-chan struct{}) bool {
	e := c.e
	select {
	case <-c.paced: // a wake-up left from an earlier wait that ended otherwise
	default:
	}
	e.pacer.add(&timed{due: t, f: fireFunc(func(int64) (int64, bool) {
		select {
		case c.paced <- struct{}{}:
		default:
		}
		return 0, false
	})})
	select {
	case <-c.paced:
	case <-wake:
	case <-e.stopSend:
		return false
	}
	return !e.stopping.Load()
}

// runStage runs this client's part of a stage, joining it at join (ns since the run's
// start, at or after the stage's start), and calls finished when the part is done, the
// stage ends or the run stops sending: for a closed loop before it returns, for an open
// loop from the pacer, later.
func (c *client) runStage(w *work, join int64, finished func()) {
	c.sendWake.Store(0)
	done := func() {
		c.sb.flush()
		c.sendWake.Store(math.MaxInt64) // nothing is sent until another stage starts
		finished()
	}
	c.mu.Lock()
	for i := range w.mix {
		w.mix[i].fifo = c.fifoFor(w.mix[i].timeout)
	}
	c.rel = c.rel[:0]
	c.mu.Unlock()
	if w.st.Open != nil {
		c.runOpen(w, join, done)
		return
	}
	c.runClosed(w, join)
	done()
}

// endSlack is how far past a stage's end a sender still sends requests intended before
// the end: a sender that was descheduled for a while (a busy machine) sends its backlog,
// which is honest since latency counts from the intended time; one further behind stops,
// and the rest count as missed in the achieved ratio, so a hopeless sender does not go
// on for long after its stage.
const endSlack = 500 * time.Millisecond

// runOpen hands this client's open-loop schedule to the run's pacer, which sends each
// request at its intended time on its own thread, and calls done once the schedule is
// over: the stage's end, the client's share of a stage bounded by count, or the run
// stopping. Nothing waits for it meanwhile: an idle client is in no goroutine.
// A pacer that is behind sends at once, without sleeping: latency is measured from the
// intended time, so catching up is honest, and the send delay shows how far behind it was.
func (c *client) runOpen(w *work, join int64, done func()) {
	st := w.st
	o := &openSender{c: c, w: w}
	o.arr.init(st.Open, st.Duration, st.Requests, w.clients, c.index, &w.arrSrc)
	o.arr.skipTo(time.Duration(join - w.start))
	first, ok := o.next()
	if !ok {
		done()
		return
	}
	o.due, o.f, o.cancel = first, o, done // unfired requests were never scheduled
	c.sendWake.Store(first)
	c.e.pacer.add(&o.timed)
}

// openSender is a client's open-loop schedule: the pacer's entry, the arrivals and their
// random source in one allocation, so that firing it reads a few adjacent cache lines
// (each line a send reads cold costs 0.1–0.4 µs on this VM).
type openSender struct {
	timed // its cancel ends the client's part of the stage
	c     *client
	w     *work
	arr   arrivals
}

// next returns the next intended send time (ns since the run's start) and whether it is
// before the stage's end.
func (o *openSender) next() (int64, bool) {
	off, ok := o.arr.next()
	if !ok {
		return 0, false
	}
	it := o.w.start + int64(off)
	return it, it < o.w.end
}

// fire sends the request due now and returns the next one's intended time.
func (o *openSender) fire(now int64) (int64, bool) {
	c, w, e := o.c, o.w, o.c.e
	e.scheduled.Add(1)
	if w.tooLate(now) {
		// Far behind at the end of the stage: what was due and not sent is missed.
		e.scheduled.Add(o.arr.remaining(time.Duration(w.end - w.start)))
		o.cancel()
		return 0, false
	}
	// A send the transport refuses (no connection) still kept the schedule: the
	// generator was on time, the server was not there. It counts as sent here, for
	// the achieved ratio, and as a send error in the results.
	// Written on the pacer's thread unless more sends fall due right away, which the
	// connections' writers then batch. On an I/O loop only this client's own next
	// send counts: a queued send costs a wake-up of the loop, worth it only when
	// several for one connection can share its write.
	it, ok := o.next()
	direct := !e.pacer.dense(now)
	if c.onLoop {
		direct = !ok || it-now >= int64(denseGap)
	}
	c.send(w, o.due, false, &e.pacerBatch, direct)
	e.openSent.Add(1)
	if !ok {
		o.cancel()
		return 0, false
	}
	c.sendWake.Store(it)
	return it, true
}

// sendErrorBackoff is how long a closed-loop slot waits after the transport refused a
// request (think time, if longer, applies instead), so a lost connection does not turn
// the sender into a busy loop of send errors.
const sendErrorBackoff = 10 * time.Millisecond

// runClosed keeps InFlight requests outstanding: each reply or timeout frees a slot, and
// the slot's next request is intended at that moment plus the think time.
func (c *client) runClosed(w *work, join int64) {
	e := c.e
	cl := w.st.Closed
	think := int64(cl.Think)
	limit := int64(-1)
	if w.st.Requests > 0 {
		limit = share(w.st.Requests, w.clients, c.index)
	}
	ready := make(slotHeap, 0, cl.InFlight)
	for range cl.InFlight {
		ready = append(ready, join)
	}
	var sent int64
	for limit < 0 || sent < limit {
		c.takeReleases(w.stage, think, &ready)
		if len(ready) == 0 {
			// Every slot is waiting for a reply.
			t := w.end
			if c.sb.b != nil {
				t = min(t, e.now()+int64(maxBatchAge)/2)
			}
			if !c.wait(t, c.relNote, false) {
				return
			}
			if e.now() >= w.end {
				return
			}
			continue
		}
		it := ready[0]
		if it >= w.end {
			return
		}
		if !c.wait(it, c.relNote, true) {
			return
		}
		now := e.now()
		if w.tooLate(now) {
			return
		}
		if now < it {
			continue // woken by a release: look again for the earliest slot
		}
		heap.Pop(&ready)
		switch c.send(w, it, true, &c.sb, false) {
		case sentAck:
			sent++
		case sentNoAck:
			sent++
			heap.Push(&ready, now+think) // no reply will come to free it
		case sendFailed:
			heap.Push(&ready, now+max(think, int64(sendErrorBackoff)))
		}
	}
}

// slotHeap is a min-heap of the times closed-loop slots may send next.
type slotHeap []int64

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *slotHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// release frees a closed-loop slot of a stage at a time (ns since the run's start).
type release struct {
	stage int32
	at    int64
}

// takeReleases moves the slots freed for stage into ready, at release + think.
func (c *client) takeReleases(stage int, think int64, ready *slotHeap) {
	c.mu.Lock()
	for _, r := range c.rel {
		if int(r.stage) == stage {
			heap.Push(ready, r.at+think)
		}
	}
	c.rel = c.rel[:0]
	c.mu.Unlock()
}

// freeSlot records a closed-loop slot release. Caller holds c.mu.
func (c *client) freeSlot(p *pending, at int64) {
	if !p.slot {
		return
	}
	c.rel = append(c.rel, release{stage: p.stage, at: at})
	select {
	case c.relNote <- struct{}{}:
	default:
	}
}
