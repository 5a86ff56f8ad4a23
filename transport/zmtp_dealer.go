package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// nativeDealer is the native DEALER: one TCP connection at a time, replaced with
// exponential backoff when Reconnect is set.
//
// Recv reads and parses in the caller's goroutine (no reader goroutine, no channel per
// message); Send queues into the current connection's nativeOutQueue, whose writer
// goroutine flushes everything queued in one write.
//
// Because reading happens inside Recv, a lost connection is noticed by a Recv (or by a
// failed write), and a PING from the peer is answered while a Recv runs. A load generator
// keeps a Recv outstanding on every connection, so both happen promptly there; a Dealer
// that only sends notices a dead peer when its writes start failing.
type nativeDealer struct {
	endpoint       string // tcp://host:port as given
	nativeHostPort string
	opts           DialOptions
	maxFrame       uint64

	ctx    context.Context // cancelled by Close; bounds reconnect dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // writer and reconnect goroutines

	cur atomic.Pointer[nativeDealerConn] // the live connection, nil while down

	mu       sync.Mutex
	closed   bool
	gone     bool              // disconnected for good (no Reconnect)
	deadline time.Time         // Recv deadline
	rc       *nativeDealerConn // the connection Recv reads (written by Recv under mu)
	waiting  bool              // Recv is waiting for a connection
	changed  chan struct{}

	// Owned by the Recv goroutine.
	acct recvAccount // the decoder buffers' share of DialOptions.RecvBudget, if set
	dec  zmtpDecoder
	msg  zmtpMessage
	pong []byte
}

// nativeDealerConn is one connection of a Dealer.
type nativeDealerConn struct {
	conn   net.Conn
	rb     nativeReadBuf
	q      nativeOutQueue
	done   chan struct{}
	failed atomic.Bool
	once   sync.Once
}

func dialNativeDealer(ctx context.Context, endpoint string, opts DialOptions) (*nativeDealer, error) {
	hp, err := nativeHostPort(endpoint)
	if err != nil {
		return nil, err
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	d := &nativeDealer{
		endpoint:       endpoint,
		nativeHostPort: hp,
		opts:           opts,
		maxFrame:       uint64(opts.MaxFrameSize),
		changed:        make(chan struct{}),
	}
	d.dec.maxFrame = d.maxFrame
	d.dec.msg = &d.msg
	if opts.RecvBudget != nil {
		d.acct.b = opts.RecvBudget
		d.dec.grow = func(buf *[]byte, need int) error { return d.acct.grow(buf, need, nativeReadBufMax) }
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	c, err := d.connect(ctx)
	if err != nil {
		d.cancel()
		emit(opts.OnEvent, ConnectFailed, endpoint, err)
		return nil, err
	}
	d.install(c)
	return d, nil
}

// connect dials and runs the handshake within ConnectTimeout (and ctx).
func (d *nativeDealer) connect(ctx context.Context) (*nativeDealerConn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.ConnectTimeout)
	defer cancel()
	stop := context.AfterFunc(d.ctx, cancel) // Close aborts a dial in progress
	defer stop()
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.nativeHostPort)
	if err != nil {
		return nil, fmt.Errorf("transport: connecting to %s: %w (is the broker running and reachable?)", d.endpoint, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	abort := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	c := &nativeDealerConn{conn: conn, done: make(chan struct{})}
	c.q.init()
	_, err = nativeHandshake(conn, &c.rb, zmtpDealer, d.opts.Identity, d.maxFrame)
	if !abort() || err != nil {
		conn.Close()
		switch {
		case d.ctx.Err() != nil:
			err = ErrClosed
		case errors.Is(ctx.Err(), context.DeadlineExceeded) || !time.Now().Before(dl):
			// (The socket deadline can fire a moment before the context's timer.)
			err = fmt.Errorf("%w: handshake did not finish within %v (is it a ZeroMQ ROUTER? raise ConnectTimeout if it is slow)", ErrBadGreeting, d.opts.ConnectTimeout)
		case ctx.Err() != nil:
			err = fmt.Errorf("handshake abandoned: %w", ctx.Err())
		}
		return nil, fmt.Errorf("transport: connecting to %s: %w", d.endpoint, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// install makes c the live connection and starts its writer. It reports false (and
// closes c) if the Dealer was closed meanwhile.
func (d *nativeDealer) install(c *nativeDealerConn) bool {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.conn.Close()
		return false
	}
	d.cur.Store(c)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := c.q.run(c.conn, 0, c.done); err != nil {
			d.fail(c, err)
		}
	}()
	d.notifyLocked()
	d.mu.Unlock()
	emit(d.opts.OnEvent, Connected, d.endpoint, nil)
	return true
}

// notifyLocked wakes a Recv waiting for a connection. d.mu must be held.
func (d *nativeDealer) notifyLocked() {
	if d.waiting {
		close(d.changed)
		d.changed = make(chan struct{})
		d.waiting = false
	}
}

// fail ends connection c for err (once), reports it and starts reconnecting.
func (d *nativeDealer) fail(c *nativeDealerConn, err error) {
	c.once.Do(func() {
		c.failed.Store(true)
		c.q.shutdown()
		close(c.done)
		c.conn.Close()
		d.mu.Lock()
		d.cur.CompareAndSwap(c, nil)
		closed := d.closed
		reconnect := d.opts.Reconnect && !closed
		if !reconnect {
			d.gone = true
		}
		d.notifyLocked()
		if reconnect {
			d.wg.Add(1)
			go d.reconnect()
		}
		d.mu.Unlock()
		if !closed {
			emit(d.opts.OnEvent, Disconnected, d.endpoint, err)
		}
	})
}

// reconnect dials until it succeeds or the Dealer is closed, waiting ReconnectMin,
// then twice as long each time up to ReconnectMax (±10% jitter, so that many clients
// cut off together do not come back in lockstep).
func (d *nativeDealer) reconnect() {
	defer d.wg.Done()
	wait := d.opts.ReconnectMin
	for {
		jittered := time.Duration(float64(wait) * (0.9 + 0.2*rand.Float64()))
		t := time.NewTimer(jittered)
		select {
		case <-d.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		c, err := d.connect(d.ctx)
		if err == nil {
			d.install(c)
			return
		}
		if d.ctx.Err() != nil {
			return
		}
		emit(d.opts.OnEvent, ConnectFailed, d.endpoint, err)
		wait *= 2
		if wait > d.opts.ReconnectMax {
			wait = d.opts.ReconnectMax
		}
	}
}

// Send queues msg on the live connection. It blocks while the send queue is above its
// high-water mark and returns ErrDisconnected while there is no connection.
func (d *nativeDealer) Send(msg [][]byte) error {
	if len(msg) == 0 {
		return errNativeEmpty
	}
	for {
		c := d.cur.Load()
		if c == nil {
			d.mu.Lock()
			closed := d.closed
			d.mu.Unlock()
			if closed {
				return ErrClosed
			}
			return ErrDisconnected
		}
		err := c.q.put(msg, nil, nativeDealerQueue)
		if err == nil {
			return nil
		}
		// The connection died under us; a reconnect may already have replaced it.
		if d.cur.Load() == c {
			d.cur.CompareAndSwap(c, nil)
		}
	}
}

var _ DirectSender = (*nativeDealer)(nil)

// SendDirect is Send, except that when nothing is queued it writes msg itself, on the
// caller's goroutine, instead of waking the connection's writer (DirectSender).
func (d *nativeDealer) SendDirect(msg [][]byte) error {
	if len(msg) == 0 {
		return errNativeEmpty
	}
	c := d.cur.Load()
	if c == nil {
		return d.Send(msg) // the error Send gives while disconnected or closed
	}
	err := c.q.putDirect(msg, c.conn, nativeDealerQueue)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNativeQueueDead):
		return d.Send(msg) // the connection died under us; a reconnect may have replaced it
	}
	d.fail(c, nativeIOError("write", err))
	return ErrDisconnected
}

// Recv returns the next message. The frames stay valid until the next Recv.
func (d *nativeDealer) Recv() ([][]byte, error) {
	for {
		c := d.rc
		if c == nil || c.failed.Load() {
			var err error
			if c, err = d.adopt(); err != nil {
				return nil, err
			}
		}
		for c.rb.r < c.rb.w {
			n, ev, err := d.dec.feed(c.rb.buf[c.rb.r:c.rb.w])
			c.rb.r += n
			if err != nil {
				d.fail(c, err)
				break
			}
			switch ev {
			case zmtpGotMessage:
				return d.msg.frames, nil
			case zmtpGotCommand:
				if err := nativeCommand(d.dec.cmd, &c.q, &d.pong); err != nil {
					d.fail(c, err)
				}
			}
			if c.failed.Load() {
				break
			}
		}
		if c.failed.Load() {
			continue
		}
		if _, err := c.rb.fill(c.conn); err != nil {
			if c.rb.r < c.rb.w {
				continue // parse what arrived; the error comes back on the next read
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.failed.Load() {
				return nil, ErrTimeout
			}
			if c.failed.Load() {
				continue
			}
			err = nativeIOError("read", err)
			if errors.Is(err, errNativePeerClosed) && d.dec.partial() {
				err = fmt.Errorf("%w: the broker closed the connection inside a message", ErrTruncated)
			}
			d.fail(c, err)
		}
	}
}

// adopt waits for a live connection for Recv, within the Recv deadline.
func (d *nativeDealer) adopt() (*nativeDealerConn, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	d.mu.Lock()
	for {
		if d.closed {
			d.mu.Unlock()
			return nil, ErrClosed
		}
		if c := d.cur.Load(); c != nil && !c.failed.Load() {
			d.rc = c
			d.dec.reset()
			_ = c.conn.SetReadDeadline(d.deadline)
			d.mu.Unlock()
			return c, nil
		}
		if d.gone {
			d.mu.Unlock()
			return nil, ErrDisconnected
		}
		var expired <-chan time.Time
		if !d.deadline.IsZero() {
			left := time.Until(d.deadline)
			if left <= 0 {
				d.mu.Unlock()
				return nil, ErrTimeout
			}
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			expired = timer.C
		}
		d.waiting = true
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-expired:
		}
		d.mu.Lock()
	}
}

// SetRecvDeadline sets the time after which Recv returns ErrTimeout, also for a Recv
// that is already blocked; the zero time removes the deadline.
func (d *nativeDealer) SetRecvDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.deadline = t
	if c := d.rc; c != nil && !c.failed.Load() {
		_ = c.conn.SetReadDeadline(t)
	}
	d.notifyLocked()
	return nil
}

// Close closes the connection, stops reconnecting and waits for every goroutine.
func (d *nativeDealer) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.cancel()
	c := d.cur.Swap(nil)
	d.notifyLocked()
	d.mu.Unlock()
	if c != nil {
		d.fail(c, ErrClosed)
	}
	d.wg.Wait()
	if d.acct.b != nil {
		d.acct.settle(0) // what a Recv still running holds is given back with the rest
	}
	return nil
}

// Compile-time checks that the native types implement the seam.
var (
	_ Dealer    = (*nativeDealer)(nil)
	_ io.Closer = (*nativeDealer)(nil)
)
