package transport

// The tap: a zmq4 transport ("dmbench-tap", registered once) whose net.Conn wrapper
// watches the bytes zmq4 reads. It runs them through the same ZMTP code as the native
// sockets (zmtpHandshake in zmtp_handshake.go, then a zmtpDecoder that follows frame
// boundaries, zmtp_codec.go), so it refuses the peers the native sockets refuse, before
// zmq4 acts on their bytes; it
// learns the peer's identity, enforces MaxFrameSize, notices a connection that ends inside
// a frame or a multipart message, and reports each connection's handshake and end to the
// socket that owns it. The tap embeds the *net.TCPConn so that zmq4's vectored writes
// (net.Buffers) still reach writev: what is measured is zmq4's own write path.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	zmq4transport "github.com/go-zeromq/zmq4/transport"
)

// tapScheme is the zmq4 transport name under which tapTransport is registered.
const tapScheme = "dmbench-tap"

// errZMQ4HandshakeTimeout ends a connection that did not finish its ZMTP handshake in time.
var errZMQ4HandshakeTimeout = errors.New("transport: ZMTP handshake not completed in time")

var registerTap sync.Once

// tapEndpoint turns "tcp://host:port" into the tap transport's endpoint, registering the
// tap with zmq4 the first time.
func tapEndpoint(addr string) (string, error) {
	hostport, ok := strings.CutPrefix(addr, "tcp://")
	if !ok || hostport == "" {
		return "", fmt.Errorf("transport zmq4: address %q: use tcp://host:port", addr)
	}
	registerTap.Do(func() {
		if err := zmq4.RegisterTransport(tapScheme, tapTransport{}); err != nil {
			panic(fmt.Sprintf("transport: registering the zmq4 tap transport: %v", err))
		}
	})
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
	ownType          string // this side's socket type as READY names it (zmtpDealer, zmtpRouter)
	maxFrame         uint64
	writeTimeout     time.Duration // 0: writes are not bounded
	handshakeTimeout time.Duration
}

type tapKey struct{}

// tapContext is the context to make owner's zmq4 socket with: zmq4 passes the socket's
// context to the transport, where ownerFrom finds the owner again.
func tapContext(owner tapOwner) context.Context {
	return context.WithValue(context.Background(), tapKey{}, owner)
}

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
	t.rd.init(set.ownType, set.maxFrame)
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
	if t.rd.handshaken() && !t.ready.Load() {
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
		case errors.Is(err, io.EOF) && t.rd.partial():
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

// tapReader follows the bytes zmq4 reads from a connection with the shared ZMTP code.
// It is used only by the goroutine that reads (zmq4's).
type tapReader struct {
	hs  zmtpHandshake
	dec zmtpDecoder // the traffic after the handshake, followed without keeping bodies
}

func (r *tapReader) init(ours string, maxFrame uint64) {
	r.hs.init(ours, maxFrame)
	r.dec = zmtpDecoder{maxFrame: maxFrame, follow: true}
}

// handshaken says whether the peer's READY was read and accepted.
func (r *tapReader) handshaken() bool { return r.hs.done }

// identity is the Identity the peer's READY gave, nil if none.
func (r *tapReader) identity() []byte { return r.hs.peer.identity }

// partial says whether the stream stopped inside a frame or a multipart message.
func (r *tapReader) partial() bool { return r.hs.done && r.dec.partial() }

// feed follows p, the next bytes read. It returns done when the handshake just
// completed, or the error that must end the connection.
func (r *tapReader) feed(p []byte) (done bool, err error) {
	if !r.hs.done {
		n, ok, err := r.hs.feed(p)
		if err != nil || !ok {
			return false, err
		}
		p, done = p[n:], true
	}
	for len(p) > 0 {
		n, _, err := r.dec.feed(p) // commands (PING) are zmq4's to handle
		if err != nil {
			return done, err
		}
		p = p[n:]
	}
	return done, nil
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
