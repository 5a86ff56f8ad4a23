package transport

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/go-zeromq/zmq4"
)

// zmq4NamedErrors are the keys of the zmq4 Router's RouterStats.ConnErrors.
var zmq4NamedErrors = []error{
	ErrBadGreeting, ErrFrameTooLarge, ErrTruncated, ErrSlowPeer, ErrPeerError, errZMQ4HandshakeTimeout,
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
	ep, err := tapEndpoint(addr)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	r := &zmq4Router{
		opts:       opts,
		identified: make(map[string]int),
		anonIDs:    make(map[string]struct{}),
		connErrors: make(map[string]uint64),
	}
	r.sock = zmq4.NewRouter(tapContext(r), zmq4.WithLogger(zmq4DiscardLogger))
	if err := r.sock.Listen(ep); err != nil {
		_ = r.sock.Close()
		return nil, fmt.Errorf("transport zmq4: listen %s: %w", addr, err)
	}
	r.addr = "tcp://" + r.sock.Addr().String()
	return r, nil
}

func (r *zmq4Router) tapSettings() tapSettings {
	return tapSettings{
		ownType:          zmtpRouter,
		maxFrame:         uint64(r.opts.MaxFrameSize),
		writeTimeout:     r.opts.WriteTimeout,
		handshakeTimeout: r.opts.WriteTimeout,
	}
}

func (r *zmq4Router) tapAdd(c *tapConn) bool { return r.taps.add(c) }

func (r *zmq4Router) tapReady(c *tapConn) {
	r.mu.Lock()
	r.peers++
	if id := c.rd.identity(); len(id) > 0 {
		r.identified[string(id)]++
	} else {
		r.anonLive++
	}
	r.mu.Unlock()
	emit(r.opts.OnEvent, Connected, c.remote, nil)
}

func (r *zmq4Router) tapEnded(c *tapConn, ready bool, err error) {
	r.taps.remove(c)
	r.disconnected.Add(1)
	r.mu.Lock()
	if ready {
		r.peers--
		if id := string(c.rd.identity()); id != "" {
			if r.identified[id]--; r.identified[id] <= 0 {
				delete(r.identified, id)
			}
		} else if r.anonLive--; r.anonLive == 0 {
			clear(r.anonIDs)
		}
	}
	for _, named := range zmq4NamedErrors {
		if errors.Is(err, named) {
			r.connErrors[named.Error()]++
		}
	}
	r.mu.Unlock()
	if r.closed.Load() && errors.Is(err, ErrClosed) {
		return
	}
	emit(r.opts.OnEvent, Disconnected, c.remote, err)
}

func (r *zmq4Router) tapDialFailed(string, error) {}

func (r *zmq4Router) tapAccepted() { r.accepted.Add(1) }

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
