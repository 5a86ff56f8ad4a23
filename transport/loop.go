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
// A Manual Loop has no goroutine until Start: its owner (a timing thread that sleeps
// anyway) serves it with Poll, so that a reply wakes no other thread. With
// RecvTimestamps every message carries the kernel's arrival time, so its owner may read
// it later without timing it later.
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
	// Message is called for each message received, with the time it arrived: the
	// kernel's receive timestamp of the read that completed it when the Loop has
	// RecvTimestamps (so a message read late is not timed late), else the time the read
	// returned. The frames are valid only during the call.
	Message(frames [][]byte, at time.Time)
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
	// Manual, if set, starts no goroutine: the Loop's owner calls Poll whenever
	// EventsFd is readable or the time Poll returned has come, from one goroutine,
	// until it calls Start (or Close). A timing thread that also serves the Loop's I/O
	// then wakes once where two threads would wake.
	Manual bool
	// RecvTimestamps asks the kernel to stamp what each socket receives (SO_TIMESTAMPNS):
	// a message's arrival time (Handler.Message) is then the kernel's, whenever the
	// Loop gets round to reading it. Stamped reports whether it took.
	RecvTimestamps bool
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

// EventsFd returns a descriptor that is readable whenever a Manual Loop has work: events
// of its sockets, or WakeFd's.
func (l *Loop) EventsFd() int { return l.impl.epfd }

// WakeFd returns a descriptor that is readable when a Manual Loop has posted work of its
// own to do (a send queued behind a full socket, a close, a dial): an owner that waits on
// it instead of EventsFd reads its sockets only when it polls anyway.
func (l *Loop) WakeFd() int { return l.impl.evfd }

// Poll serves, on the caller's goroutine and without waiting, what a Manual Loop has to
// do now, and returns when it must be called again if its descriptors stay quiet (the
// zero time: only when they are readable). From one goroutine, before Start.
func (l *Loop) Poll() time.Time { return l.impl.pollTime() }

// Start hands a Manual Loop to a goroutine of its own: its owner calls Poll no more.
// With a ring (AttachRing) the owner must call it, on its thread: the ring's requests
// are cancelled, what it received is handed on, and epoll reads the sockets again.
func (l *Loop) Start() { l.impl.start() }

// AttachRing moves a Manual Loop's traffic onto an io_uring owned by the calling thread
// (which must be locked to its goroutine and is the Loop's owner from now on): replies
// arrive through one multishot receive per connection, SendDirect on this thread queues
// its message for the owner's next Sleep, Poll or Flush, and Sleep is the owner's wait,
// which also ends when watch (≥ 0; -1 none) is readable. One system call then serves a
// wake-up's sends and replies. keepP makes the ring's waits raw system calls that keep
// the thread's P (see loadgen's pacer). It reports false where io_uring cannot be used;
// the Loop then works as before.
func (l *Loop) AttachRing(watch int, keepP bool) bool { return l.impl.attachRing(watch, keepP) }

// Sleep is a ring owner's wait (AttachRing): it submits what is queued, then waits up to
// d (d < 0: no limit) or, prompt, until anything completes or watch is readable. It
// reports whether watch was readable and whether the Loop has work for Poll.
func (l *Loop) Sleep(d time.Duration, prompt bool) (watched, ready bool) {
	return l.impl.ringSleep(d, prompt)
}

// Flush submits the sends a ring owner queued, now (for an owner that will not Sleep
// soon).
func (l *Loop) Flush() { l.impl.ringFlush() }

// Stamped reports whether the kernel stamps what the Loop's sockets receive
// (LoopOptions.RecvTimestamps, and the system supports it).
func (l *Loop) Stamped() bool { return l.impl.stamped }

// ReadStats returns how many of the Loop's reads (those that returned data) carried the
// kernel's receive timestamp and how many did not (their messages are timed by the read),
// and the sum and the largest of how long stamped data waited in the kernel before the
// Loop read it.
func (l *Loop) ReadStats() LoopReadStats { return l.impl.readStats() }

// LoopReadStats are a Loop's figures on how its messages were timed (ReadStats).
type LoopReadStats struct {
	Stamped, Unstamped uint64
	WaitSum, WaitMax   time.Duration
}

// Close closes every DEALER still on the Loop (their Handlers' Closed is called) and
// stops its goroutine. It waits for both.
func (l *Loop) Close() error {
	return l.impl.close()
}
