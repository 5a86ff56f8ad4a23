package transport

// The zmq4 implementation: a Dealer and a Router on github.com/go-zeromq/zmq4 sockets.
//
// zmq4 hides its connections: it does not say when one is made or lost, a DEALER's Send
// with no connection returns nil and drops the message, a ROUTER's Send to an unknown
// routing id returns nil and drops it, Recv has no timeout (zmq4 issue #37), frames have
// no size limit and a peer that never completes its handshake blocks the ROUTER's accept
// loop. To see what zmq4 does not show, every socket here dials and listens through a
// zmq4 transport of our own ("dmbench-tap", registered once) whose net.Conn wrapper, the
// tap, watches the bytes zmq4 reads: it checks the greeting and READY command as zmq4
// will, learns the peer's socket type and identity, follows frame headers to enforce
// MaxFrameSize and to notice a connection that ends inside a frame, and reports each
// connection's handshake and end to the socket that owns it. The tap embeds the
// *net.TCPConn so that zmq4's vectored writes (net.Buffers) still reach writev: what is
// measured is zmq4's own write path.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	zmq4transport "github.com/go-zeromq/zmq4/transport"
)

// tapScheme is the zmq4 transport name under which tapTransport is registered.
const tapScheme = "dmbench-tap"

// The documented defaults of DialOptions and ListenOptions.
const (
	zmq4DefaultConnectTimeout = 5 * time.Second
	zmq4DefaultReconnectMin   = 100 * time.Millisecond
	zmq4DefaultMaxFrameSize   = 64 << 20
	zmq4DefaultWriteTimeout   = 10 * time.Second
	// tapMaxReadySize bounds the READY command a peer may send during the handshake.
	tapMaxReadySize = 64 << 10
	// zmq4RecvQueue is how many received messages wait between zmq4 and Recv.
	zmq4RecvQueue = 64
)

// errZMQ4HandshakeTimeout ends a connection that did not finish its ZMTP handshake in time.
var errZMQ4HandshakeTimeout = errors.New("transport: ZMTP handshake not completed in time")

var registerTap sync.Once

// registerTapTransport registers tapTransport with zmq4 once per process.
func registerTapTransport() {
	registerTap.Do(func() {
		if err := zmq4.RegisterTransport(tapScheme, tapTransport{}); err != nil {
			panic(fmt.Sprintf("transport: registering the zmq4 tap transport: %v", err))
		}
	})
}

// tapAddr turns "tcp://host:port" into the tap transport's endpoint.
func tapAddr(addr string) (string, error) {
	hostport, ok := strings.CutPrefix(addr, "tcp://")
	if !ok || hostport == "" {
		return "", fmt.Errorf("transport zmq4: address %q: use tcp://host:port", addr)
	}
	return tapScheme + "://" + hostport, nil
}

// tapOwner is the socket a tapped connection reports to. The tap finds its owner in
// the context zmq4 passes to the transport, which is the socket's own context.
type tapOwner interface {
	tapSettings() tapSettings
	// tapReady is called once a connection finished its handshake and zmq4 added it
	// to the socket (or, for the first dial, when Dial returned).
	tapReady(c *tapConn)
	// tapEnded is called once when a connection ends; ready says whether tapReady was
	// called for it.
	tapEnded(c *tapConn, ready bool, err error)
	// tapDialFailed is called when a TCP connect fails.
	tapDialFailed(addr string, err error)
	// tapAdd registers a new connection; false means the owner is closing.
	tapAdd(c *tapConn) bool
	// tapAccepted is called for each accepted TCP connection.
	tapAccepted()
}

// tapSettings are what the tap enforces on each connection.
type tapSettings struct {
	ownType          zmq4.SocketType // this side's socket type
	maxFrame         uint64
	writeTimeout     time.Duration // 0: writes are not bounded
	handshakeTimeout time.Duration
}

type tapKey struct{}

func ownerFrom(ctx context.Context) tapOwner {
	o, _ := ctx.Value(tapKey{}).(tapOwner)
	return o
}

// tapTransport is the zmq4 transport that wraps TCP connections in taps.
type tapTransport struct{}

var _ zmq4transport.Transport = tapTransport{}

// Dial connects to addr over TCP and wraps the connection.
func (tapTransport) Dial(ctx context.Context, dialer zmq4transport.Dialer, addr string) (net.Conn, error) {
	owner := ownerFrom(ctx)
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		if owner != nil && ctx.Err() == nil {
			owner.tapDialFailed(addr, err)
		}
		return nil, err
	}
	return newTapConn(c, owner), nil
}

// Listen listens on addr over TCP (IPv4 only for an IPv4 host, see listenNetwork);
// accepted connections are wrapped.
func (tapTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := net.Listen(listenNetwork(addr), addr)
	if err != nil {
		return nil, err
	}
	return &tapListener{Listener: l, owner: ownerFrom(ctx)}, nil
}

// Addr resolves an endpoint the way zmq4's tcp transport does.
func (tapTransport) Addr(ep string) (string, error) {
	return zmq4transport.New("tcp").Addr(ep)
}

type tapListener struct {
	net.Listener
	owner tapOwner
}

// Accept accepts a TCP connection and wraps it.
func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.owner != nil {
		l.owner.tapAccepted()
	}
	return newTapConn(c, l.owner), nil
}

// tapError is the error a tap returns to zmq4 when it ends a connection. It is a
// net.Error that is not a timeout, so that zmq4 marks the connection closed.
type tapError struct{ err error }

func (e tapError) Error() string   { return e.err.Error() }
func (e tapError) Unwrap() error   { return e.err }
func (e tapError) Timeout() bool   { return false }
func (e tapError) Temporary() bool { return false }

// tapConn is a TCP connection seen by zmq4, with its handshake and frames watched.
type tapConn struct {
	*net.TCPConn // embedded so that net.Buffers.WriteTo still uses writev
	owner        tapOwner
	set          tapSettings
	remote       string

	rd tapReader // read side; used only by the goroutine that reads (zmq4's)

	handshaken atomic.Bool // the peer's READY was read and accepted
	ready      atomic.Bool // reported to the owner with tapReady
	ended      atomic.Bool
	hsTimer    *time.Timer

	wmu          sync.Mutex
	lastDeadline time.Time // last write deadline refresh, under wmu
}

func newTapConn(c net.Conn, owner tapOwner) net.Conn {
	tcp, ok := c.(*net.TCPConn)
	if !ok || owner == nil {
		return c // not ours to watch (another user of the scheme, or not TCP)
	}
	set := owner.tapSettings()
	t := &tapConn{TCPConn: tcp, owner: owner, set: set, remote: c.RemoteAddr().String()}
	t.rd.maxFrame = set.maxFrame
	t.rd.ownType = set.ownType
	if !owner.tapAdd(t) {
		t.ended.Store(true)
		_ = tcp.Close() // the owner is closing
		return t
	}
	if set.writeTimeout > 0 {
		// zmq4's handshake writes come first: bound them too.
		t.lastDeadline = time.Now()
		_ = tcp.SetWriteDeadline(t.lastDeadline.Add(set.writeTimeout))
	}
	if set.handshakeTimeout > 0 {
		t.hsTimer = time.AfterFunc(set.handshakeTimeout, func() {
			if !t.ready.Load() {
				t.fail(errZMQ4HandshakeTimeout)
			}
		})
	}
	return t
}

// markReady reports the connection as usable, once.
func (t *tapConn) markReady() {
	if !t.handshaken.Load() || t.ended.Load() || !t.ready.CompareAndSwap(false, true) {
		return
	}
	if t.hsTimer != nil {
		t.hsTimer.Stop()
	}
	t.owner.tapReady(t)
}

// end reports the connection's end to its owner, once.
func (t *tapConn) end(err error) {
	if !t.ended.CompareAndSwap(false, true) {
		return
	}
	if t.hsTimer != nil {
		t.hsTimer.Stop()
	}
	t.owner.tapEnded(t, t.ready.Load(), err)
}

// fail ends the connection for err and closes it.
func (t *tapConn) fail(err error) {
	t.end(err)
	_ = t.TCPConn.Close()
}

// Read reads from the connection and follows the ZMTP stream.
func (t *tapConn) Read(p []byte) (int, error) {
	if t.rd.phase == tapPhaseData && !t.ready.Load() {
		// zmq4 reads the first message only after adding the connection to the
		// socket's reader and writer: from now on a Send reaches this peer.
		t.markReady()
	}
	n, err := t.TCPConn.Read(p)
	if n > 0 && !t.ended.Load() {
		done, terr := t.rd.feed(p[:n])
		if terr != nil {
			t.fail(terr)
			return 0, tapError{terr}
		}
		if done {
			t.handshaken.Store(true)
		}
	}
	if err != nil {
		switch {
		case errors.Is(err, io.EOF) && t.rd.inFrame():
			t.fail(ErrTruncated)
			return n, tapError{ErrTruncated}
		case errors.Is(err, io.EOF):
			t.end(io.EOF)
		case errors.Is(err, net.ErrClosed):
			t.end(ErrClosed)
		default:
			t.end(err)
		}
	}
	return n, err
}

// Write writes p, bounding the time a peer may leave it blocked when the owner set a
// write timeout. zmq4's vectored writes (DEALER multipart sends) bypass Write and go
// to the embedded TCPConn's writev directly; they are not bounded.
func (t *tapConn) Write(p []byte) (int, error) {
	if t.set.writeTimeout > 0 {
		t.wmu.Lock()
		// Refreshing the deadline at most every half timeout keeps timer churn off
		// the write path; a blocked write then fails after between 1/2 and 1 timeout.
		if now := time.Now(); now.Sub(t.lastDeadline) > t.set.writeTimeout/2 {
			_ = t.TCPConn.SetWriteDeadline(now.Add(t.set.writeTimeout))
			t.lastDeadline = now
		}
		t.wmu.Unlock()
	}
	n, err := t.TCPConn.Write(p)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.fail(ErrSlowPeer)
			return n, tapError{ErrSlowPeer}
		}
		t.end(err)
	}
	return n, err
}

// Close closes the connection.
func (t *tapConn) Close() error {
	t.end(ErrClosed)
	return t.TCPConn.Close()
}

// Phases of the read side of a ZMTP connection.
const (
	tapPhaseGreeting = iota // the 64-byte greeting
	tapPhaseReady           // the peer's READY command
	tapPhaseData            // messages and commands
)

// tapReader follows the bytes zmq4 reads from a connection.
type tapReader struct {
	phase    uint8
	ownType  zmq4.SocketType
	maxFrame uint64

	hdr       [9]byte
	hdrN      int    // header bytes seen of the current frame; 0 between frames
	remaining uint64 // body bytes left in the current frame

	buf []byte // greeting and READY bytes collected during the handshake

	peerType string
	identity []byte
}

// inFrame says whether the stream stopped inside a frame.
func (r *tapReader) inFrame() bool {
	return r.phase == tapPhaseData && (r.hdrN > 0 || r.remaining > 0)
}

// feed follows p, the next bytes read. It returns done when the handshake just
// completed, or the error that must end the connection.
func (r *tapReader) feed(p []byte) (done bool, err error) {
	for len(p) > 0 {
		switch r.phase {
		case tapPhaseGreeting:
			k := min(64-len(r.buf), len(p))
			r.buf = append(r.buf, p[:k]...)
			p = p[k:]
			if len(r.buf) == 64 {
				if err := tapCheckGreeting(r.buf); err != nil {
					return false, err
				}
				r.buf = r.buf[:0]
				r.phase = tapPhaseReady
			}
			continue
		}
		if r.remaining > 0 {
			k := uint64(len(p))
			if k > r.remaining {
				k = r.remaining
			}
			if r.phase == tapPhaseReady {
				r.buf = append(r.buf, p[:k]...)
			}
			r.remaining -= k
			p = p[k:]
			if r.remaining == 0 && r.phase == tapPhaseReady {
				if err := r.readyDone(); err != nil {
					return false, err
				}
				done = true
			}
			continue
		}
		// A frame header: a flags byte, then a 1-byte or 8-byte size.
		if r.hdrN == 0 {
			r.hdr[0] = p[0]
			r.hdrN = 1
			p = p[1:]
			continue
		}
		need := 2
		if r.hdr[0]&0x02 != 0 {
			need = 9
		}
		k := copy(r.hdr[r.hdrN:need], p)
		r.hdrN += k
		p = p[k:]
		if r.hdrN < need {
			continue
		}
		size := uint64(r.hdr[1])
		if need == 9 {
			size = uint64(r.hdr[1])<<56 | uint64(r.hdr[2])<<48 | uint64(r.hdr[3])<<40 |
				uint64(r.hdr[4])<<32 | uint64(r.hdr[5])<<24 | uint64(r.hdr[6])<<16 |
				uint64(r.hdr[7])<<8 | uint64(r.hdr[8])
		}
		r.hdrN = 0
		if r.phase == tapPhaseReady {
			if r.hdr[0]&0x04 == 0 {
				return false, fmt.Errorf("%w: a message came before the READY command", ErrBadGreeting)
			}
			if size > tapMaxReadySize {
				return false, fmt.Errorf("%w: READY command of %d bytes", ErrBadGreeting, size)
			}
			if size == 0 {
				return false, fmt.Errorf("%w: empty command during the handshake", ErrBadGreeting)
			}
		} else if size > r.maxFrame {
			return false, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, size, r.maxFrame)
		}
		r.remaining = size
	}
	return done, nil
}

// tapCheckGreeting accepts what zmq4 accepts: ZMTP 3.x or later, NULL mechanism.
func tapCheckGreeting(g []byte) error {
	if g[0] != 0xFF || g[9] != 0x7F {
		return fmt.Errorf("%w: no ZMTP signature", ErrBadGreeting)
	}
	if g[10] < 3 {
		return fmt.Errorf("%w: ZMTP version %d.%d (3.x needed)", ErrBadGreeting, g[10], g[11])
	}
	mech := g[12:32]
	if i := bytes.IndexByte(mech, 0); i >= 0 {
		mech = mech[:i]
	}
	if string(mech) != "NULL" {
		return fmt.Errorf("%w: mechanism %q (NULL needed)", ErrBadGreeting, mech)
	}
	return nil
}

// readyDone parses the peer's READY command collected in r.buf.
func (r *tapReader) readyDone() error {
	b := r.buf
	if len(b) < 1 || int(b[0]) > len(b)-1 {
		return fmt.Errorf("%w: malformed command", ErrBadGreeting)
	}
	name := string(b[1 : 1+b[0]])
	if name != "READY" {
		return fmt.Errorf("%w: %s command instead of READY", ErrBadGreeting, name)
	}
	b = b[1+len(name):]
	for len(b) > 0 {
		klen := int(b[0])
		if len(b) < 1+klen+4 {
			return fmt.Errorf("%w: malformed READY property", ErrBadGreeting)
		}
		key := string(b[1 : 1+klen])
		b = b[1+klen:]
		vlen := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		b = b[4:]
		if vlen > uint64(len(b)) {
			return fmt.Errorf("%w: malformed READY property %q", ErrBadGreeting, key)
		}
		val := b[:vlen]
		b = b[vlen:]
		switch strings.ToLower(key) {
		case "socket-type":
			r.peerType = string(val)
		case "identity":
			r.identity = append([]byte(nil), val...)
		}
	}
	if !zmq4.SocketType(r.peerType).IsCompatible(r.ownType) || !r.ownType.IsCompatible(zmq4.SocketType(r.peerType)) {
		return fmt.Errorf("%w: peer socket type %q cannot talk to %s", ErrBadGreeting, r.peerType, r.ownType)
	}
	r.buf = nil
	r.phase = tapPhaseData
	return nil
}

// tapSet holds a socket's live tapped connections, so that Close can end connections
// zmq4 does not know yet (still in their handshake).
type tapSet struct {
	mu      sync.Mutex
	closing bool
	conns   map[*tapConn]struct{}
}

func (s *tapSet) add(c *tapConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*tapConn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *tapSet) remove(c *tapConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *tapSet) snapshot() []*tapConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*tapConn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// closeAll refuses new connections and closes the live ones.
func (s *tapSet) closeAll() {
	s.mu.Lock()
	s.closing = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

// drainZMQ4 empties a closed zmq4 socket's receive queue. zmq4's per-connection reader
// goroutines send to that queue without watching the socket's context, so a reader
// holding a message when the queue is full would block for ever after Close. After
// Close, zmq4's Recv picks at random between the queue and the cancelled context, so the
// queue counts as empty only after many errors in a row, over a few scheduling rounds
// that let pending readers deliver.
func drainZMQ4(sock zmq4.Socket) {
	for round := 0; round < 3; round++ {
		for misses := 0; misses < 32; {
			if _, err := sock.Recv(); err != nil {
				misses++
			} else {
				misses, round = 0, 0
			}
		}
		runtime.Gosched()
	}
}

var zmq4DiscardLogger = log.New(io.Discard, "", 0)

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
	ep, err := tapAddr(addr)
	if err != nil {
		return nil, err
	}
	registerTapTransport()
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = zmq4DefaultConnectTimeout
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = zmq4DefaultReconnectMin
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = 5 * time.Second
	}
	opts.ReconnectMax = max(opts.ReconnectMax, opts.ReconnectMin)
	if opts.MaxFrameSize <= 0 {
		opts.MaxFrameSize = zmq4DefaultMaxFrameSize
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
	d.sock = zmq4.NewDealer(context.WithValue(context.Background(), tapKey{}, tapOwner(d)), zopts...)

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
		ownType:          zmq4.Dealer,
		maxFrame:         uint64(d.opts.MaxFrameSize),
		handshakeTimeout: d.opts.ConnectTimeout,
	}
}

func (d *zmq4Dealer) tapAdd(c *tapConn) bool { return d.taps.add(c) }

func (d *zmq4Dealer) tapAccepted() {}

func (d *zmq4Dealer) tapReady(c *tapConn) {
	d.live.Add(1)
	d.event(Event{Kind: Connected, Time: time.Now(), Addr: c.remote})
}

func (d *zmq4Dealer) tapEnded(c *tapConn, ready bool, err error) {
	d.taps.remove(c)
	if d.closed.Load() {
		if ready {
			d.live.Add(-1)
			d.event(Event{Kind: Disconnected, Time: time.Now(), Addr: c.remote, Err: ErrClosed})
		}
		return
	}
	if !ready {
		d.event(Event{Kind: ConnectFailed, Time: time.Now(), Addr: c.remote, Err: err})
		return
	}
	d.live.Add(-1)
	d.event(Event{Kind: Disconnected, Time: time.Now(), Addr: c.remote, Err: err})
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
	d.event(Event{Kind: ConnectFailed, Time: time.Now(), Addr: addr, Err: err})
}

func (d *zmq4Dealer) event(e Event) {
	if d.opts.OnEvent != nil {
		d.opts.OnEvent(e)
	}
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

// zmq4Router is a Router on a zmq4 ROUTER socket.
//
// zmq4 drops a message for an unknown routing id without a word, so Send checks the id
// first against the identities peers sent in their handshake (removed when that peer
// disconnects) and the ids zmq4 made up for peers that sent none, learnt from Recv. An
// id made up by zmq4 cannot be tied to its connection, so it stays known until no
// anonymous peer is connected; a message to it in the meantime is dropped by zmq4.
//
// Other gaps, as far as zmq4 v0.17.0 allows:
//   - zmq4 performs each handshake inside its accept loop: a peer that never completes
//     its handshake holds up other accepts until the tap ends it after the handshake
//     timeout (WriteTimeout, default 10 s).
//   - zmq4 writes to each peer while holding one lock for the whole socket, so a peer
//     that stops reading delays every Send until WriteTimeout ends it (ErrSlowPeer).
//   - zmq4 writes each frame of a ROUTER message with two writes (no writev).
//   - Commands from peers (PING) are dropped; zmq4 does not answer PING with PONG.
//   - OnEvent: Connected after a handshake, Disconnected when a connection ends
//     (including handshakes that failed, with Err saying why).
type zmq4Router struct {
	sock zmq4.Socket
	addr string
	opts ListenOptions
	taps tapSet

	closed atomic.Bool
	once   sync.Once

	accepted     atomic.Uint64
	disconnected atomic.Uint64
	unknownPeer  atomic.Uint64

	mu         sync.Mutex
	peers      int
	identified map[string]int      // handshake identity → live connections with it
	anonLive   int                 // live connections that sent no identity
	anonIDs    map[string]struct{} // ids zmq4 made up, learnt from Recv
	connErrors map[string]uint64
}

var _ Router = (*zmq4Router)(nil)

func listenZMQ4(addr string, opts ListenOptions) (Router, error) {
	ep, err := tapAddr(addr)
	if err != nil {
		return nil, err
	}
	registerTapTransport()
	if opts.MaxFrameSize <= 0 {
		opts.MaxFrameSize = zmq4DefaultMaxFrameSize
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = zmq4DefaultWriteTimeout
	}
	r := &zmq4Router{
		opts:       opts,
		identified: make(map[string]int),
		anonIDs:    make(map[string]struct{}),
		connErrors: make(map[string]uint64),
	}
	ctx := context.WithValue(context.Background(), tapKey{}, tapOwner(r))
	r.sock = zmq4.NewRouter(ctx, zmq4.WithLogger(zmq4DiscardLogger))
	if err := r.sock.Listen(ep); err != nil {
		_ = r.sock.Close()
		return nil, fmt.Errorf("transport zmq4: listen %s: %w", addr, err)
	}
	r.addr = "tcp://" + r.sock.Addr().String()
	return r, nil
}

func (r *zmq4Router) tapSettings() tapSettings {
	return tapSettings{
		ownType:          zmq4.Router,
		maxFrame:         uint64(r.opts.MaxFrameSize),
		writeTimeout:     r.opts.WriteTimeout,
		handshakeTimeout: r.opts.WriteTimeout,
	}
}

func (r *zmq4Router) tapAdd(c *tapConn) bool { return r.taps.add(c) }

func (r *zmq4Router) tapReady(c *tapConn) {
	r.mu.Lock()
	r.peers++
	if len(c.rd.identity) > 0 {
		r.identified[string(c.rd.identity)]++
	} else {
		r.anonLive++
	}
	r.mu.Unlock()
	r.event(Event{Kind: Connected, Time: time.Now(), Addr: c.remote})
}

func (r *zmq4Router) tapEnded(c *tapConn, ready bool, err error) {
	r.taps.remove(c)
	r.disconnected.Add(1)
	r.mu.Lock()
	if ready {
		r.peers--
		if id := string(c.rd.identity); id != "" {
			if r.identified[id]--; r.identified[id] <= 0 {
				delete(r.identified, id)
			}
		} else if r.anonLive--; r.anonLive == 0 {
			clear(r.anonIDs)
		}
	}
	for _, named := range []error{ErrBadGreeting, ErrFrameTooLarge, ErrTruncated, ErrSlowPeer, errZMQ4HandshakeTimeout} {
		if errors.Is(err, named) {
			r.connErrors[named.Error()]++
		}
	}
	r.mu.Unlock()
	if r.closed.Load() && errors.Is(err, ErrClosed) {
		return
	}
	r.event(Event{Kind: Disconnected, Time: time.Now(), Addr: c.remote, Err: err})
}

func (r *zmq4Router) tapDialFailed(string, error) {}

func (r *zmq4Router) tapAccepted() { r.accepted.Add(1) }

func (r *zmq4Router) event(e Event) {
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}

// Recv returns the next message from any peer, its routing id first.
func (r *zmq4Router) Recv() ([][]byte, error) {
	for {
		if r.closed.Load() {
			return nil, ErrClosed
		}
		msg, err := r.sock.Recv()
		if err != nil {
			if r.closed.Load() {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("transport zmq4: router %s: recv: %w", r.addr, err)
		}
		if msg.Type == zmq4.CmdMsg || len(msg.Frames) < 2 {
			continue // PING and other commands
		}
		id := msg.Frames[0]
		r.mu.Lock()
		if r.identified[string(id)] == 0 && r.anonLive > 0 {
			if _, ok := r.anonIDs[string(id)]; !ok {
				r.anonIDs[string(id)] = struct{}{}
			}
		}
		r.mu.Unlock()
		return msg.Frames, nil
	}
}

// Send sends msg[1:] to the peer whose routing id is msg[0].
func (r *zmq4Router) Send(msg [][]byte) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if len(msg) < 2 {
		return errors.New("transport zmq4: router send: a message needs a routing id and at least one frame")
	}
	r.mu.Lock()
	known := r.identified[string(msg[0])] > 0
	if !known && r.anonLive > 0 {
		_, known = r.anonIDs[string(msg[0])]
	}
	r.mu.Unlock()
	if !known {
		r.unknownPeer.Add(1)
		return fmt.Errorf("transport zmq4: router send to %q: %w", msg[0], ErrUnknownPeer)
	}
	if err := r.sock.Send(zmq4.NewMsgFrom(msg...)); err != nil {
		if r.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("transport zmq4: router send to %q: %w", msg[0], err)
	}
	return nil
}

// Addr returns the bound endpoint.
func (r *zmq4Router) Addr() string { return r.addr }

// Stats returns the Router's counters.
func (r *zmq4Router) Stats() RouterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := RouterStats{
		Peers:        r.peers,
		Accepted:     r.accepted.Load(),
		Disconnected: r.disconnected.Load(),
		UnknownPeer:  r.unknownPeer.Load(),
		ConnErrors:   make(map[string]uint64, len(r.connErrors)),
	}
	for k, v := range r.connErrors {
		s.ConnErrors[k] = v
	}
	return s
}

// Close stops listening, closes every connection and waits for zmq4's goroutines to
// be able to stop.
func (r *zmq4Router) Close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		_ = r.sock.Close()
		r.taps.closeAll()
		drainZMQ4(r.sock)
	})
	return nil
}
