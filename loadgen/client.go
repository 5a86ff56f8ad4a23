package loadgen

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// client is one DEALER connection with its sender and receiver.
type client struct {
	e     *engine
	index int
	d     transport.Dealer

	done     chan struct{} // closed by shutdown
	shutOnce sync.Once
	dialed   atomic.Bool // Dial returned: events after this are the connection's own
	closing  atomic.Bool // we are closing it: its events are not counted
	isConn   atomic.Bool // connected now, for the Connected gauge
	retiring atomic.Bool // a stage dropped this client: close once nothing is outstanding

	stageStarted int // s+1 once the client's part of stage s started (under the stage's lock)

	mu          sync.Mutex
	out         pendingTable
	fifos       []*fifo // the timeout queues; in fifoList, the first being fifo0, while one
	fifoList    [1]*fifo
	fifo0       fifo
	timedOut    *timedOutRing // allocated at the first timeout (8 KiB: most clients never need it)
	rel         []release
	relNote     chan struct{} // capacity 1: "rel has entries"
	paced       chan struct{} // capacity 1: the pacer reached the time a closed-loop wait asked for
	outstanding atomic.Int64
	busySince   atomic.Int64  // when outstanding last rose from 0 (ns), for stall starts
	nextSeq     atomic.Uint64 // sequence numbers issued so far
	// armed is the receive deadline set on the connection (ns since the run's start;
	// noDeadline when none), under mu. The receiver keeps it at or before the earliest
	// time it must wake (see receive); the sender brings it forward when it sends a
	// request whose deadline is earlier, so an idle receiver sleeps without a timer.
	armed int64

	// sendWake is when the sender will next wake (ns since the run's start): the time it
	// sleeps until, math.MaxInt64 when it has no stage to send in, or 0 when not known.
	// The receiver reads it to flush its batch at once when no reply can join it.
	sendWake atomic.Int64

	// Sender state (sender.go): one sender goroutine at a time (stages run one after
	// another).
	enc   protocol.Encoder
	id    [idLen]byte
	msg   protocol.Message
	sb    batcher
	timer *time.Timer

	// Receiver state (receiver.go).
	rb      *batcher // ownRB, or with an I/O loop the loop's batch (loop.go)
	ownRB   batcher
	onLoop  bool        // the connection runs on an I/O loop: no receiver goroutine
	lh      loopHandler // its Handler then
	expired []event
	// rArmed is armed as the receiver last set it. The sender and retire only bring
	// armed forward, so armed ≤ rArmed: the receiver can tell from its own copy, without
	// the lock, that a reply leaves it nothing to do (quiet).
	rArmed int64
}

func newClient(e *engine, index int) *client {
	c := &client{
		e:       e,
		index:   index,
		done:    make(chan struct{}),
		relNote: make(chan struct{}, 1),
		paced:   make(chan struct{}, 1),
		armed:   noDeadline,
		rArmed:  noDeadline,
	}
	c.fifos = c.fifoList[:0]
	c.sb.out = e.batches
	c.ownRB.out = e.batches
	c.rb = &c.ownRB
	return c
}

// noDeadline is client.armed when no receive deadline is set.
const noDeadline = math.MaxInt64

// armLocked sets the connection's receive deadline to t (ns since the run's start, or
// noDeadline for none). Caller holds c.mu. The transports allow it while Recv waits.
func (c *client) armLocked(t int64) {
	c.armed = t
	var at time.Time
	if t != noDeadline {
		at = c.e.at(t)
	}
	_ = c.d.SetRecvDeadline(at) // fails only once closed, when Recv returns ErrClosed
}

// onEvent is the transport's connection-event callback. It must not block.
func (c *client) onEvent(ev transport.Event) {
	if c.closing.Load() {
		return
	}
	e := c.e
	switch ev.Kind {
	case transport.Disconnected:
		e.conn.disconnect(e.offset(ev.Time), ev.Err)
		if c.isConn.CompareAndSwap(true, false) {
			e.connected.Add(-1)
		}
	case transport.Connected:
		if !c.dialed.Load() {
			return // the first connection is counted when Dial returns
		}
		e.conn.connects.Add(1)
		if c.isConn.CompareAndSwap(false, true) {
			e.connected.Add(1)
		}
	case transport.ConnectFailed:
		if !c.dialed.Load() {
			return // Dial's own error counts it
		}
		e.conn.fail(ev.Err)
	}
}

// retire closes the client once nothing is outstanding: a stage dropped it. It wakes the
// receiver, which closes the connection at once or after its last reply or timeout.
func (c *client) retire() {
	c.retiring.Store(true)
	c.mu.Lock()
	c.armLocked(c.e.now())
	c.mu.Unlock()
}

// shutdown closes the connection once; the receiver then sees ErrClosed.
func (c *client) shutdown() {
	c.shutOnce.Do(func() {
		c.closing.Store(true)
		close(c.done)
		if c.isConn.CompareAndSwap(true, false) {
			c.e.connected.Add(-1)
		}
		if c.d != nil {
			_ = c.d.Close()
		}
	})
}
