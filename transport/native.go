package transport

// The native implementation: dmbench's own ZMTP 3.1 over TCP, NULL mechanism.
//
// Hot paths and how they batch:
//
//   - Sending (DEALER and ROUTER alike): Send encodes the whole multipart message into the
//     connection's pending buffer under a mutex. If the connection's writer goroutine is
//     idle, Send wakes it (one non-blocking channel send); otherwise it only appends. The
//     writer swaps the pending buffer for its spare one and writes everything in a single
//     Write, so under load one syscall carries every message queued since the last one.
//   - Receiving: bytes are read into a per-connection buffer (4 KiB, growing to 64 KiB
//     while reads keep filling it, so 10,000 quiet connections stay cheap) and parsed by a
//     resumable decoder (zmtp_codec.go) into reusable message buffers.
//     The DEALER parses in the caller's Recv; the ROUTER has one reader goroutine per
//     connection that hands the consumer a whole read's worth of messages under one lock.
//
// Choices the interface leaves open, made here:
//
//   - The ROUTER keeps a memory budget (ListenOptions documents it): its peers' send
//     queues are capped in bytes, each and together (MaxSendQueued, MaxSendQueuedTotal,
//     half of which is kept for each peer's share: reserveSend).
//     Send to a peer whose queue is full does not block the caller (which would stall
//     replies to every other peer): the message is dropped, counted in
//     RouterStats.SendDropped, and Send returns an error wrapping ErrSlowPeer. Queued
//     bytes are counted from Send until the writer's Write returns them written (the
//     writer writes through nativeRouterWriter, which subtracts them). A peer whose
//     writer can move no byte for WriteTimeout is closed with ErrSlowPeer. A write
//     cannot tell when inside it the last byte moved, so a write that moved some bytes
//     and then stalled restarts the clock: the close comes after 7/8 to 2× WriteTimeout
//     of no progress.
//   - A DEALER's send queue is bounded (nativeDealerQueue bytes); Send blocks while it is
//     full, as libzmq's DEALER does at its high-water mark, until the connection drains,
//     drops (ErrDisconnected) or the Dealer is closed (ErrClosed).
//   - The ROUTER's handshake must finish within WriteTimeout (default 10 s), or the
//     connection is closed with ErrBadGreeting.
//   - A failed handshake is reported as a ConnectFailed event (on both sides); Disconnected
//     is for connections that had completed their handshake. Close reports no events.
//   - Messages queued but not yet written when a connection drops are lost, like libzmq's;
//     Send reports ErrDisconnected from then on, so nothing is dropped silently afterwards.
//   - A ROUTER connection stops reading while the consumer has not released its
//     messages and they retain MaxRecvRetained bytes, or every connection's together
//     MaxRecvRetainedTotal, or they number nativeRouterInFlight (1024): TCP pushes back
//     on that peer alone, and memory stays bounded. Retained bytes are each message's
//     buffers (nativeInMsg.footprint), counted from when the reader starts filling it
//     (growing as it fills) until the consumer releases it. A connection that holds no
//     unreleased message may always read one, so that no peer starves. Released
//     buffers return to a per-connection pool bounded in bytes (nativeRouterPoolConn,
//     nativeRouterPoolTotal); beyond it they go to the garbage collector.
//   - Incoming limits: a frame above MaxFrameSize, a message above twice MaxFrameSize or
//     above 65,536 frames, or a command above 1 MiB closes the connection with
//     ErrFrameTooLarge.
//   - Routing ids: the peer's Identity when it sends one (a second connection asking for
//     an id in use is closed with ErrIdentityInUse, as libzmq refuses it), otherwise 5
//     bytes as libzmq makes them: a zero byte and a big-endian counter from a random start.
//   - A peer's ERROR command closes the connection with ErrPeerError and the peer's reason.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors of the native implementation beyond the shared ones in transport.go.
var (
	// ErrIdentityInUse closes a ROUTER connection whose peer asked for a routing id
	// (Identity) that another connected peer already has.
	ErrIdentityInUse = errors.New("transport: peer identity already in use by another connection")
)

var (
	// errNativePeerClosed is why a connection ended when the peer closed it cleanly between
	// messages. It is not counted as a connection error.
	// It wraps io.EOF, so that callers can tell an orderly close from a reset.
	errNativePeerClosed = fmt.Errorf("transport: peer closed the connection (%w)", io.EOF)
	// errNativeIO names any other read or write failure (reset, broken pipe, ...).
	errNativeIO = errors.New("transport: connection I/O error")
	// errNativeEmpty is returned by Send for a message with no frames.
	errNativeEmpty = errors.New("transport: message has no frames (send at least one)")
)

// nativeNamedErrors are the keys of RouterStats.ConnErrors.
var nativeNamedErrors = []error{
	ErrBadGreeting, ErrFrameTooLarge, ErrTruncated, ErrSlowPeer,
	ErrPeerError, ErrIdentityInUse, errNativeIO,
}

// nativeErrorName returns the name a connection error is counted under, or "" for a clean end.
func nativeErrorName(err error) string {
	if err == nil || errors.Is(err, errNativePeerClosed) {
		return ""
	}
	for _, e := range nativeNamedErrors {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return errNativeIO.Error()
}

// nativeIOError turns a read or write error into a connection error with a name.
func nativeIOError(op string, err error) error {
	switch {
	case errors.Is(err, io.EOF):
		return errNativePeerClosed
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w: %s: peer reset the connection: %w", errNativeIO, op, err)
	}
	return fmt.Errorf("%w: %s: %w", errNativeIO, op, err)
}

const (
	nativeReadBufMin = 4 << 10
	nativeReadBufMax = 64 << 10
	// nativeRetainBuf is the largest buffer kept for reuse after a big message went through.
	nativeRetainBuf = 256 << 10
	// nativeDealerQueue is the DEALER's high-water mark in bytes: Send blocks above it.
	nativeDealerQueue = 8 << 20
	// nativeRouterInFlight bounds the received messages of one connection that the consumer
	// has not yet released; a connection at the bound stops reading (TCP pushes back).
	// ListenOptions.MaxRecvRetained bounds their bytes.
	nativeRouterInFlight = 1024
	// nativeRouterPoolConn and nativeRouterPoolTotal bound the released message buffers
	// a ROUTER keeps for reuse, per connection and over all (each at most a quarter of
	// the matching receive cap).
	nativeRouterPoolConn  = 256 << 10
	nativeRouterPoolTotal = 64 << 20
)

// nativeReadBuf is a connection's read buffer. It starts small and doubles, up to nativeReadBufMax,
// each time a read fills it.
type nativeReadBuf struct {
	buf  []byte
	r, w int
}

// fill reads once from conn, appending to the unread bytes.
func (b *nativeReadBuf) fill(conn net.Conn) (int, error) {
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
	if b.buf == nil {
		b.buf = make([]byte, nativeReadBufMin)
	}
	if b.w == len(b.buf) {
		if b.r > 0 {
			b.w = copy(b.buf, b.buf[b.r:b.w])
			b.r = 0
		} else {
			nb := make([]byte, 2*len(b.buf))
			copy(nb, b.buf[:b.w])
			b.buf = nb
		}
	}
	n, err := conn.Read(b.buf[b.w:])
	b.w += n
	if b.w == len(b.buf) && b.r == 0 && len(b.buf) < nativeReadBufMax {
		nb := make([]byte, 2*len(b.buf))
		copy(nb, b.buf[:b.w])
		b.buf = nb
	}
	return n, err
}

// nativeOutQueue is a connection's send side: messages are encoded into pending under mu, and
// the writer goroutine (run) writes all of pending in one Write.
type nativeOutQueue struct {
	mu      sync.Mutex
	cond    sync.Cond // senders waiting for room (DEALER)
	pending []byte
	busy    bool // the writer has been woken and has not yet found pending empty
	dead    bool
	waiters int
	kick    chan struct{}
	direct  []byte // putDirect's encoding buffer, reused
}

func (q *nativeOutQueue) init() {
	q.cond.L = &q.mu
	q.kick = make(chan struct{}, 1)
}

// errNativeQueueDead is returned by put when the connection is gone.
var errNativeQueueDead = errors.New("transport: connection gone")

// put encodes msg (or, with raw set, appends raw bytes) into the queue, waiting for room
// while the queue is above limit. A nil msg with raw bytes never waits (commands such as
// PONG); the ROUTER, which must not wait, checks its budget first and passes no limit.
func (q *nativeOutQueue) put(msg [][]byte, raw []byte, limit int) error {
	q.mu.Lock()
	for {
		if q.dead {
			q.mu.Unlock()
			return errNativeQueueDead
		}
		if msg == nil || len(q.pending) < limit || len(q.pending) == 0 {
			break
		}
		q.waiters++
		q.cond.Wait()
		q.waiters--
	}
	if msg != nil {
		q.pending = zmtpAppendMessage(q.pending, msg)
	} else {
		q.pending = append(q.pending, raw...)
	}
	wake := !q.busy
	q.busy = true
	q.mu.Unlock()
	if wake {
		q.wakeWriter()
	}
	return nil
}

// wakeWriter kicks the writer goroutine; a kick already pending is enough.
func (q *nativeOutQueue) wakeWriter() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// putDirect writes msg to conn on the caller's goroutine when the writer is idle and
// nothing is queued, and queues it as put does otherwise. It saves waking the writer
// goroutine, which on a busy or locked thread can take tens of microseconds: the message
// leaves when its sender says it does. A write error is returned, and the caller ends
// the connection.
func (q *nativeOutQueue) putDirect(msg [][]byte, conn net.Conn, limit int) error {
	q.mu.Lock()
	if q.dead {
		q.mu.Unlock()
		return errNativeQueueDead
	}
	if q.busy || len(q.pending) > 0 {
		q.mu.Unlock()
		return q.put(msg, nil, limit)
	}
	q.busy = true // the writer stays parked; puts meanwhile queue and are kicked below
	buf := zmtpAppendMessage(q.direct[:0], msg)
	q.mu.Unlock()
	var never time.Time
	err := nativeWriteAll(conn, buf, 0, &never)
	q.mu.Lock()
	if cap(buf) <= nativeRetainBuf {
		q.direct = buf
	}
	wake := len(q.pending) > 0 && !q.dead
	if !wake {
		q.busy = false
	}
	q.mu.Unlock()
	if wake {
		q.wakeWriter()
	}
	return err
}

// shutdown marks the queue dead and releases blocked senders.
func (q *nativeOutQueue) shutdown() {
	q.mu.Lock()
	q.dead = true
	q.pending = nil
	q.cond.Broadcast()
	q.mu.Unlock()
}

// run is the writer goroutine's loop. It returns nil when done is closed, or the write
// error that ended the connection. With a timeout, a write that moves no byte for about
// that long (7/8 of it to twice it, see nativeWriteAll) ends it with ErrSlowPeer.
func (q *nativeOutQueue) run(conn net.Conn, timeout time.Duration, done <-chan struct{}) error {
	var spare []byte
	var deadlineSet time.Time
	for {
		select {
		case <-q.kick:
		case <-done:
			return nil
		}
		for {
			q.mu.Lock()
			if q.dead {
				q.mu.Unlock()
				return nil
			}
			if len(q.pending) == 0 {
				q.busy = false
				q.mu.Unlock()
				break
			}
			buf := q.pending
			q.pending = spare[:0]
			if q.waiters > 0 {
				q.cond.Broadcast()
			}
			q.mu.Unlock()
			if err := nativeWriteAll(conn, buf, timeout, &deadlineSet); err != nil {
				return err
			}
			if cap(buf) > nativeRetainBuf {
				buf = nil
			}
			spare = buf
		}
	}
}

// nativeWriteAll writes b, renewing the write deadline lazily: setting a deadline costs a
// timer update, so it is moved only when an eighth of the timeout has gone by. A write that
// times out after moving some bytes is retried with a fresh deadline, so a peer that
// stops reading in the middle of a write is cut off after up to twice the timeout.
func nativeWriteAll(conn net.Conn, b []byte, timeout time.Duration, deadlineSet *time.Time) error {
	for len(b) > 0 {
		if timeout > 0 {
			if now := time.Now(); now.Sub(*deadlineSet) > timeout/8 {
				if err := conn.SetWriteDeadline(now.Add(timeout)); err != nil {
					return nativeIOError("write", err)
				}
				*deadlineSet = now
			}
		}
		n, err := conn.Write(b)
		b = b[n:]
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if n > 0 {
					*deadlineSet = time.Time{}
					continue // slow but moving
				}
				return fmt.Errorf("%w: no byte written for %v (the peer is not reading)", ErrSlowPeer, timeout)
			}
			return nativeIOError("write", err)
		}
	}
	return nil
}

// nativeHandshake runs the ZMTP greeting and READY exchange on conn, which must have a
// deadline set. Our greeting and READY go out in one write, then the peer's are read
// through rb and judged by zmtpHandshake; bytes the peer sent after its READY stay in rb.
// It returns what the peer's READY said.
func nativeHandshake(conn net.Conn, rb *nativeReadBuf, ours string, identity []byte, maxFrame uint64) (zmtpReady, error) {
	out := zmtpAppendGreeting(make([]byte, 0, 128))
	out = zmtpAppendReady(out, ours, identity)
	if _, err := conn.Write(out); err != nil {
		return zmtpReady{}, nativeHandshakeIOError("sending greeting", err)
	}
	var hs zmtpHandshake
	hs.init(ours, maxFrame)
	var readErr error
	for {
		// Bytes that came with a read error are judged first: a peer that sent a bad
		// greeting and hung up is refused for its greeting.
		n, done, err := hs.feed(rb.buf[rb.r:rb.w])
		rb.r += n
		switch {
		case err != nil:
			return zmtpReady{}, err
		case done:
			return hs.peer, nil
		case readErr != nil && hs.got < zmtpGreetingSize:
			return zmtpReady{}, nativeHandshakeIOError(fmt.Sprintf("reading greeting (%d of 64 bytes)", hs.got), readErr)
		case readErr != nil:
			return zmtpReady{}, nativeHandshakeIOError("reading READY", readErr)
		}
		_, readErr = rb.fill(conn)
	}
}

// nativeCommand handles a command frame received after the handshake: a PING is answered
// with a PONG queued on q (pong is the connection's reusable buffer for it), an ERROR ends
// the connection with ErrPeerError, and anything else, malformed commands included, is
// ignored, as libzmq does.
func nativeCommand(cmd []byte, q *nativeOutQueue, pong *[]byte) error {
	name, data, ok := zmtpSplitCommand(cmd)
	if !ok {
		return nil
	}
	switch string(name) {
	case "PING":
		*pong = zmtpAppendCommand((*pong)[:0], "PONG", zmtpPingContext(data))
		_ = q.put(nil, *pong, 0)
	case "ERROR":
		return fmt.Errorf("%w: %q", ErrPeerError, zmtpErrorReason(data))
	}
	return nil
}

// nativeHandshakeIOError names an I/O failure during the handshake: a timeout or a peer
// that hangs up mid-handshake is a bad handshake.
func nativeHandshakeIOError(what string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: timed out %s", ErrBadGreeting, what)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: peer closed the connection while %s", ErrBadGreeting, what)
	}
	return fmt.Errorf("%w: %s: %w", ErrBadGreeting, what, err)
}

// nativeHostPort turns "tcp://host:port" into "host:port"; "*" as the host means every
// interface, as in ZeroMQ endpoints.
func nativeHostPort(endpoint string) (string, error) {
	rest, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return "", fmt.Errorf("transport: endpoint %q: only tcp://host:port is supported", endpoint)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return "", fmt.Errorf("transport: endpoint %q: %v (want tcp://host:port)", endpoint, err)
	}
	if host == "*" {
		host = ""
	}
	return net.JoinHostPort(host, port), nil
}

func dialNative(ctx context.Context, addr string, opts DialOptions) (Dealer, error) {
	return dialNativeDealer(ctx, addr, opts)
}

func listenNative(addr string, opts ListenOptions) (Router, error) {
	return listenNativeRouter(addr, opts)
}
