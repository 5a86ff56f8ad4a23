package loadgen

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// Request ids.
//
// An id is 16 bytes, the size of the UUID the real DMB client sends:
//
//	bytes 0–7    the run's nonce (random per Run)
//	bytes 8–12   the request's sequence number within its client (40 bits, big-endian)
//	bytes 13–14  the bucket the request is recorded in: 0 warm-up, s+1 stage s
//	byte  15     the index of its command in the run's command table
//
// A reply is matched by sequence in its client's table of outstanding requests; the
// bucket and command in the id let a reply that matches nothing outstanding (late or
// duplicate) still be counted against the right command without keeping anything per
// answered request.
const (
	idLen    = 16
	maxSeq   = 1<<40 - 1
	maxStage = math.MaxUint16 - 1
	maxCmds  = math.MaxUint8 + 1
)

// pending is an outstanding request.
type pending struct {
	intended, sent int64 // ns since the run's start
	deadline       int64
	stage          int32 // for closed-loop slot releases
	bucket         uint16
	cmd            uint8
	slot           bool // a closed-loop request: its end frees a slot
}

// fifoEntry is a request's place in its timeout queue.
type fifoEntry struct {
	seq      uint64
	deadline int64 // ns since the run's start
}

// fifo is the queue of outstanding requests with one timeout value, in send order, so
// deadlines are in order too and expiry looks only at the front.
type fifo struct {
	timeout int64
	q       []fifoEntry
	head    int
}

func (f *fifo) push(e fifoEntry) { f.q = append(f.q, e) }
func (f *fifo) empty() bool      { return f.head == len(f.q) }
func (f *fifo) front() fifoEntry { return f.q[f.head] }

func (f *fifo) pop() {
	f.head++
	switch {
	case f.head == len(f.q):
		f.q, f.head = f.q[:0], 0
	case f.head >= 1024 && f.head*2 >= len(f.q):
		n := copy(f.q, f.q[f.head:])
		f.q, f.head = f.q[:n], 0
	}
}

// timedOutRing remembers the most recent timed-out sequence numbers of a client, so that
// a reply arriving after its timeout is told apart from a duplicate. It is looked at only
// for replies that match nothing outstanding.
type timedOutRing struct {
	seqs [1024]uint64 // seq+1; 0 is empty
	next int
}

// addTimedOut remembers that seq timed out. Caller holds c.mu.
func (c *client) addTimedOut(seq uint64) {
	if c.timedOut == nil {
		c.timedOut = new(timedOutRing)
	}
	r := c.timedOut
	r.seqs[r.next] = seq + 1
	r.next = (r.next + 1) % len(r.seqs)
}

// has reports whether seq is among the remembered timeouts; a nil ring holds none.
func (r *timedOutRing) has(seq uint64) bool {
	if r == nil {
		return false
	}
	for _, s := range r.seqs {
		if s == seq+1 {
			return true
		}
	}
	return false
}

// release frees a closed-loop slot of a stage at a time (ns since the run's start).
type release struct {
	stage int32
	at    int64
}

// client is one DEALER connection with its sender and receiver.
type client struct {
	e     *engine
	index int
	d     transport.Dealer

	done     chan struct{} // closed by shutdown
	shutOnce sync.Once
	dialed   atomic.Bool // Dial returned: events after this are the connection's own
	closing  atomic.Bool // we are closing it: its events are not counted
	isConn   atomic.Bool // connected now, for the Connected gauge
	retiring atomic.Bool // a stage dropped this client: close once nothing is outstanding

	stageStarted int // s+1 once the client's part of stage s started (under the stage's lock)

	mu          sync.Mutex
	out         map[uint64]pending
	fifos       []*fifo
	timedOut    *timedOutRing // allocated at the first timeout (8 KiB: most clients never need it)
	rel         []release
	relNote     chan struct{} // capacity 1: "rel has entries"
	outstanding atomic.Int64
	busySince   atomic.Int64  // when outstanding last rose from 0 (ns), for stall starts
	nextSeq     atomic.Uint64 // sequence numbers issued so far
	// armed is the receive deadline set on the connection (ns since the run's start;
	// noDeadline when none), under mu. The receiver keeps it at or before the earliest
	// time it must wake (see receive); the sender brings it forward when it sends a
	// request whose deadline is earlier, so an idle receiver sleeps without a timer.
	armed int64

	// sendWake is when the sender will next wake (ns since the run's start): the time it
	// sleeps until, math.MaxInt64 when it has no stage to send in, or 0 when not known.
	// The receiver reads it to flush its batch at once when no reply can join it.
	sendWake atomic.Int64

	// Sender state: one sender goroutine at a time (stages run one after another).
	enc   protocol.Encoder
	id    [idLen]byte
	msg   protocol.Message
	sb    batcher
	timer *time.Timer

	// Receiver state.
	rb      batcher
	expired []event
	// rArmed is armed as the receiver last set it. The sender and retire only bring
	// armed forward, so armed ≤ rArmed: the receiver can tell from its own copy, without
	// the lock, that a reply leaves it nothing to do (quiet).
	rArmed int64
}

func newClient(e *engine, index int) *client {
	c := &client{
		e:       e,
		index:   index,
		done:    make(chan struct{}),
		out:     make(map[uint64]pending),
		relNote: make(chan struct{}, 1),
		armed:   noDeadline,
		rArmed:  noDeadline,
	}
	copy(c.id[:8], e.nonce[:])
	c.sb.out = e.batches
	c.rb.out = e.batches
	return c
}

// onEvent is the transport's connection-event callback. It must not block.
func (c *client) onEvent(ev transport.Event) {
	if c.closing.Load() {
		return
	}
	e := c.e
	switch ev.Kind {
	case transport.Disconnected:
		e.conn.disconnect(e.offset(ev.Time), ev.Err)
		if c.isConn.CompareAndSwap(true, false) {
			e.connected.Add(-1)
		}
	case transport.Connected:
		if !c.dialed.Load() {
			return // the first connection is counted when Dial returns
		}
		e.conn.connects.Add(1)
		if c.isConn.CompareAndSwap(false, true) {
			e.connected.Add(1)
		}
	case transport.ConnectFailed:
		if !c.dialed.Load() {
			return // Dial's own error counts it
		}
		e.conn.fail(ev.Err)
	}
}

// shutdown closes the connection once; the receiver then sees ErrClosed.
func (c *client) shutdown() {
	c.shutOnce.Do(func() {
		c.closing.Store(true)
		close(c.done)
		if c.isConn.CompareAndSwap(true, false) {
			c.e.connected.Add(-1)
		}
		if c.d != nil {
			_ = c.d.Close()
		}
	})
}

// fifoFor returns the timeout queue for timeout ns, creating it. Caller holds c.mu.
func (c *client) fifoFor(timeout int64) *fifo {
	for _, f := range c.fifos {
		if f.timeout == timeout {
			return f
		}
	}
	f := &fifo{timeout: timeout}
	c.fifos = append(c.fifos, f)
	return f
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
}

// work is one client's part of a stage.
type work struct {
	stage   int
	st      *Stage
	start   int64 // the stage's start, ns since the run's start
	end     int64 // the stage's end; math.MaxInt64 when bounded by count
	mix     []mixEntry
	total   float64 // sum of weights
	cmdRng  *rand.Rand
	arrRng  *rand.Rand
	clients int
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

// sendResult says how a send went.
type sendResult int

const (
	sentAck sendResult = iota
	sentNoAck
	sendFailed
)

// send sends one request intended at the given time (ns since the run's start).
func (c *client) send(w *work, intended int64, slot bool) sendResult {
	e := c.e
	m := w.pick()
	seq := c.nextSeq.Load()
	if seq > maxSeq {
		seq = 0 // 10¹² requests on one connection: wrap rather than fail
	}
	bucket := e.bucketOf(intended, w.stage)
	binary.BigEndian.PutUint64(c.id[8:16], seq<<24|uint64(bucket)<<8|uint64(m.cmd))
	c.msg = protocol.Message{ID: c.id[:], Command: m.command}
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
	frames := c.enc.Encode(&c.msg)

	now := e.now()
	if m.ack {
		c.mu.Lock()
		deadline := now + m.timeout
		c.out[seq] = pending{intended: intended, sent: now, deadline: deadline, stage: int32(w.stage), bucket: bucket, cmd: m.cmd, slot: slot}
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
	if err := c.d.Send(frames); err != nil {
		if m.ack {
			c.mu.Lock()
			if _, ok := c.out[seq]; ok {
				delete(c.out, seq)
				c.outstanding.Add(-1)
			}
			c.mu.Unlock()
		}
		c.sb.add(event{at: now, bucket: bucket, cmd: m.cmd, kind: evSendErr}, now)
		return sendFailed
	}
	kind, res := evSent, sentAck
	if !m.ack {
		kind, res = evSentNoAck, sentNoAck
	}
	c.sb.add(event{at: now, v1: (now - intended) / 1e3, bucket: bucket, cmd: m.cmd, kind: kind}, now)
	return res
}

// wait sleeps until t (ns since the run's start), or until the run stops sending, or
// until wake (may be nil) has something. It reports whether the run is still sending.
// Before sleeping it hands the sender's batch on if it would get too old.
func (c *client) wait(t int64, wake <-chan struct{}) bool {
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

// runStage runs this client's part of a stage, joining it at join (ns since the run's
// start, at or after the stage's start), and returns when the part is done, the stage
// ends or the run stops sending.
func (c *client) runStage(w *work, join int64) {
	c.sendWake.Store(0)
	defer func() {
		c.sb.flush()
		c.sendWake.Store(math.MaxInt64) // nothing is sent until another stage starts
	}()
	c.mu.Lock()
	for i := range w.mix {
		w.mix[i].fifo = c.fifoFor(w.mix[i].timeout)
	}
	c.rel = c.rel[:0]
	c.mu.Unlock()
	if w.st.Open != nil {
		c.runOpen(w, join)
	} else {
		c.runClosed(w, join)
	}
}

// endSlack is how far past a stage's end a sender still sends requests intended before
// the end: a sender that was descheduled for a while (a busy machine) sends its backlog,
// which is honest since latency counts from the intended time; one further behind stops,
// and the rest count as missed in the achieved ratio, so a hopeless sender does not go
// on for long after its stage.
const endSlack = 500 * time.Millisecond

// runOpen sends at the open-loop schedule's intended times. A sender that is behind sends
// at once, without sleeping: latency is measured from the intended time, so catching up
// is honest, and the send delay shows how far behind it was.
func (c *client) runOpen(w *work, join int64) {
	e := c.e
	st := w.st
	arr := newArrivals(st.Open, st.Duration, st.Requests, w.clients, c.index, w.arrRng)
	arr.skipTo(time.Duration(join - w.start))
	var scheduled, sent int64
	defer func() {
		e.scheduled.Add(scheduled)
		e.openSent.Add(sent)
	}()
	for {
		off, ok := arr.next()
		if !ok {
			return
		}
		it := w.start + int64(off)
		if it >= w.end {
			return
		}
		scheduled++
		if !c.wait(it, nil) {
			// Stopped by an interrupt: requests not yet due were never scheduled.
			if e.now() < it {
				scheduled--
			}
			return
		}
		if now := e.now(); w.tooLate(now) {
			// Far behind at the end of the stage: what was due and not sent is missed.
			scheduled += arr.remaining(time.Duration(w.end - w.start))
			return
		}
		// A send the transport refuses (no connection) still kept the schedule: the
		// generator was on time, the server was not there. It counts as sent here, for
		// the achieved ratio, and as a send error in the results.
		c.send(w, it, false)
		sent++
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
			if !c.wait(t, c.relNote) {
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
		if !c.wait(it, c.relNote) {
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
		switch c.send(w, it, true) {
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

// noDeadline is client.armed when no receive deadline is set.
const noDeadline = math.MaxInt64

// receive reads replies until the connection is closed.
//
// A receiver sleeps in Recv until a message comes or its receive deadline passes, and
// sets that deadline to the earliest time it has work: the earliest deadline of its
// outstanding requests (so a timeout is found when it falls due, and recorded at its
// deadline exactly) and the time its batch of events must go to the recorders
// (maxBatchAge after its oldest event). With nothing outstanding and an empty batch it
// sets no deadline at all: an idle connection costs no timer and no wakeup. The sender
// moves the deadline forward when it sends a request due earlier (send), and retire
// moves it to now; Close ends the Recv.
func (c *client) receive() {
	e := c.e
	defer e.recvWG.Done()
	var msg protocol.Message
	var idle *time.Timer
	for {
		frames, err := c.d.Recv()
		now := e.now()
		switch {
		case err == nil:
			e.sawReply(now)
			c.handle(frames, now, &msg)
			if c.quiet(now) {
				continue
			}
		case errors.Is(err, transport.ErrClosed):
			c.finish(now)
			return
		case errors.Is(err, transport.ErrTimeout):
		default:
			// Disconnected (or another transport error): requests stay outstanding until
			// they time out. Wait a tick rather than spin.
			if idle == nil {
				idle = time.NewTimer(e.tick)
			} else {
				idle.Reset(e.tick)
			}
			select {
			case <-idle.C:
			case <-c.done:
				idle.Stop()
			}
			now = e.now()
		}
		if c.tend(now) {
			return
		}
	}
}

// tend is the receiver's work after each wake: it times out the requests whose deadline
// has passed, hands its batch on when it is old (or when nothing can join it before it
// would be), sets the receive deadline for the next wake, and closes a retiring client
// with nothing outstanding. It reports whether the receiver is done.
func (c *client) tend(now int64) bool {
	e := c.e
	c.expire(now)
	if bt := &c.rb; bt.b != nil {
		flushAt := bt.first + int64(maxBatchAge)
		// With nothing outstanding, no reply can come before the sender's next request:
		// if that is not before the batch would go anyway, send it now rather than wake
		// for it later.
		if now >= flushAt || c.outstanding.Load() == 0 && c.sendWake.Load() >= flushAt {
			bt.flush()
		}
	}
	due := int64(noDeadline)
	if c.rb.b != nil {
		due = c.rb.first + int64(maxBatchAge)
	}
	c.mu.Lock()
	for _, f := range c.fifos {
		if !f.empty() {
			due = min(due, f.front().deadline)
		}
	}
	// A deadline already passed, or later than needed, is replaced; an earlier one than
	// needed (a request answered since) is kept: one spurious wake is cheaper than
	// moving the deadline on every reply.
	if c.armed <= now || c.armed > due {
		c.armLocked(due)
	}
	c.rArmed = c.armed
	c.mu.Unlock()
	if c.retiring.Load() && c.outstanding.Load() == 0 {
		c.shutdown()
		c.finish(e.now())
		return true
	}
	return false
}

// quiet reports whether, after a message at now, tend has nothing to do: no deadline
// has passed (none is due before the armed one), the armed deadline is not later than
// the batch's flush, the batch need not go early, and the client is not retiring. It
// takes no lock, so that a busy receiver pays for tend only about once per maxBatchAge.
func (c *client) quiet(now int64) bool {
	if now >= c.rArmed || c.retiring.Load() {
		return false
	}
	bt := &c.rb
	if bt.b == nil {
		return true
	}
	flushAt := bt.first + int64(maxBatchAge)
	return c.rArmed <= flushAt && (c.outstanding.Load() != 0 || c.sendWake.Load() < flushAt)
}

// armLocked sets the connection's receive deadline to t (ns since the run's start, or
// noDeadline for none). Caller holds c.mu. The transports allow it while Recv waits.
func (c *client) armLocked(t int64) {
	c.armed = t
	var at time.Time
	if t != noDeadline {
		at = c.e.at(t)
	}
	_ = c.d.SetRecvDeadline(at) // fails only once closed, when Recv returns ErrClosed
}

// retire closes the client once nothing is outstanding: a stage dropped it. It wakes the
// receiver, which closes the connection at once or after its last reply or timeout.
func (c *client) retire() {
	c.retiring.Store(true)
	c.mu.Lock()
	c.armLocked(c.e.now())
	c.mu.Unlock()
}

// handle matches and classifies one received message.
func (c *client) handle(frames [][]byte, now int64, msg *protocol.Message) {
	e := c.e
	if err := protocol.DecodeHeader(frames, msg); err != nil {
		c.rb.add(event{at: now, bucket: e.bucketNow(now), kind: evUndecodable}, now)
		return
	}
	seq, bucket, cmd, ok := e.parseID(msg.ID)
	if !ok {
		c.rb.add(event{at: now, bucket: e.bucketNow(now), kind: evUnmatched}, now)
		return
	}
	c.mu.Lock()
	p, found := c.out[seq]
	var late, issued, expired bool
	if found {
		delete(c.out, seq)
		c.outstanding.Add(-1)
		// A reply after the deadline that the expiry check has not reached yet is a
		// timeout all the same, so the outcome does not depend on when the check runs.
		expired = now > p.deadline
		if expired {
			c.addTimedOut(seq)
			c.freeSlot(&p, p.deadline)
		} else {
			c.freeSlot(&p, now)
		}
	} else {
		late = c.timedOut.has(seq)
		issued = seq < c.nextSeq.Load()
	}
	c.mu.Unlock()
	switch {
	case expired:
		c.rb.add(event{at: p.deadline, v1: (p.deadline - p.intended) / 1e3, bucket: p.bucket, cmd: p.cmd, kind: evTimeout}, now)
		c.rb.add(event{at: now, bucket: p.bucket, cmd: p.cmd, kind: evLate}, now)
	case found:
		kind := classify(e.cmds[p.cmd], msg.Command)
		c.rb.add(event{at: now, v1: (now - p.intended) / 1e3, v2: (now - p.sent) / 1e3, bucket: p.bucket, cmd: p.cmd, kind: kind}, now)
	case late:
		c.rb.add(event{at: now, bucket: bucket, cmd: cmd, kind: evLate}, now)
	case issued:
		c.rb.add(event{at: now, bucket: bucket, cmd: cmd, kind: evDuplicate}, now)
	default:
		c.rb.add(event{at: now, bucket: e.bucketNow(now), kind: evUnmatched}, now)
	}
}

// expected returns the reply command that means success for a request command, or ""
// for a command that has none (one a client does not send).
func expected(req protocol.Command) protocol.Command {
	switch req {
	case protocol.GroupAdd, protocol.GroupDiscard, protocol.Flush, protocol.Print:
		return protocol.Complete
	case protocol.Heartbeat:
		return protocol.Heartbeat
	case protocol.Performance:
		return protocol.PerformanceReport
	}
	return ""
}

// classify sorts a reply to a request: the expected command is OK, EXCEPTON an
// exception, anything else (the 0.2.1 server echoes a request it could not handle)
// unexpected.
func classify(req, reply protocol.Command) evKind {
	switch {
	case reply == protocol.Exception:
		return evException
	case reply != "" && reply == expected(req):
		return evOK
	}
	return evUnexpected
}

// expire times out every request whose deadline has passed. Each is recorded in the
// corrected histogram at its deadline, exactly, however late the check runs.
func (c *client) expire(now int64) {
	c.expired = c.expired[:0]
	c.mu.Lock()
	for _, f := range c.fifos {
		for !f.empty() {
			h := f.front()
			p, ok := c.out[h.seq]
			if !ok {
				f.pop() // answered
				continue
			}
			if h.deadline > now {
				break
			}
			f.pop()
			delete(c.out, h.seq)
			c.outstanding.Add(-1)
			c.addTimedOut(h.seq)
			c.freeSlot(&p, h.deadline)
			c.expired = append(c.expired, event{at: h.deadline, v1: (h.deadline - p.intended) / 1e3, bucket: p.bucket, cmd: p.cmd, kind: evTimeout})
		}
	}
	c.mu.Unlock()
	for _, ev := range c.expired {
		c.rb.add(ev, now)
	}
}

// finish ends the receiver: requests past their deadline time out, the rest are
// abandoned, and the batch goes to the recorders.
func (c *client) finish(now int64) {
	c.expire(now)
	c.expired = c.expired[:0]
	c.mu.Lock()
	for seq, p := range c.out {
		c.expired = append(c.expired, event{at: now, bucket: p.bucket, cmd: p.cmd, kind: evAbandoned})
		delete(c.out, seq)
	}
	c.outstanding.Store(0)
	for _, f := range c.fifos {
		f.q, f.head = nil, 0
	}
	c.mu.Unlock()
	for _, ev := range c.expired {
		c.rb.add(ev, now)
	}
	c.rb.flush()
}
