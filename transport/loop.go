package transport

import (
	"errors"
	"time"
)

// A Loop runs native DEALER connections on non-blocking sockets, many to one goroutine,
// instead of a reader and a writer goroutine each: the shape for thousands of mostly idle
// connections, where waking two goroutines per message costs more than the message.
//
// One goroutine per Loop waits in epoll for any of its sockets to become readable (or
// writable, while output is held back), reads each ready socket once into the Loop's
// shared buffer and hands every complete message to the connection's Handler on that
// goroutine. Connecting, the ZMTP handshake, reconnecting with backoff and receive
// deadlines all run on it too, timed by one heap of deadlines: an idle connection is in
// no goroutine and wakes nothing. Sends are written by the goroutine that sends them
// when nothing is queued (one write, as SendDirect does for the goroutine DEALER);
// otherwise they are queued and the Loop writes the queue in one write when the socket
// can take it. Linux only (epoll); NewLoop elsewhere returns ErrNoLoop.
//
// A DEALER runs on a Loop when DialOptions.Loop is set. Without a Handler its messages
// are queued for Recv, so it behaves as the goroutine DEALER does (and passes the same
// tests); with a Handler, Recv is not used and nothing is queued.
//
// The Loop's own buffer serves every read, so a connection keeps only what a message
// split across reads needs (its decoder's message buffer): tens of bytes for DMB's
// requests. Those buffers are charged to DialOptions.RecvBudget, or to a budget of
// DefaultRecvBudget bytes that the Loop's DEALERs dialled without one share.
type Loop struct {
	impl *loopImpl
}

// Handler receives a Loop DEALER's messages and wake-ups. Every call is made on the
// Loop's goroutine, one at a time for all of its connections, and must not block. A
// Handler may call the Dealer's methods, Close included.
type Handler interface {
	// Message is called for each message received. The frames are valid only during
	// the call.
	Message(frames [][]byte)
	// Wake is called once the receive deadline set with SetRecvDeadline has passed
	// (instead of Recv returning ErrTimeout). The deadline is then cleared.
	Wake()
	// Closed is called once, last, after Close or after the Loop closed.
	Closed()
}

// LoopOptions configure a Loop. The zero value is usable.
type LoopOptions struct {
	// AfterEvents, if set, is called on the Loop's goroutine after each round of events
	// and deadlines. It returns the time by which it wants to be called again (the zero
	// time: no need), so that a Loop's user can batch work across its connections.
	AfterEvents func(now time.Time) time.Time
}

// Errors of Loop DEALERs.
var (
	// ErrNoLoop is returned by NewLoop where Loops are not supported (not Linux).
	ErrNoLoop = errors.New("transport: I/O loops need Linux (epoll); dial without a Loop")
	// ErrRecvBudget closes a DEALER's connection whose incoming message would take the
	// buffers charged to its RecvBudget above the budget.
	ErrRecvBudget = errors.New("transport: receive budget of the I/O loop exhausted")
	// ErrHandlerRecv is returned by Recv on a Loop DEALER that has a Handler: its messages
	// go to the Handler.
	ErrHandlerRecv = errors.New("transport: Recv on a DEALER whose messages go to a Handler")
)

// NewLoop starts an I/O loop. Close it after closing its DEALERs (Close closes any that
// are left).
func NewLoop(opts LoopOptions) (*Loop, error) {
	impl, err := newLoopImpl(opts)
	if err != nil {
		return nil, err
	}
	return &Loop{impl: impl}, nil
}

// Close closes every DEALER still on the Loop (their Handlers' Closed is called) and
// stops its goroutine. It waits for both.
func (l *Loop) Close() error {
	return l.impl.close()
}
