// Package transport carries ZeroMQ multipart messages over TCP between a DEALER (the load
// generator's clients) and a ROUTER (the reference broker). It knows frames, not commands.
//
// Two implementations sit behind the same interfaces:
//
//   - Native: dmbench's own ZMTP 3.1 implementation (NULL mechanism), built so that the
//     generator is never the bottleneck: buffered reads, one write per message or batch,
//     reusable frame buffers, a writer per connection, O(1) routing-id lookup. Its
//     DEALERs can also run many to one epoll I/O loop (Loop, DialOptions.Loop), with no
//     goroutine per connection, for thousands of mostly idle ones.
//   - ZMQ4: github.com/go-zeromq/zmq4, kept as a second implementation and as the
//     interoperability peer in tests.
//
// Frames returned by Recv are valid until the next call to Recv on the same socket. Frames
// passed to Send may be reused by the caller as soon as Send returns.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Kind names a transport implementation, as given to --transport.
type Kind string

// The transport implementations.
const (
	Native Kind = "native" // dmbench's own ZMTP 3.1
	ZMQ4   Kind = "zmq4"   // github.com/go-zeromq/zmq4
)

// Kinds lists every implementation, the default first.
var Kinds = []Kind{Native, ZMQ4}

// ParseKind returns the Kind named s, or an error that lists the valid names.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("transport %q: unknown (use %q or %q)", s, Native, ZMQ4)
}

// Errors shared by the implementations. Each is matched with errors.Is.
var (
	// ErrClosed is returned by any call on a socket after Close.
	ErrClosed = errors.New("transport: socket closed")
	// ErrTimeout is returned by Recv when the deadline set with SetRecvDeadline passes.
	ErrTimeout = errors.New("transport: receive deadline exceeded")
	// ErrDisconnected is returned by a Dealer's Send or Recv while it has no connection
	// (without Reconnect, the connection is gone for good).
	ErrDisconnected = errors.New("transport: not connected")
	// ErrUnknownPeer is returned by a Router's Send when no connected peer has the
	// routing id in the message's first frame; the message is counted, not sent.
	ErrUnknownPeer = errors.New("transport: no peer with that routing id")
	// ErrBadGreeting closes a connection whose peer sent a greeting or handshake that is
	// not ZMTP 3 or later (a higher version talks 3.x) with the NULL mechanism, a
	// compatible socket type and an identity of at most 255 bytes.
	ErrBadGreeting = errors.New("transport: bad ZMTP greeting or handshake")
	// ErrFrameTooLarge closes a connection whose peer sent a frame above MaxFrameSize.
	ErrFrameTooLarge = errors.New("transport: frame larger than the limit")
	// ErrTruncated closes a connection that ended in the middle of a frame.
	ErrTruncated = errors.New("transport: connection ended inside a frame")
	// ErrSlowPeer closes a connection whose peer stopped reading: its send queue stayed
	// full for longer than the write timeout.
	ErrSlowPeer = errors.New("transport: peer stopped reading")
	// ErrPeerError closes a connection whose peer sent a ZMTP ERROR command; the wrapped
	// message carries the peer's reason. (After the handshake only the native sockets
	// act on ERROR; zmq4 drops commands.)
	ErrPeerError = errors.New("transport: peer sent a ZMTP ERROR command")
)

// Dealer is the client side: one connection to a ROUTER.
//
// Send may be called from several goroutines; Recv from one goroutine at a time.
type Dealer interface {
	// Send sends one multipart message (at least one frame). It returns ErrDisconnected
	// while there is no connection instead of dropping the message silently.
	Send(msg [][]byte) error
	// Recv returns the next multipart message. The frames are valid until the next Recv.
	Recv() ([][]byte, error)
	// SetRecvDeadline makes Recv return ErrTimeout once t has passed; zero t removes it.
	SetRecvDeadline(t time.Time) error
	// Close closes the connection and stops every goroutine the Dealer started.
	Close() error
}

// DirectSender is a Dealer that can write a message on the caller's goroutine when
// nothing is queued, instead of waking a writer goroutine: one wake-up less between a
// send and the wire. The native DEALER is one; the load generator's pacer uses it.
type DirectSender interface {
	SendDirect(msg [][]byte) error
}

// Router is the server side: it listens and talks to many DEALER peers.
//
// Recv is called from one goroutine at a time; Send may be called from several.
type Router interface {
	// Recv returns the next message from any peer. Frame 0 is the peer's routing id,
	// the rest are the frames the peer sent. The frames are valid until the next Recv.
	Recv() ([][]byte, error)
	// Send sends msg[1:] to the peer whose routing id is msg[0]. A message for an
	// unknown peer returns ErrUnknownPeer and is counted in Stats.
	Send(msg [][]byte) error
	// Addr returns the bound endpoint, e.g. "tcp://127.0.0.1:40123".
	Addr() string
	// Stats returns the socket's counters.
	Stats() RouterStats
	// Close stops listening, closes every connection and stops every goroutine.
	Close() error
}

// RouterStats counts what a Router saw since it started.
//
// The memory budget's gauges and counters (from RetainedRecvBytes on) are the native
// ROUTER's; the zmq4 ROUTER leaves them zero. "Retained" bytes are received messages the
// consumer has not released, counted with their buffers (ListenOptions.MaxRecvRetained);
// "queued" bytes are encoded outgoing messages not yet written to their sockets
// (ListenOptions.MaxSendQueued). A peak is the highest value since the Router started.
type RouterStats struct {
	Peers        int    // peers connected now
	Accepted     uint64 // connections accepted
	Disconnected uint64 // connections ended, for any reason
	UnknownPeer  uint64 // messages sent to a routing id with no peer
	// ConnErrors counts connections closed for a named error, keyed by the error's
	// text (ErrBadGreeting, ErrFrameTooLarge, ErrTruncated, ErrSlowPeer, ...).
	ConnErrors map[string]uint64

	RetainedRecvBytes     int64  // received bytes retained now, all connections
	PeakRetainedRecvBytes int64  // the peak of RetainedRecvBytes
	PeakConnRecvBytes     int64  // the highest any one connection retained
	PooledRecvBytes       int64  // released message buffers kept for reuse (bounded apart)
	RecvPauses            uint64 // times a connection stopped reading at a receive cap
	QueuedSendBytes       int64  // outgoing bytes queued now, all peers
	PeakQueuedSendBytes   int64  // the peak of QueuedSendBytes
	PeakConnSendBytes     int64  // the most any one peer had queued
	// SendDropped counts messages Send dropped because the peer's queue or the total
	// would pass its cap (Send returned an error wrapping ErrSlowPeer); SendDroppedBytes
	// is their encoded size.
	SendDropped      uint64
	SendDroppedBytes uint64
	// PongsDropped counts PONGs (answers to a peer's ZMTP PING) not queued because the
	// peer's send queue was at its cap.
	PongsDropped uint64
}

// EventKind says what happened to a connection.
type EventKind int

// Connection events.
const (
	Connected     EventKind = iota + 1 // a connection completed its handshake
	Disconnected                       // a connection ended; Event.Err says why
	ConnectFailed                      // a connection attempt failed; Event.Err says why
)

// String returns the event kind's name.
func (k EventKind) String() string {
	switch k {
	case Connected:
		return "connected"
	case Disconnected:
		return "disconnected"
	case ConnectFailed:
		return "connect-failed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a change in a connection's life, so that the load generator can count
// disconnects and act on them instead of losing messages silently.
type Event struct {
	Kind EventKind
	Time time.Time
	Addr string // the remote address
	Err  error  // why, for Disconnected and ConnectFailed
}

// emit reports an event of kind, now, to f (OnEvent), if set.
func emit(f func(Event), kind EventKind, addr string, err error) {
	if f != nil {
		f(Event{Kind: kind, Time: time.Now(), Addr: addr, Err: err})
	}
}

// DialOptions configure a Dealer. The zero value is usable.
type DialOptions struct {
	// Identity is sent in the READY command; empty lets the ROUTER assign one.
	Identity []byte
	// ConnectTimeout bounds the first connection (TCP and handshake); 0 means 5 s.
	ConnectTimeout time.Duration
	// Reconnect, when set, reconnects after a lost connection with exponential backoff
	// from ReconnectMin (default 100 ms) up to ReconnectMax (default 5 s).
	Reconnect    bool
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// MaxFrameSize closes the connection on a larger incoming frame; 0 means 64 MiB.
	MaxFrameSize int64
	// RecvBudget, if set, bounds what the DEALERs sharing it hold for incoming messages
	// (see RecvBudget); without it a Loop DEALER shares its Loop's budget of
	// DefaultRecvBudget bytes and a goroutine DEALER has none but MaxFrameSize.
	RecvBudget *RecvBudget
	// OnEvent, if set, is called for every connection event. It must not block.
	OnEvent func(Event)
	// Loop, if set, runs the native DEALER on that I/O loop instead of goroutines of
	// its own (see Loop). The zmq4 implementation refuses it.
	Loop *Loop
	// Handler, with Loop, receives the DEALER's messages and wake-ups on the Loop's
	// goroutine instead of Recv.
	Handler Handler
}

// ListenOptions configure a Router. The zero value is usable.
//
// The Max*Retained and Max*Queued fields are the native ROUTER's memory budget, which keeps
// a server bounded whatever its peers send (the zmq4 ROUTER ignores them; libzmq's
// high-water marks play their part there). Received and outgoing bytes are capped per
// connection and over all connections:
//
//   - Receiving: a connection stops reading while it holds messages the consumer has not
//     released (Router.Recv hands a message out; the next Recv releases it) and its
//     retained bytes are at MaxRecvRetained or every connection's together at
//     MaxRecvRetainedTotal. TCP then pushes back on that peer alone, and reading resumes
//     as the consumer releases the connection's messages. A connection that holds no
//     unreleased message may always read one, however large (up to twice MaxFrameSize):
//     no peer is starved by others at the total, and a message above the cap still gets
//     through. So a connection retains at most its cap plus one message (the one that
//     crossed it), and all together at most the total cap plus one message per
//     connection.
//   - Sending: a Send that would take the peer's queued bytes above MaxSendQueued, or
//     every peer's together above MaxSendQueuedTotal, is dropped: Send returns an error
//     wrapping ErrSlowPeer and RouterStats counts it (SendDropped). Half the total is
//     kept for shares: a peer whose queued bytes stay within its share (half of
//     MaxSendQueuedTotal divided by the peers connected) may always queue, and beyond its
//     share a peer queues only while all together stay within the other half. So peers
//     that read their replies are served while peers that do not read fill their half,
//     and the total is never passed. A peer with nothing queued may pass its own cap with
//     one message (a large reply is not refused for its size alone). A peer that reads
//     nothing for WriteTimeout is closed (ErrSlowPeer), which empties its queue.
//
// Per-connection costs outside the budget are small and fixed: a read buffer (up to
// 64 KiB) and a pool of released message buffers kept for reuse (up to 256 KiB, or a
// quarter of MaxRecvRetained if less; 64 MiB over all connections, or a quarter of
// MaxRecvRetainedTotal if less), and the writer's spare buffer (up to 256 KiB).
type ListenOptions struct {
	// MaxFrameSize closes a connection that sends a larger frame; 0 means 64 MiB.
	MaxFrameSize int64
	// WriteTimeout closes a connection that does not read for this long while its
	// send queue is full (ErrSlowPeer); 0 means 10 s.
	WriteTimeout time.Duration
	// MaxRecvRetained caps the bytes one connection's received messages retain until
	// the consumer releases them; 0 means DefaultMaxRecvRetained (4 MiB).
	MaxRecvRetained int64
	// MaxRecvRetainedTotal caps the same over all connections; 0 means
	// DefaultMaxRecvRetainedTotal (256 MiB).
	MaxRecvRetainedTotal int64
	// MaxSendQueued caps one peer's queued outgoing bytes; 0 means DefaultMaxSendQueued
	// (4 MiB).
	MaxSendQueued int64
	// MaxSendQueuedTotal caps every peer's queued outgoing bytes together; 0 means
	// DefaultMaxSendQueuedTotal (256 MiB).
	MaxSendQueuedTotal int64
	// OnEvent, if set, is called for every connection event. It must not block.
	OnEvent func(Event)
	// OnAcceptError, if set, is called each time accepting a connection fails, for
	// example with EMFILE when the process has no file descriptor left (errors.Is
	// matches syscall.EMFILE and ENFILE); the router backs off, 5 ms doubling to 1 s,
	// and tries again. It must not block. Native ROUTER only.
	OnAcceptError func(error)
}

// The defaults of ListenOptions' memory budget, in bytes.
const (
	DefaultMaxRecvRetained      = 4 << 20
	DefaultMaxRecvRetainedTotal = 256 << 20
	DefaultMaxSendQueued        = 4 << 20
	DefaultMaxSendQueuedTotal   = 256 << 20
)

// The defaults of DialOptions and ListenOptions, as their fields document them.
const (
	defaultConnectTimeout = 5 * time.Second
	defaultReconnectMin   = 100 * time.Millisecond
	defaultReconnectMax   = 5 * time.Second
	defaultMaxFrameSize   = 64 << 20
	defaultWriteTimeout   = 10 * time.Second
)

// withDefaults returns o with every zero field set to its default (and ReconnectMax
// raised to ReconnectMin), or an error for an Identity longer than ZMTP allows.
func (o DialOptions) withDefaults() (DialOptions, error) {
	if len(o.Identity) > zmtpMaxIdentity {
		return o, fmt.Errorf("transport: identity of %d bytes: ZMTP allows at most %d", len(o.Identity), zmtpMaxIdentity)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = defaultReconnectMin
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = defaultReconnectMax
	}
	o.ReconnectMax = max(o.ReconnectMax, o.ReconnectMin)
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = defaultMaxFrameSize
	}
	return o, nil
}

// withDefaults returns o with every zero field set to its default.
func (o ListenOptions) withDefaults() ListenOptions {
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = defaultMaxFrameSize
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
	if o.MaxRecvRetained <= 0 {
		o.MaxRecvRetained = DefaultMaxRecvRetained
	}
	if o.MaxRecvRetainedTotal <= 0 {
		o.MaxRecvRetainedTotal = DefaultMaxRecvRetainedTotal
	}
	if o.MaxSendQueued <= 0 {
		o.MaxSendQueued = DefaultMaxSendQueued
	}
	if o.MaxSendQueuedTotal <= 0 {
		o.MaxSendQueuedTotal = DefaultMaxSendQueuedTotal
	}
	return o
}

// Dial connects a DEALER to the ROUTER at addr ("tcp://host:port") with the given
// implementation. It returns once the handshake is done, or an error after
// ConnectTimeout or when ctx ends.
func Dial(ctx context.Context, kind Kind, addr string, opts DialOptions) (Dealer, error) {
	switch {
	case opts.Handler != nil && opts.Loop == nil:
		return nil, errors.New("transport: a Handler needs a Loop (DialOptions.Loop)")
	case opts.Loop != nil && kind == ZMQ4:
		return nil, fmt.Errorf("transport: the %s DEALER cannot run on a Loop (use %s)", ZMQ4, Native)
	}
	switch kind {
	case Native, "":
		if opts.Loop == nil {
			opts.Loop = nativeTestLoop
		}
		if opts.Loop != nil {
			return dialLoop(ctx, addr, opts)
		}
		return dialNative(ctx, addr, opts)
	case ZMQ4:
		return dialZMQ4(ctx, addr, opts)
	}
	_, err := ParseKind(string(kind))
	return nil, err
}

// nativeTestLoop, when set (by the package's tests only), is the Loop of every native
// DEALER dialled without one, so that the whole suite runs on Loops too.
var nativeTestLoop *Loop

// Listen binds a ROUTER at addr ("tcp://host:port"; port 0 lets the kernel choose). An
// IPv4 host listens on IPv4 only: tcp://0.0.0.0:P is not also [::]:P, as Go's "tcp"
// network would make it. Other hosts (IPv6 addresses, names) listen as "tcp" does.
func Listen(kind Kind, addr string, opts ListenOptions) (Router, error) {
	switch kind {
	case Native, "":
		return listenNative(addr, opts)
	case ZMQ4:
		return listenZMQ4(addr, opts)
	}
	_, err := ParseKind(string(kind))
	return nil, err
}

// listenNetwork returns the network to listen on at hostport: "tcp4" when its host is an
// IPv4 address, so that 0.0.0.0 binds IPv4 alone (net.Listen("tcp", "0.0.0.0:P") takes
// both stacks), else "tcp".
func listenNetwork(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return "tcp"
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return "tcp4"
	}
	return "tcp"
}
