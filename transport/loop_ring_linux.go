//go:build linux

package transport

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dmbench/dmbench/internal/uring"
)

// A Manual Loop's owner thread may move its connections' traffic onto an io_uring that
// the thread owns (AttachRing): once a connection is up, its replies arrive through one
// multishot recvmsg each into the ring's buffers, and the owner's sends are entries
// submitted with its next wait, so a wake-up that sends and receives any number of
// messages is one system call (on a VM where each costs microseconds, a third of a
// keepalive's CPU). Connecting, the handshake, queued output and the Loop's own events
// stay on epoll, whose descriptor the ring polls. Start gives the traffic back to epoll.

// Ring user data: the kind in the top byte, a connection's socket generation (24 bits)
// and slot below.
const (
	ringRecv uint64 = iota + 1
	ringSend
	ringPollEpoll
	ringPollWatch
	ringCancel
)

const (
	ringGenMask     = 1<<24 - 1
	ringEntries     = 1024
	ringCQEntries   = 16384
	ringBuffers     = 1024 // 2 MiB: DMB's replies are tens of bytes; a burst past them re-arms (ENOBUFS)
	ringBufferSize  = 2048
	ringControlSize = 64
)

func ringData(kind uint64, slot, gen int32) uint64 {
	return kind<<56 | uint64(uint32(gen)&ringGenMask)<<32 | uint64(uint32(slot))
}

func ringFields(d uint64) (kind uint64, slot, gen int32) {
	return d >> 56, int32(uint32(d)), int32(d >> 32 & ringGenMask)
}

// attachRing moves the Loop's traffic onto a ring owned by the calling thread; it also
// polls watch (≥ 0) for its owner. It reports false when io_uring is unavailable.
func (l *loopImpl) attachRing(watch int, keepP bool) bool {
	if !l.driven() || l.ring != nil {
		return false
	}
	r, err := uring.New(uring.Options{Entries: ringEntries, CQEntries: ringCQEntries, Buffers: ringBuffers,
		BufferSize: ringBufferSize, ControlLen: ringControlSize, Raw: keepP})
	if err != nil {
		return false
	}
	l.ring = r
	l.watch = watch
	if r.PollMultishot(l.epfd, unix.POLLIN, ringData(ringPollEpoll, 0, 0)) != nil ||
		watch >= 0 && r.PollMultishot(watch, unix.POLLIN, ringData(ringPollWatch, 0, 0)) != nil {
		r.Close()
		l.ring = nil
		return false
	}
	l.inflight = 1
	if watch >= 0 {
		l.inflight++
	}
	l.epfdReady = true // look once: events may be waiting already
	l.mu.Lock()
	conns := append([]*loopConn(nil), l.conns...)
	l.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			c.ringArm()
		}
	}
	_, _ = r.Enter(0, 0, false)
	return true
}

// ringSleep waits in the ring until d has passed (d < 0: no limit) or, prompt, until
// anything completes. It reports whether the watched descriptor fired and whether the
// Loop has work (Poll).
func (l *loopImpl) ringSleep(d time.Duration, prompt bool) (watched, ready bool) {
	minComplete := uint32(1 << 30) // only the time ends a lazy wait
	if prompt {
		minComplete = 1
	}
	if d == 0 || prompt && l.epfdReady {
		_, _ = l.ring.Enter(0, 0, false)
	} else {
		_, _ = l.ring.Enter(minComplete, max(d, 0), true)
	}
	l.justWaited = true
	l.ring.Peek(func(c uring.CQE) {
		if kind, _, _ := ringFields(c.UserData); kind == ringPollWatch {
			watched = true
		}
	})
	return watched, l.ring.Ready() > 0 || l.epfdReady
}

// ringFlush submits the sends prepared so far.
func (l *loopImpl) ringFlush() {
	if l.ring != nil && l.ring.Pending() > 0 {
		_, _ = l.ring.Enter(0, 0, false)
	}
}

// ringReap submits what is prepared, runs the completions' deferred work (unless the
// owner's wait just did) and handles every completion.
func (l *loopImpl) ringReap(wait time.Duration) {
	switch {
	case wait > 0:
		_, _ = l.ring.Enter(1, wait, true)
	case !l.justWaited || l.ring.Pending() > 0:
		_, _ = l.ring.Enter(0, 0, false)
	}
	l.justWaited = false
	for l.ring.Completions(l.ringComplete) > 0 {
	}
}

// ringComplete handles one completion (owner thread).
func (l *loopImpl) ringComplete(c uring.CQE) {
	kind, slot, gen := ringFields(c.UserData)
	last := !c.More()
	if last && kind != ringCancel {
		l.inflight--
	}
	switch kind {
	case ringPollEpoll, ringPollWatch:
		if kind == ringPollEpoll {
			l.epfdReady = true
		}
		if last && !l.detaching && c.Res != -int32(unix.ECANCELED) {
			fd := l.epfd
			if kind == ringPollWatch {
				fd = l.watch
			}
			if l.ring.PollMultishot(fd, unix.POLLIN, c.UserData) == nil {
				l.inflight++
			}
		}
	case ringRecv:
		conn := l.connAt(slot, gen)
		if conn == nil {
			l.ringRecycle(c)
			return
		}
		conn.ringReceived(c, last)
	case ringSend:
		if conn := l.slotConn(slot); conn != nil {
			conn.ringSent(c, gen)
		}
	}
}

// ringRecycle gives a completion's buffer back.
func (l *loopImpl) ringRecycle(c uring.CQE) {
	if id, ok := c.Buffer(); ok {
		l.ring.Recycle(id)
	}
}

// detachRing gives the traffic back to epoll: the receives and polls are cancelled, the
// sends in flight left to complete (cancelling one half sent would cut a message), what
// the ring received meanwhile is handled, and the ring closed (owner thread). Called by
// a thread that does not own the ring, or past a second, it cannot wait: closing the ring
// drops what it had received and not yet handed on, and cancels what is left.
func (l *loopImpl) detachRing() {
	r := l.ring
	if r == nil {
		return
	}
	l.detaching = true
	l.mu.Lock()
	conns := append([]*loopConn(nil), l.conns...)
	l.mu.Unlock()
	ok := r.Cancel(ringData(ringPollEpoll, 0, 0), ringData(ringCancel, 0, 0)) == nil &&
		r.Cancel(ringData(ringPollWatch, 0, 0), ringData(ringCancel, 0, 0)) == nil
	for _, c := range conns {
		if c != nil && c.ringOwned() {
			ok = ok && r.Cancel(ringData(ringRecv, c.slot, c.gen.Load()), ringData(ringCancel, 0, 0)) == nil
		}
	}
	if ok {
		for deadline := time.Now().Add(time.Second); l.inflight > 0 && time.Now().Before(deadline); {
			if _, err := r.Enter(1, 10*time.Millisecond, true); err != nil {
				break // not the owner
			}
			for r.Completions(l.ringComplete) > 0 {
			}
		}
	}
	r.Close()
	l.ring = nil
	for _, c := range conns {
		if c != nil {
			c.ringGiveBack()
		}
	}
}

// ringOwned reports whether the ring reads c's socket.
func (c *loopConn) ringOwned() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ringRecv
}

// ringLost notes that the ring no longer reads c's socket.
func (c *loopConn) ringLost() {
	c.mu.Lock()
	c.ringRecv = false
	c.mu.Unlock()
}

// ringArm starts the ring's multishot receive on c's socket, if it is up, and takes
// EPOLLIN off it (loop).
func (c *loopConn) ringArm() {
	l := c.l
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.ring == nil || l.detaching || c.fd < 0 || c.state != loopUp {
		return
	}
	if l.ring.RecvMultishot(c.fd, ringData(ringRecv, c.slot, c.gen.Load())) != nil {
		return
	}
	l.inflight++
	c.ringRecv = true
	_ = c.epollModLocked()
}

// ringReceived handles a receive completion for c (loop).
func (c *loopConn) ringReceived(cqe uring.CQE, last bool) {
	l := c.l
	if cqe.Res < 0 {
		c.ringLost()
		switch errno := syscall.Errno(-cqe.Res); errno {
		case unix.ENOBUFS:
			c.ringArm() // the buffers ran out: those handled are back
		case unix.ECANCELED:
		default:
			c.fail(nativeIOError("read", errno))
		}
		return
	}
	ctl, payload, ok := l.ring.Received(cqe)
	if !ok {
		l.ringRecycle(cqe)
		c.ringLost()
		c.fail(nativeIOError("read", unix.EIO))
		return
	}
	alive := true
	if len(payload) > 0 {
		alive = c.consume(payload, l.stampTime(ctl, time.Now()))
	}
	l.ringRecycle(cqe)
	if !last {
		return
	}
	c.ringLost()
	switch {
	case len(payload) == 0:
		c.endOfStream()
	case alive:
		c.ringArm() // it ended early (a full completion queue): again
	}
}

// ringSent handles a send completion for c (loop): the next queued output goes out
// through the ring as soon as one completes, so at most one is in flight per connection
// and its buffer is never touched meanwhile.
func (c *loopConn) ringSent(cqe uring.CQE, gen int32) {
	c.mu.Lock()
	c.ringSending = false
	if cqe.Res < 0 && c.fd >= 0 && c.gen.Load()&ringGenMask == gen {
		c.mu.Unlock()
		if cqe.Res != -int32(unix.ECANCELED) {
			c.fail(nativeIOError("write", syscall.Errno(-cqe.Res)))
		}
		return
	}
	// What was queued meanwhile (for this socket or the one that replaced it) goes next.
	if len(c.out) > 0 && c.state == loopUp && c.fd >= 0 && c.failErr == nil {
		if c.ringRecv {
			c.direct, c.out = c.out, c.direct[:0]
			if !c.ringSendLocked() {
				c.direct, c.out = c.out, c.direct
			}
		}
		if !c.ringSending {
			if err := c.writeLocked(); err != nil {
				c.failErr = err
				c.postLocked()
			}
		}
	}
	if c.waiters > 0 {
		c.cond.Broadcast()
	}
	c.mu.Unlock()
}

// ringSendLocked submits c.direct through the ring with the owner's next wait (caller
// holds c.mu on the owner's thread). MSG_WAITALL: the kernel sends all of it or fails.
func (c *loopConn) ringSendLocked() bool {
	if c.l.ring.Send(c.fd, c.direct, ringData(ringSend, c.slot, c.gen.Load()), false) != nil {
		return false
	}
	c.l.inflight++
	c.ringSending = true
	return true
}

// ringClosingLocked cancels the ring's requests on c's socket before it is closed:
// the ring holds the socket open until they end (caller holds c.mu, loop).
func (c *loopConn) ringClosingLocked() {
	l := c.l
	if l.ring == nil || !c.ringRecv && !c.ringSending {
		return
	}
	if l.ring.CancelFd(c.fd, ringData(ringCancel, 0, 0)) == nil {
		_, _ = l.ring.Enter(0, 0, false)
	}
	c.ringRecv = false
}

// ringGiveBack puts EPOLLIN back on c's socket after the ring is gone (loop).
func (c *loopConn) ringGiveBack() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ringRecv, c.ringSending = false, false
	if c.fd >= 0 {
		_ = c.epollModLocked()
	}
}
