//go:build linux

package transport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loopConn is a native DEALER on a Loop: one socket at a time, replaced with backoff
// when Reconnect is set. What is marked (mu) is guarded by mu; what is marked (loop) is
// touched only on the Loop's goroutine.
type loopConn struct {
	l        *loopImpl
	endpoint string
	sa       unix.Sockaddr
	family   int
	opts     DialOptions
	maxFrame uint64
	h        Handler
	q        *loopRecvQueue // Recv's queue when there is no Handler of the caller's
	slot     int32          // (Loop's mu)

	gen         atomic.Int32 // the socket's generation, in its epoll events
	timerAt     atomic.Int64 // the Loop timer that counts (ns; 0 none), see stale
	dispatching atomic.Bool  // the Loop is calling the Handler for this connection
	handed      atomic.Bool  // Dial returned this DEALER to its caller
	dialDone    chan error   // the first connection's outcome (capacity 1)
	closedCh    chan struct{}

	mu      sync.Mutex
	cond    sync.Cond
	fd      int       // (mu) -1 while there is no socket
	state   loopState // (mu)
	out     []byte    // (mu) bytes queued, not yet written
	direct  []byte    // (mu) the direct write's encoding buffer
	pollOut bool      // (mu) EPOLLOUT is registered
	// ringRecv: the owner's ring reads the socket, not epoll; ringSending: a send of
	// direct is in the ring (loop_ring_linux.go).
	ringRecv, ringSending bool  // (mu)
	posted                bool  // (mu) in the Loop's posted list
	start                 bool  // (mu) the first dial waits for the Loop
	failErr               error // (mu) a sender's write failed; the Loop ends the connection
	closeReq              bool  // (mu) Close was called
	waiters               int   // (mu) senders waiting for room
	deadline              int64 // (mu) the receive deadline (ns; 0 none)
	inner                 int64 // (mu) connect timeout or reconnect time (ns; 0 none)

	dec zmtpDecoder // (loop)
	msg zmtpMessage // (loop)
	// msgData, msgEnds and msgFrames back msg's data, ends and frames while a message is
	// small: decoding a reply then writes the connection's own cache lines. msgData is
	// charged to the receive budget like any buffer.
	msgData   [128]byte
	msgEnds   [6]int
	msgFrames [6][]byte
	hs        *zmtpHandshake // (loop) during the handshake
	acct      recvAccount    // (loop) this connection's share of its RecvBudget
	backoff   time.Duration  // (loop) the next reconnect's wait
	everUp    bool           // (loop) the first connection completed
	pong      []byte         // (loop)
}

// loopState is where a Loop DEALER's connection is.
type loopState uint8

const (
	loopIdle        loopState = iota // created, not yet connecting
	loopConnecting                   // TCP connect in progress
	loopHandshaking                  // greeting and READY
	loopUp                           // traffic flows
	loopDown                         // lost, waiting to reconnect
	loopGone                         // lost for good (no Reconnect)
	loopClosed                       // closed
)

// dialLoop dials a DEALER on opts.Loop and returns once its first handshake is done.
func dialLoop(ctx context.Context, endpoint string, opts DialOptions) (Dealer, error) {
	hp, err := nativeHostPort(endpoint)
	if err != nil {
		return nil, err
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		err = fmt.Errorf("transport: connecting to %s: %w", endpoint, err)
		emit(opts.OnEvent, ConnectFailed, endpoint, err)
		return nil, err
	}
	sa, family, err := loopSockaddr(ctx, hp)
	if err != nil {
		return nil, fmt.Errorf("transport: connecting to %s: %w", endpoint, err)
	}
	c := &loopConn{
		l:        opts.Loop.impl,
		endpoint: endpoint,
		sa:       sa,
		family:   family,
		opts:     opts,
		maxFrame: uint64(opts.MaxFrameSize),
		h:        opts.Handler,
		dialDone: make(chan error, 1),
		closedCh: make(chan struct{}),
		fd:       -1,
		start:    true,
		backoff:  opts.ReconnectMin,
	}
	c.cond.L = &c.mu
	if c.h == nil {
		c.q = newLoopRecvQueue()
		c.h = c.q
	}
	c.dec.maxFrame = c.maxFrame
	c.dec.msg = &c.msg
	c.msg.data, c.msg.ends, c.msg.frames = c.msgData[:0], c.msgEnds[:0], c.msgFrames[:0]
	c.acct.b = opts.RecvBudget
	if c.acct.b == nil {
		c.acct.b = c.l.budget
	}
	c.account()
	c.dec.grow = func(buf *[]byte, need int) error { return c.acct.grow(buf, need, loopReadBuf) }
	if !c.l.register(c) || !c.l.post(c) {
		c.l.release(c)
		return nil, ErrClosed
	}
	select {
	case err := <-c.dialDone:
		if err != nil {
			emit(opts.OnEvent, ConnectFailed, endpoint, err)
			return nil, err
		}
		c.handed.Store(true)
		return c, nil
	case <-ctx.Done():
		_ = c.Close() // a connection that completed meanwhile is closed unseen
		err := fmt.Errorf("transport: connecting to %s: %w", endpoint, ctx.Err())
		emit(opts.OnEvent, ConnectFailed, endpoint, err)
		return nil, err
	}
}

// loopSockaddr resolves host:port to a socket address.
func loopSockaddr(ctx context.Context, hostport string) (unix.Sockaddr, int, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, 0, fmt.Errorf("port %q: not a TCP port", portStr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil || len(ips) == 0 {
			return nil, 0, fmt.Errorf("resolving %s: %w", host, lerr)
		}
		ip = ips[0]
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: port, Addr: ip.As4()}, unix.AF_INET, nil
	}
	return &unix.SockaddrInet6{Port: port, Addr: ip.As16()}, unix.AF_INET6, nil
}

// retimeLocked makes the Loop's timer for c the earlier of its deadline and its inner
// time. Caller holds c.mu.
func (c *loopConn) retimeLocked() {
	at := c.deadline
	if c.inner != 0 && (at == 0 || c.inner < at) {
		at = c.inner
	}
	if c.timerAt.Load() == at {
		return
	}
	c.timerAt.Store(at)
	if at != 0 {
		c.l.schedule(c, at)
	}
}

// postLocked hands c to the Loop once. Caller holds c.mu.
func (c *loopConn) postLocked() {
	if !c.posted {
		c.posted = true
		if !c.l.post(c) {
			c.posted = false
		}
	}
}

// serve is the Loop's look at a posted connection (loop).
func (c *loopConn) serve() {
	c.mu.Lock()
	c.posted = false
	switch {
	case c.closeReq && c.state != loopClosed:
		c.mu.Unlock()
		c.teardown(ErrClosed, true)
		return
	case c.start:
		c.start = false
		c.mu.Unlock()
		c.connect()
		return
	case c.failErr != nil:
		err := c.failErr
		c.failErr = nil
		c.mu.Unlock()
		c.fail(err)
		return
	}
	c.mu.Unlock()
	c.flush()
}

// connect starts a TCP connection (loop).
func (c *loopConn) connect() {
	c.mu.Lock()
	c.state = loopConnecting
	c.mu.Unlock()
	fd, err := unix.Socket(c.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		c.fail(fmt.Errorf("transport: connecting to %s: %w (is the broker running and reachable?)", c.endpoint, loopSyscallError("socket", err)))
		return
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if c.l.stamped {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) // else read times
	}
	err = unix.Connect(fd, c.sa)
	if err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		unix.Close(fd)
		c.fail(fmt.Errorf("transport: connecting to %s: %w (is the broker running and reachable?)", c.endpoint, loopSyscallError("connect", err)))
		return
	}
	gen := c.gen.Add(1)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: c.slot, Pad: gen}
	if err := unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		c.fail(fmt.Errorf("transport: connecting to %s: %w", c.endpoint, loopSyscallError("epoll_ctl", err)))
		return
	}
	c.mu.Lock()
	c.fd = fd
	c.pollOut = true
	c.inner = c.l.now() + int64(c.opts.ConnectTimeout)
	c.retimeLocked()
	c.mu.Unlock()
}

// loopSyscallError names a failed system call as net's errors do ("connect: connection
// refused"), keeping the errno for errors.Is.
func loopSyscallError(op string, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: &osSyscallError{op: op, err: err}}
}

// osSyscallError is os.SyscallError without importing os for it.
type osSyscallError struct {
	op  string
	err error
}

func (e *osSyscallError) Error() string { return e.op + ": " + e.err.Error() }
func (e *osSyscallError) Unwrap() error { return e.err }

// ready handles epoll events of c's socket (loop).
func (c *loopConn) ready(events uint32) {
	c.mu.Lock()
	state := c.state
	fd := c.fd
	ringRecv := c.ringRecv
	c.mu.Unlock()
	if fd < 0 {
		return
	}
	switch state {
	case loopConnecting:
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soErr != 0 {
			err = unix.Errno(soErr)
		}
		if err != nil {
			c.fail(fmt.Errorf("transport: connecting to %s: %w (is the broker running and reachable?)", c.endpoint, loopSyscallError("connect", err)))
			return
		}
		c.hs = new(zmtpHandshake)
		c.hs.init(zmtpDealer, c.maxFrame)
		c.mu.Lock()
		c.state = loopHandshaking
		c.out = zmtpAppendGreeting(c.out[:0])
		c.out = zmtpAppendReady(c.out, zmtpDealer, c.opts.Identity)
		c.mu.Unlock()
		c.flush()
	case loopHandshaking, loopUp:
		if events&unix.EPOLLOUT != 0 {
			c.flush()
		}
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !ringRecv {
			c.read(fd) // else the ring's receive reports it
		}
	}
}

// read reads what the socket has, up to a few buffers' worth, and feeds it (loop).
func (c *loopConn) read(fd int) {
	buf := c.l.buf
	for range 4 {
		n, at, err := c.l.recv(fd, buf)
		switch {
		case n > 0:
			// The handshake's end may have handed the socket to the owner's ring (up).
			if !c.consume(buf[:n], at) || n < len(buf) || c.l.ring != nil && c.ringOwned() {
				return
			}
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return
		case err == nil:
			c.endOfStream()
			return
		default:
			c.mu.Lock()
			handshaking := c.state == loopHandshaking
			c.mu.Unlock()
			if handshaking {
				c.fail(fmt.Errorf("transport: connecting to %s: %w", c.endpoint, nativeHandshakeIOError(c.hsStage(), err)))
			} else {
				c.fail(nativeIOError("read", err))
			}
			return
		}
	}
}

// endOfStream ends the connection the peer closed (loop).
func (c *loopConn) endOfStream() {
	c.mu.Lock()
	handshaking := c.state == loopHandshaking
	c.mu.Unlock()
	switch {
	case handshaking:
		c.fail(fmt.Errorf("transport: connecting to %s: %w", c.endpoint, nativeHandshakeIOError(c.hsStage(), errNativePeerClosed)))
	case c.dec.partial():
		c.fail(fmt.Errorf("%w: the broker closed the connection inside a message", ErrTruncated))
	default:
		c.fail(errNativePeerClosed)
	}
}

// hsStage names the handshake's progress for an error.
func (c *loopConn) hsStage() string {
	if c.hs != nil && c.hs.got < zmtpGreetingSize {
		return fmt.Sprintf("reading greeting (%d of 64 bytes)", c.hs.got)
	}
	return "reading READY"
}

// consume feeds bytes read (arrived at at) to the handshake or the decoder and dispatches
// what completes. It reports false when the connection ended or was closed meanwhile
// (loop).
func (c *loopConn) consume(p []byte, at time.Time) bool {
	if c.hs != nil {
		n, done, err := c.hs.feed(p)
		if err != nil {
			c.fail(fmt.Errorf("transport: connecting to %s: %w", c.endpoint, err))
			return false
		}
		if !done {
			return true
		}
		p = p[n:]
		c.hs = nil
		if !c.up() {
			return false
		}
	}
	for len(p) > 0 {
		n, ev, err := c.dec.feed(p)
		p = p[n:]
		if err != nil {
			c.fail(err)
			return false
		}
		switch ev {
		case zmtpGotMessage:
			c.dispatching.Store(true)
			c.h.Message(c.msg.frames, at)
			c.dispatching.Store(false)
			if cap(c.msg.data) > nativeRetainBuf {
				c.msg.data = c.msgData[:0]
				c.account()
			}
			if !c.live() {
				return false
			}
		case zmtpGotCommand:
			if err := c.command(c.dec.cmd); err != nil {
				c.fail(err)
				return false
			}
		}
	}
	return true
}

// account charges the budget for the decoder buffers' size now (loop).
func (c *loopConn) account() {
	c.acct.settle(int64(cap(c.msg.data) + cap(c.dec.cmd)))
}

// live reports whether the connection still carries traffic (loop).
func (c *loopConn) live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == loopUp && !c.closeReq && c.failErr == nil
}

// up completes the handshake (loop).
func (c *loopConn) up() bool {
	c.mu.Lock()
	if c.closeReq {
		c.mu.Unlock()
		return false
	}
	c.state = loopUp
	c.inner = 0
	c.retimeLocked()
	c.mu.Unlock()
	c.dec.reset()
	c.backoff = c.opts.ReconnectMin
	if c.l.ring != nil {
		c.ringArm() // from now on the owner's ring reads the socket
	}
	c.q.notify()
	emit(c.opts.OnEvent, Connected, c.endpoint, nil) // before Dial returns, as the goroutine DEALER does
	if !c.everUp {
		c.everUp = true
		c.dialDone <- nil
	}
	return true
}

// command handles a command frame after the handshake, as nativeCommand does (loop).
func (c *loopConn) command(cmd []byte) error {
	name, data, ok := zmtpSplitCommand(cmd)
	if !ok {
		return nil
	}
	switch string(name) {
	case "PING":
		c.pong = zmtpAppendCommand(c.pong[:0], "PONG", zmtpPingContext(data))
		c.mu.Lock()
		c.out = append(c.out, c.pong...)
		c.mu.Unlock()
		c.flush()
	case "ERROR":
		return fmt.Errorf("%w: %q", ErrPeerError, zmtpErrorReason(data))
	}
	return nil
}

// flush writes the queued output (loop).
func (c *loopConn) flush() {
	c.mu.Lock()
	if c.fd < 0 || c.failErr != nil || c.ringSending { // a ring send's completion sends the rest
		c.mu.Unlock()
		return
	}
	err := c.writeLocked()
	c.mu.Unlock()
	if err != nil {
		c.fail(err)
	}
}

// writeLocked writes as much of out as the socket takes, and has EPOLLOUT registered
// exactly while some is left. Caller holds c.mu with a socket open.
func (c *loopConn) writeLocked() error {
	for len(c.out) > 0 {
		n, err := unix.Write(c.fd, c.out)
		if n > 0 {
			c.out = c.out[:copy(c.out, c.out[n:])]
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err == nil {
			err = unix.EIO
		}
		return nativeIOError("write", err)
	}
	if len(c.out) == 0 && cap(c.out) > nativeRetainBuf {
		c.out = nil
	}
	if c.waiters > 0 && len(c.out) < nativeDealerQueue {
		c.cond.Broadcast()
	}
	if want := len(c.out) > 0 || c.state == loopConnecting; want != c.pollOut {
		c.pollOut = want
		return c.epollModLocked()
	}
	return nil
}

// epollModLocked registers the events c's socket wants: EPOLLOUT while output waits,
// EPOLLIN unless the owner's ring reads it. Caller holds c.mu with a socket open.
func (c *loopConn) epollModLocked() error {
	var events uint32
	if !c.ringRecv {
		events = unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if c.pollOut {
		events |= unix.EPOLLOUT
	}
	ev := unix.EpollEvent{Events: events, Fd: c.slot, Pad: c.gen.Load()}
	if err := unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return nativeIOError("epoll_ctl", err)
	}
	return nil
}

// timer handles c's Loop timer at now (loop).
func (c *loopConn) timer(now int64) {
	c.mu.Lock()
	c.timerAt.Store(0)
	wake := c.deadline != 0 && c.deadline <= now
	if wake {
		c.deadline = 0
	}
	inner := c.inner != 0 && c.inner <= now
	state := c.state
	if inner {
		c.inner = 0
	}
	c.retimeLocked()
	c.mu.Unlock()
	if inner {
		switch state {
		case loopConnecting:
			c.fail(fmt.Errorf("transport: connecting to %s: %w", c.endpoint, &net.OpError{Op: "dial", Net: "tcp", Err: errLoopTimeout{}}))
		case loopHandshaking:
			c.fail(fmt.Errorf("transport: connecting to %s: %w: handshake did not finish within %v (is it a ZeroMQ ROUTER? raise ConnectTimeout if it is slow)", c.endpoint, ErrBadGreeting, c.opts.ConnectTimeout))
		case loopDown:
			c.connect()
		}
	}
	if wake {
		c.dispatching.Store(true)
		c.h.Wake()
		c.dispatching.Store(false)
	}
}

// errLoopTimeout is a connect that timed out; like net's, it is a net.Error with Timeout.
type errLoopTimeout struct{}

func (errLoopTimeout) Error() string   { return "i/o timeout" }
func (errLoopTimeout) Timeout() bool   { return true }
func (errLoopTimeout) Temporary() bool { return true }

// closeSocketLocked closes the socket, if any. Caller holds c.mu (loop).
func (c *loopConn) closeSocketLocked() {
	if c.fd >= 0 {
		c.ringClosingLocked()
		unix.Close(c.fd) // also leaves the epoll set: no other descriptor refers to it
		c.fd = -1
		c.gen.Add(1)
	}
	c.pollOut = false
	c.out = c.out[:0]
	c.failErr = nil
}

// fail ends the current connection for err: the first dial reports it, a connection that
// was up reports Disconnected, and with Reconnect the next attempt is timed (loop).
func (c *loopConn) fail(err error) {
	c.mu.Lock()
	if c.state == loopClosed || c.state == loopGone || c.state == loopDown {
		c.mu.Unlock()
		return // already ended
	}
	wasUp := c.state == loopUp
	c.closeSocketLocked()
	c.hs = nil
	c.dec.reset()
	if cap(c.msg.data) > nativeRetainBuf {
		c.msg.data = c.msgData[:0] // a big message's buffer goes back to the budget
	}
	if cap(c.dec.cmd) > nativeRetainBuf {
		c.dec.cmd = nil
	}
	first := !c.everUp
	switch {
	case first:
		c.state = loopClosed
	case c.opts.Reconnect && !c.closeReq:
		c.state = loopDown
		jittered := time.Duration(float64(c.backoff) * (0.9 + 0.2*rand.Float64()))
		c.inner = c.l.now() + int64(jittered)
		c.backoff = min(2*c.backoff, c.opts.ReconnectMax)
	default:
		c.state = loopGone
	}
	c.cond.Broadcast()
	c.retimeLocked()
	c.mu.Unlock()
	c.account()
	if first {
		c.l.release(c)
		c.dialDone <- err
		close(c.closedCh)
		return
	}
	c.q.notify()
	if wasUp {
		emit(c.opts.OnEvent, Disconnected, c.endpoint, err)
	} else {
		emit(c.opts.OnEvent, ConnectFailed, c.endpoint, err)
	}
}

// teardown closes c for good and calls its Handler's Closed (loop).
func (c *loopConn) teardown(err error, closed bool) {
	c.mu.Lock()
	if c.state == loopClosed {
		c.mu.Unlock()
		return
	}
	c.closeReq = c.closeReq || closed
	c.closeSocketLocked()
	first := !c.everUp
	c.state = loopClosed
	c.deadline, c.inner = 0, 0
	c.retimeLocked()
	c.cond.Broadcast()
	c.mu.Unlock()
	c.hs = nil
	c.msg.data = nil
	c.account()
	c.l.release(c)
	if first {
		c.dialDone <- err
	}
	if c.handed.Load() {
		c.dispatching.Store(true)
		c.h.Closed()
		c.dispatching.Store(false)
	}
	close(c.closedCh)
}

// send queues or writes msg. With direct set and nothing queued it writes on the
// caller's goroutine; otherwise the Loop writes what is queued, in one write.
func (c *loopConn) send(msg [][]byte, direct bool) error {
	if len(msg) == 0 {
		return errNativeEmpty
	}
	c.mu.Lock()
	for {
		switch {
		case c.closeReq || c.state == loopClosed:
			c.mu.Unlock()
			return ErrClosed
		case c.state != loopUp || c.failErr != nil:
			c.mu.Unlock()
			return ErrDisconnected
		}
		if len(c.out) < nativeDealerQueue {
			break
		}
		if c.l.driven() {
			// The caller is the Manual Loop's owner: waiting for the Loop would wait
			// forever. It serves the Loop itself until the queue has room.
			c.mu.Unlock()
			c.l.pollFor(10 * time.Millisecond)
			c.mu.Lock()
			continue
		}
		c.waiters++
		c.cond.Wait()
		c.waiters--
	}
	if direct && len(c.out) == 0 && c.ringSending {
		c.out = zmtpAppendMessage(c.out, msg) // sent when the ring's send completes
		c.mu.Unlock()
		return nil
	}
	if direct && len(c.out) == 0 && c.ringRecv {
		// The caller is the owner's thread, whose ring reads this socket: the send is
		// submitted with its next wait.
		c.direct = zmtpAppendMessage(c.direct[:0], msg)
		if c.ringSendLocked() {
			c.mu.Unlock()
			return nil
		}
	}
	if direct && len(c.out) == 0 {
		buf := zmtpAppendMessage(c.direct[:0], msg)
		n, err := loopWrite(c.fd, buf)
		if cap(buf) <= nativeRetainBuf {
			c.direct = buf
		}
		if err != nil {
			c.failErr = nativeIOError("write", err)
			c.postLocked()
			c.mu.Unlock()
			return ErrDisconnected
		}
		if n == len(buf) {
			c.mu.Unlock()
			return nil
		}
		c.out = append(c.out, buf[n:]...)
		err = c.writeLocked() // registers EPOLLOUT for the rest
		if err != nil {
			c.failErr = err
			c.postLocked()
		}
		c.mu.Unlock()
		return nil
	}
	c.out = zmtpAppendMessage(c.out, msg)
	if !c.pollOut {
		c.postLocked()
	}
	c.mu.Unlock()
	return nil
}

// loopWrite writes b once to a non-blocking socket; a full socket buffer is no error.
// The system call does not tell the runtime (it never blocks): see loopImpl.recv.
func loopWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return 0, nil
		case e != 0:
			return 0, e
		}
		return int(n), nil
	}
}

// Send queues msg; the Loop writes it with whatever else is queued.
func (c *loopConn) Send(msg [][]byte) error { return c.send(msg, false) }

// SendDirect writes msg on the caller's goroutine when nothing is queued (DirectSender).
func (c *loopConn) SendDirect(msg [][]byte) error { return c.send(msg, true) }

// Recv returns the next message queued for it, or ErrHandlerRecv with a Handler.
func (c *loopConn) Recv() ([][]byte, error) {
	if c.q == nil {
		return nil, ErrHandlerRecv
	}
	return c.q.recv(c.recvStatus)
}

// recvStatus is what Recv reports when nothing is queued: ErrClosed, ErrDisconnected
// once lost for good, else nil (waiting, also while reconnecting).
func (c *loopConn) recvStatus() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closeReq || c.state == loopClosed:
		return ErrClosed
	case c.state == loopGone:
		return ErrDisconnected
	}
	return nil
}

// SetRecvDeadline sets the receive deadline: Recv returns ErrTimeout after it, and a
// Handler's Wake is called once it passes.
func (c *loopConn) SetRecvDeadline(t time.Time) error {
	c.mu.Lock()
	if c.closeReq || c.state == loopClosed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.deadline = c.l.nsOf(t)
	c.retimeLocked()
	c.mu.Unlock()
	c.q.setDeadline(t)
	return nil
}

// Close closes the DEALER. It waits for the Loop to close the socket and call the
// Handler's Closed, unless it is called from this DEALER's own Handler.
func (c *loopConn) Close() error {
	c.mu.Lock()
	if c.closeReq || c.state == loopClosed {
		c.mu.Unlock()
		if !c.dispatching.Load() {
			<-c.closedCh
		}
		return nil
	}
	c.closeReq = true
	c.cond.Broadcast()
	posted := c.posted
	c.posted = true
	c.mu.Unlock()
	c.q.notify()
	if !posted && !c.l.post(c) {
		<-c.l.done // the Loop is closing: it closes c itself
	}
	if !c.dispatching.Load() {
		<-c.closedCh
	}
	return nil
}

var (
	_ Dealer       = (*loopConn)(nil)
	_ DirectSender = (*loopConn)(nil)
)
