package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// zmq4RecvQueue is how many received messages wait between zmq4 and Recv.
const zmq4RecvQueue = 64

// zmq4Dealer is a Dealer on a zmq4 DEALER socket.
//
// Gaps, as far as zmq4 v0.17.0 allows:
//   - Without Identity zmq4 sends a random UUID as the identity instead of letting the
//     ROUTER assign one.
//   - Reconnect: zmq4.WithAutomaticReconnect redials from inside the zmq4 goroutine that
//     saw the connection fail; when that is a Send, zmq4 re-takes its own writer lock and
//     the Send never returns. So the Dealer redials itself instead, through the same
//     zmq4 socket (Socket.Dial adds the new connection to it), with exponential backoff
//     from ReconnectMin to ReconnectMax, until it succeeds or the Dealer is closed.
//   - Send returns ErrDisconnected once the tap has seen the connection end; a message
//     sent in the instant between the end and the tap seeing it is dropped by zmq4.
//   - Commands from the peer (PING) reach zmq4's reader as messages; they are dropped
//     here, and zmq4 does not answer PING with PONG, so a libzmq peer with
//     ZMQ_HEARTBEAT_TIMEOUT set disconnects it.
//   - OnEvent: Connected after the handshake, Disconnected when the connection ends,
//     ConnectFailed for each failed TCP connect or handshake.
type zmq4Dealer struct {
	sock zmq4.Socket
	addr string // tcp://host:port
	ep   string // the tap endpoint
	opts DialOptions
	taps tapSet

	live      atomic.Int32 // connections that completed their handshake and are up
	closed    atomic.Bool
	once      sync.Once
	done      chan struct{} // closed by Close
	redialing atomic.Bool
	redials   sync.WaitGroup

	msgs       chan [][]byte // messages read by readLoop
	failed     chan struct{} // closed by readLoop when the connection is gone for good
	failErr    error         // why; written before failed is closed
	readerDone chan struct{}

	dlMu      sync.Mutex
	deadline  time.Time
	dlChanged chan struct{}
	timer     *time.Timer // used only by Recv
}

var _ Dealer = (*zmq4Dealer)(nil)

func dialZMQ4(ctx context.Context, addr string, opts DialOptions) (Dealer, error) {
	ep, err := tapEndpoint(addr)
	if err != nil {
		return nil, err
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	d := &zmq4Dealer{
		addr:       addr,
		ep:         ep,
		opts:       opts,
		done:       make(chan struct{}),
		msgs:       make(chan [][]byte, zmq4RecvQueue),
		failed:     make(chan struct{}),
		readerDone: make(chan struct{}),
		dlChanged:  make(chan struct{}, 1),
	}
	zopts := []zmq4.Option{
		zmq4.WithLogger(zmq4DiscardLogger),
		zmq4.WithDialerTimeout(opts.ConnectTimeout),
		zmq4.WithDialerMaxRetries(0), // one attempt per Dial: the Dealer retries itself
	}
	if len(opts.Identity) > 0 {
		zopts = append(zopts, zmq4.WithID(zmq4.SocketIdentity(opts.Identity)))
	}
	d.sock = zmq4.NewDealer(tapContext(d), zopts...)

	if err := d.connect(ctx); err != nil {
		d.shutdown()
		return nil, fmt.Errorf("transport zmq4: dial %s: %w", addr, err)
	}
	go d.readLoop()
	return d, nil
}

// connect makes the first connection, retrying every ReconnectMin while the peer
// refuses, until ConnectTimeout passes or ctx ends.
func (d *zmq4Dealer) connect(ctx context.Context) error {
	dialCtx, cancel := context.WithTimeout(ctx, d.opts.ConnectTimeout)
	defer cancel()
	// zmq4's Dial takes no context: end a connect or handshake in progress by
	// closing the socket.
	stop := context.AfterFunc(dialCtx, func() {
		_ = d.sock.Close()
		d.taps.closeAll()
	})
	defer stop()
	for {
		err := d.sock.Dial(d.ep)
		if dialCtx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("no connection within %v (is a ROUTER listening there?): last error: %v",
				d.opts.ConnectTimeout, err)
		}
		if err == nil {
			// The handshake completed and zmq4 has added the connection.
			for _, c := range d.taps.snapshot() {
				c.markReady()
			}
			if d.live.Load() > 0 {
				return nil
			}
			err = errors.New("the connection ended during the handshake")
		}
		if errors.Is(err, ErrBadGreeting) {
			return err
		}
		select {
		case <-dialCtx.Done():
		case <-time.After(d.opts.ReconnectMin):
		}
	}
}

// redial reconnects after a lost connection, with exponential backoff.
func (d *zmq4Dealer) redial() {
	defer d.redials.Done()
	defer d.redialing.Store(false)
	wait := d.opts.ReconnectMin
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-timer.C:
		}
		if err := d.sock.Dial(d.ep); err == nil {
			for _, c := range d.taps.snapshot() {
				c.markReady()
			}
			if d.live.Load() > 0 {
				return
			}
		}
		wait = min(2*wait, d.opts.ReconnectMax)
		timer.Reset(wait)
	}
}

func (d *zmq4Dealer) tapSettings() tapSettings {
	return tapSettings{
		ownType:          zmtpDealer,
		maxFrame:         uint64(d.opts.MaxFrameSize),
		handshakeTimeout: d.opts.ConnectTimeout,
	}
}

func (d *zmq4Dealer) tapAdd(c *tapConn) bool { return d.taps.add(c) }

func (d *zmq4Dealer) tapAccepted() {}

func (d *zmq4Dealer) tapReady(c *tapConn) {
	d.live.Add(1)
	emit(d.opts.OnEvent, Connected, c.remote, nil)
}

func (d *zmq4Dealer) tapEnded(c *tapConn, ready bool, err error) {
	d.taps.remove(c)
	if d.closed.Load() {
		if ready {
			d.live.Add(-1)
			emit(d.opts.OnEvent, Disconnected, c.remote, ErrClosed)
		}
		return
	}
	if !ready {
		emit(d.opts.OnEvent, ConnectFailed, c.remote, err)
		return
	}
	d.live.Add(-1)
	emit(d.opts.OnEvent, Disconnected, c.remote, err)
	if d.opts.Reconnect && d.redialing.CompareAndSwap(false, true) {
		d.redials.Add(1)
		if d.closed.Load() { // Close may have waited for redials already
			d.redials.Done()
			d.redialing.Store(false)
			return
		}
		go d.redial()
	}
}

func (d *zmq4Dealer) tapDialFailed(addr string, err error) {
	emit(d.opts.OnEvent, ConnectFailed, addr, err)
}

// readLoop moves messages from zmq4 to msgs, so that Recv can wait with a deadline.
// zmq4 allocates new frames for every message it reads and never reuses them, so
// they are handed on without a copy.
func (d *zmq4Dealer) readLoop() {
	defer close(d.readerDone)
	for {
		msg, err := d.sock.Recv()
		if err != nil {
			if d.closed.Load() {
				return
			}
			if d.opts.Reconnect {
				continue // that connection is gone; redial brings another
			}
			d.failErr = fmt.Errorf("transport zmq4: dealer %s: %w (%v)", d.addr, ErrDisconnected, err)
			close(d.failed)
			return
		}
		if msg.Type == zmq4.CmdMsg {
			continue // PING and other commands
		}
		select {
		case d.msgs <- msg.Frames:
		case <-d.done:
			return
		}
	}
}

// Send sends msg as one multipart message.
func (d *zmq4Dealer) Send(msg [][]byte) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if len(msg) == 0 {
		return errors.New("transport zmq4: send: a message needs at least one frame")
	}
	if d.live.Load() == 0 {
		return fmt.Errorf("transport zmq4: dealer %s: send: %w", d.addr, ErrDisconnected)
	}
	if err := d.sock.SendMulti(zmq4.NewMsgFrom(msg...)); err != nil {
		if d.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("transport zmq4: dealer %s: send: %w (%v)", d.addr, ErrDisconnected, err)
	}
	return nil
}

// Recv returns the next message, waiting at most until the receive deadline.
func (d *zmq4Dealer) Recv() ([][]byte, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	select {
	case m := <-d.msgs:
		return m, nil
	default:
	}
	for {
		d.dlMu.Lock()
		dl := d.deadline
		d.dlMu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			wait := time.Until(dl)
			if wait <= 0 {
				return nil, ErrTimeout
			}
			if d.timer == nil {
				d.timer = time.NewTimer(wait)
			} else {
				d.timer.Reset(wait)
			}
			timeout = d.timer.C
		}
		select {
		case m := <-d.msgs:
			d.stopTimer(timeout)
			return m, nil
		case <-d.failed:
			d.stopTimer(timeout)
			select {
			case m := <-d.msgs:
				return m, nil
			default:
				return nil, d.failErr
			}
		case <-d.done:
			d.stopTimer(timeout)
			return nil, ErrClosed
		case <-timeout:
			return nil, ErrTimeout
		case <-d.dlChanged:
			d.stopTimer(timeout)
		}
	}
}

func (d *zmq4Dealer) stopTimer(armed <-chan time.Time) {
	if armed != nil {
		d.timer.Stop()
	}
}

// SetRecvDeadline sets the time after which Recv returns ErrTimeout; zero removes it.
// It takes effect on a Recv already waiting.
func (d *zmq4Dealer) SetRecvDeadline(t time.Time) error {
	if d.closed.Load() {
		return ErrClosed
	}
	d.dlMu.Lock()
	d.deadline = t
	d.dlMu.Unlock()
	select {
	case d.dlChanged <- struct{}{}:
	default:
	}
	return nil
}

// Close closes the connection and waits for the Dealer's goroutines to stop.
func (d *zmq4Dealer) Close() error {
	d.once.Do(func() {
		close(d.done)
		d.shutdown()
		d.redials.Wait()
		<-d.readerDone
	})
	return nil
}

// shutdown closes the zmq4 socket and every tapped connection.
func (d *zmq4Dealer) shutdown() {
	d.closed.Store(true)
	_ = d.sock.Close()
	d.taps.closeAll()
	drainZMQ4(d.sock)
}
