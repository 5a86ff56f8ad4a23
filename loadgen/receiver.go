package loadgen

import (
	"errors"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

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
	if bt := c.rb; bt.b != nil {
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
	bt := c.rb
	if bt.b == nil {
		return true
	}
	flushAt := bt.first + int64(maxBatchAge)
	return c.rArmed <= flushAt && (c.outstanding.Load() != 0 || c.sendWake.Load() < flushAt)
}

// expire times out every request whose deadline has passed. Each is recorded in the
// corrected histogram at its deadline, exactly, however late the check runs.
func (c *client) expire(now int64) {
	c.expired = c.expired[:0]
	c.mu.Lock()
	for _, f := range c.fifos {
		for !f.empty() {
			h := f.front()
			p, ok := c.out.get(h.seq)
			if !ok {
				f.pop() // answered
				continue
			}
			if h.deadline > now {
				break
			}
			f.pop()
			c.out.take(h.seq)
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
	c.out.drain(func(_ uint64, p pending) {
		c.expired = append(c.expired, event{at: now, bucket: p.bucket, cmd: p.cmd, kind: evAbandoned})
	})
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
	p, found := c.out.take(seq)
	var late, issued, expired bool
	if found {
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

// classify sorts a reply to a request: the expected command is OK, EXCEPTON an
// exception, anything else (the 0.2.1 server echoes a request it could not handle)
// unexpected.
func classify(req, reply protocol.Command) evKind {
	switch {
	case reply == protocol.Exception:
		return evException
	case reply != "" && reply == req.ExpectedReply():
		return evOK
	}
	return evUnexpected
}
