package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// nativeRouter is the native ROUTER. Each connection has a reader goroutine that parses
// messages into pooled buffers and hands them to the single Recv consumer a batch at a
// time, and a writer goroutine that flushes the connection's send queue in one write.
// Routing ids map to connections through one map, read under an RWMutex.
//
// The memory budget (ListenOptions) is kept with atomic gauges: recvRetained is the
// footprint of every connection's messages from when its reader starts filling them to
// when the consumer releases them, sendQueued the encoded bytes of every peer's messages
// from Send to their Write. Each connection keeps its own share beside them (held and
// curFP; queued).
type nativeRouter struct {
	ln       net.Listener
	addr     string
	opts     ListenOptions
	maxFrame uint64
	// queueLimit is each peer's send-queue cap in bytes (MaxSendQueued; tests lower it
	// to reach a full queue quickly). The other caps are the options' and the pools'.
	queueLimit     int64
	sendLimit      int64 // MaxSendQueuedTotal
	recvLimit      int64 // MaxRecvRetained
	recvTotalLimit int64 // MaxRecvRetainedTotal
	poolLimit      int64 // per connection: nativeRouterPoolConn, at most recvLimit/4
	poolTotalLimit int64 // nativeRouterPoolTotal, at most recvTotalLimit/4
	totalFullErr   error // Send's error when the total send cap refuses a message
	wg             sync.WaitGroup
	closing        atomic.Bool

	pmu    sync.RWMutex
	npeers atomic.Int64                   // len(peers), read without pmu
	peers  map[string]*nativeRouterConn   // routing id → connection, after the handshake
	all    map[*nativeRouterConn]struct{} // every open connection, for Close
	nextID uint32                         // next generated routing id (libzmq: random start)

	// The inbox: messages from every connection, in arrival order per connection.
	qmu     sync.Mutex
	queue   []*nativeInMsg
	waiting bool // the consumer is blocked in Recv
	qclosed bool
	wake    chan struct{}

	// Owned by the Recv consumer.
	local []*nativeInMsg
	li    int
	used  []*nativeInMsg // returned by Recv; go back to their pools in one pass

	accepted     atomic.Uint64
	disconnected atomic.Uint64
	unknownPeer  atomic.Uint64
	smu          sync.Mutex
	connErrors   map[string]uint64

	// The memory budget's gauges and counters (RouterStats).
	recvRetained     atomic.Int64
	recvPeak         atomic.Int64
	recvConnPeak     atomic.Int64
	recvPauses       atomic.Uint64
	pooled           atomic.Int64
	sendQueued       atomic.Int64
	sendPeak         atomic.Int64
	sendConnPeak     atomic.Int64
	sendDropped      atomic.Uint64
	sendDroppedBytes atomic.Uint64
	pongsDropped     atomic.Uint64
}

// nativeInMsg is a received message on its way to the consumer. It goes back to its
// connection's pool when the consumer calls Recv again.
type nativeInMsg struct {
	zmtpMessage
	c  *nativeRouterConn
	fp int64 // the footprint counted in its connection's held bytes, once complete
}

// nativeInMsgOverhead is what a received message costs beyond its buffers' capacity: the
// struct, its slice headers and the allocator's rounding.
const nativeInMsgOverhead = 160

// footprint returns the bytes m holds: its buffers' capacity and its overhead. The
// routing-id prefix is the connection's, not counted here.
func (m *nativeInMsg) footprint() int64 {
	return int64(cap(m.data)+8*cap(m.ends)+24*cap(m.frames)) + nativeInMsgOverhead
}

// nativeRouterConn is one accepted connection.
type nativeRouterConn struct {
	r      *nativeRouter
	conn   net.Conn
	remote string
	id     []byte
	rb     nativeReadBuf
	dec    zmtpDecoder
	cur    *nativeInMsg   // the message the decoder is filling
	batch  []*nativeInMsg // complete messages not yet handed to the consumer
	pong   []byte
	q      nativeOutQueue
	done   chan struct{}
	once   sync.Once
	joined bool // registered in peers (set once, before the reader starts)

	// The receive budget: held is the footprint of the complete messages the consumer
	// has not released (the reader adds, the consumer's release subtracts), curFP the
	// footprint of cur counted so far (the reader's).
	held  atomic.Int64
	curFP int64

	// The pool of message buffers: spare is the reader's, free is where the consumer
	// returns them; the reader takes all of free at once when spare runs out. pooled
	// is the footprint of both (the consumer adds, the reader subtracts).
	spare       []*nativeInMsg
	pooled      atomic.Int64
	fmu         sync.Mutex
	free        []*nativeInMsg
	allocated   int  // messages created for this connection and not discarded (at most nativeRouterInFlight)
	recvDone    bool // the reader has ended: released messages are not pooled
	waitingFree bool
	freed       chan struct{}

	// The send budget: queued is the encoded bytes put on q and not yet written.
	sendMu     sync.Mutex
	queued     int64
	sendClosed bool  // the connection ended: nothing more is queued or counted
	fullErr    error // Send's error when this peer's queue refuses a message
}

func listenNativeRouter(endpoint string, opts ListenOptions) (*nativeRouter, error) {
	hp, err := nativeHostPort(endpoint)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	ln, err := net.Listen(listenNetwork(hp), hp)
	if err != nil {
		return nil, fmt.Errorf("transport: listening on %s: %w (is the port in use?)", endpoint, err)
	}
	r := &nativeRouter{
		ln:             ln,
		addr:           "tcp://" + ln.Addr().String(),
		opts:           opts,
		maxFrame:       uint64(opts.MaxFrameSize),
		queueLimit:     opts.MaxSendQueued,
		sendLimit:      opts.MaxSendQueuedTotal,
		recvLimit:      opts.MaxRecvRetained,
		recvTotalLimit: opts.MaxRecvRetainedTotal,
		poolLimit:      min(nativeRouterPoolConn, opts.MaxRecvRetained/4),
		poolTotalLimit: min(nativeRouterPoolTotal, opts.MaxRecvRetainedTotal/4),
		peers:          make(map[string]*nativeRouterConn),
		all:            make(map[*nativeRouterConn]struct{}),
		nextID:         rand.Uint32(),
		wake:           make(chan struct{}, 1),
		connErrors:     make(map[string]uint64),
	}
	r.totalFullErr = fmt.Errorf("%w: the send queues of all peers together are full (%d bytes); message dropped", ErrSlowPeer, r.sendLimit)
	r.wg.Add(1)
	go r.acceptLoop()
	return r, nil
}

// acceptLoop accepts connections until the listener closes. When the process runs out of
// file descriptors it backs off (5 ms doubling to 1 s) instead of spinning, and tells
// OnAcceptError each time.
func (r *nativeRouter) acceptLoop() {
	defer r.wg.Done()
	var backoff time.Duration
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			if r.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			r.countError(fmt.Errorf("%w: accept: %v", errNativeIO, err))
			if r.opts.OnAcceptError != nil {
				r.opts.OnAcceptError(err)
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		r.accepted.Add(1)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c := &nativeRouterConn{r: r, conn: conn, done: make(chan struct{}), freed: make(chan struct{}, 1)}
		c.q.init()
		c.dec.maxFrame = r.maxFrame
		r.pmu.Lock()
		if r.closing.Load() {
			r.pmu.Unlock()
			conn.Close()
			return
		}
		r.all[c] = struct{}{}
		r.wg.Add(1)
		r.pmu.Unlock()
		go c.serve()
	}
}

// serve runs the handshake, then reads until the connection ends.
func (c *nativeRouterConn) serve() {
	r := c.r
	defer r.wg.Done()
	c.remote = "tcp://" + c.conn.RemoteAddr().String()
	_ = c.conn.SetDeadline(time.Now().Add(r.opts.WriteTimeout))
	info, err := nativeHandshake(c.conn, &c.rb, zmtpRouter, nil, r.maxFrame)
	if err == nil {
		err = r.join(c, info.identity)
	}
	if err != nil {
		c.end(err)
		return
	}
	_ = c.conn.SetDeadline(time.Time{})
	emit(r.opts.OnEvent, Connected, c.remote, nil)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := c.q.run(nativeRouterWriter{c.conn, c}, r.opts.WriteTimeout, c.done); err != nil {
			c.end(err)
		}
	}()
	c.end(c.readLoop())
	c.dropReceived()
}

// nativeRouterWriter is what a connection's writer goroutine writes to: the connection,
// taking the bytes each Write moved off the peer's queued bytes.
type nativeRouterWriter struct {
	net.Conn
	c *nativeRouterConn
}

func (w nativeRouterWriter) Write(b []byte) (int, error) {
	n, err := w.Conn.Write(b)
	if n > 0 {
		w.c.written(int64(n))
	}
	return n, err
}

// join gives c its routing id (the peer's Identity, or a libzmq-style generated one: a
// zero byte then a big-endian uint32 counter) and registers it.
func (r *nativeRouter) join(c *nativeRouterConn, identity []byte) error {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.closing.Load() {
		return ErrClosed
	}
	if identity != nil {
		if _, taken := r.peers[string(identity)]; taken {
			return fmt.Errorf("%w: %q (give each client its own identity, or none)", ErrIdentityInUse, identity)
		}
		c.id = identity
	} else {
		id := make([]byte, 5)
		for {
			binary.BigEndian.PutUint32(id[1:], r.nextID)
			r.nextID++
			if _, taken := r.peers[string(id)]; !taken {
				break
			}
		}
		c.id = id
	}
	c.fullErr = fmt.Errorf("%w: send queue for peer %x is full (%d bytes); message dropped", ErrSlowPeer, c.id, r.queueLimit)
	r.peers[string(c.id)] = c
	r.npeers.Store(int64(len(r.peers)))
	c.joined = true
	return nil
}

// end closes the connection for err, once: it leaves the peer map, is counted, and
// reported (unless the Router is closing).
func (c *nativeRouterConn) end(err error) {
	c.once.Do(func() {
		r := c.r
		c.q.shutdown()
		c.sendMu.Lock()
		c.sendClosed = true
		r.sendQueued.Add(-c.queued) // lost with the queue, as libzmq's are
		c.queued = 0
		c.sendMu.Unlock()
		close(c.done)
		c.conn.Close()
		r.pmu.Lock()
		delete(r.all, c)
		if c.joined && r.peers[string(c.id)] == c {
			delete(r.peers, string(c.id))
			r.npeers.Store(int64(len(r.peers)))
		}
		r.pmu.Unlock()
		if r.closing.Load() {
			return
		}
		r.disconnected.Add(1)
		r.countError(err)
		kind := Disconnected
		if !c.joined {
			kind = ConnectFailed
		}
		emit(r.opts.OnEvent, kind, c.remote, err)
	})
}

func (r *nativeRouter) countError(err error) {
	if name := nativeErrorName(err); name != "" {
		r.smu.Lock()
		r.connErrors[name]++
		r.smu.Unlock()
	}
}

// readLoop parses messages until the connection fails. Complete messages collect in a
// batch that goes to the consumer before each blocking read (or every 128 messages).
// Before it starts a message and before each read, it waits while the connection is
// over its receive budget.
func (c *nativeRouterConn) readLoop() error {
	for {
		for c.rb.r < c.rb.w {
			if c.cur == nil {
				if c.cur = c.get(); c.cur == nil {
					return ErrClosed
				}
				c.dec.msg = &c.cur.zmtpMessage
			}
			n, ev, err := c.dec.feed(c.rb.buf[c.rb.r:c.rb.w])
			c.rb.r += n
			if err != nil {
				return err
			}
			c.grew()
			switch ev {
			case zmtpGotMessage:
				m := c.cur
				m.fp = c.curFP
				c.held.Add(m.fp) // cur's bytes become held ones: the totals stay
				c.curFP = 0
				c.batch = append(c.batch, m)
				c.cur, c.dec.msg = nil, nil
				if len(c.batch) >= 128 {
					c.deliver()
				}
			case zmtpGotCommand:
				if err := c.command(c.dec.cmd); err != nil {
					return err
				}
			}
		}
		c.deliver()
		if !c.waitBudget() {
			return ErrClosed
		}
		if _, err := c.rb.fill(c.conn); err != nil {
			if c.rb.r < c.rb.w {
				continue
			}
			err = nativeIOError("read", err)
			if errors.Is(err, errNativePeerClosed) && c.dec.partial() {
				err = fmt.Errorf("%w: peer %x closed the connection inside a frame or message", ErrTruncated, c.id)
			}
			return err
		}
	}
}

// command handles a command frame: a PING is answered with a PONG, counted in the send
// budget (and not queued when the peer's queue is at its cap); the rest is
// nativeCommand's. A large command's buffer is not kept.
func (c *nativeRouterConn) command(cmd []byte) error {
	var err error
	if name, data, ok := zmtpSplitCommand(cmd); ok && string(name) == "PING" {
		c.pong = zmtpAppendCommand(c.pong[:0], "PONG", zmtpPingContext(data))
		c.sendRaw(c.pong)
	} else {
		err = nativeCommand(cmd, &c.q, &c.pong)
	}
	if cap(c.dec.cmd) > nativeReadBufMin {
		c.dec.cmd = nil
	}
	return err
}

// get returns a free message buffer, counted as cur's footprint, waiting (after handing
// over the batch) while the connection is over its receive budget or the consumer holds
// nativeRouterInFlight of its messages. It returns nil when the connection is closing.
func (c *nativeRouterConn) get() *nativeInMsg {
	for {
		if !c.waitBudget() {
			return nil
		}
		if n := len(c.spare); n > 0 {
			m := c.spare[n-1]
			c.spare[n-1] = nil
			c.spare = c.spare[:n-1]
			fp := m.footprint()
			c.pooled.Add(-fp)
			c.r.pooled.Add(-fp)
			c.start(fp)
			return m
		}
		c.fmu.Lock()
		if len(c.free) > 0 {
			c.spare, c.free = c.free, c.spare
			c.fmu.Unlock()
			continue
		}
		if c.allocated < nativeRouterInFlight {
			c.allocated++
			c.fmu.Unlock()
			m := &nativeInMsg{c: c, zmtpMessage: zmtpMessage{prefix: c.id}}
			c.start(m.footprint())
			return m
		}
		c.waitingFree = true
		c.fmu.Unlock()
		c.deliver()
		select {
		case <-c.freed:
		case <-c.done:
			return nil
		}
	}
}

// start counts fp, the footprint of the message the reader is about to fill, as cur's.
func (c *nativeRouterConn) start(fp int64) {
	c.curFP = fp
	c.r.addRecv(fp)
	nativeRaise(&c.r.recvConnPeak, c.held.Load()+fp)
}

// grew counts what cur's buffers grew by while the decoder filled them.
func (c *nativeRouterConn) grew() {
	fp := c.cur.footprint()
	if d := fp - c.curFP; d != 0 {
		c.curFP = fp
		c.r.addRecv(d)
		if d > 0 {
			nativeRaise(&c.r.recvConnPeak, c.held.Load()+fp)
		}
	}
}

// overBudget reports whether c must stop reading: it holds complete messages the
// consumer has not released, and its retained bytes are at the per-connection cap or
// every connection's at the total cap. A connection that holds none may always read on,
// so that it can be served whatever the others hold.
func (c *nativeRouterConn) overBudget() bool {
	held := c.held.Load()
	if held == 0 {
		return false
	}
	r := c.r
	return held+c.curFP >= r.recvLimit || r.recvRetained.Load() >= r.recvTotalLimit
}

// waitBudget returns once c may read on: while it is over its budget it hands its batch
// to the consumer and waits for the consumer to release its messages (TCP pushes back on
// the peer meanwhile). It returns false when the connection is closing.
func (c *nativeRouterConn) waitBudget() bool {
	paused := false
	for c.overBudget() {
		c.deliver()
		c.fmu.Lock()
		c.waitingFree = true
		if !c.overBudget() { // a release came in between; it saw waitingFree unset
			c.waitingFree = false
			c.fmu.Unlock()
			break
		}
		c.fmu.Unlock()
		if !paused {
			paused = true
			c.r.recvPauses.Add(1)
		}
		select {
		case <-c.freed:
		case <-c.done:
			return false
		}
	}
	return true
}

// release returns ms, which all belong to c, to c's pool under one lock, or to the
// garbage collector beyond the pool's bounds, and takes them off the receive budget.
func (c *nativeRouterConn) release(ms []*nativeInMsg) {
	r := c.r
	var freed int64
	for _, m := range ms {
		freed += m.fp
		m.fp = 0
	}
	// Off the budget before waitingFree is read: a reader that checks its budget under
	// fmu after this sees the bytes gone, and one that checked before is woken below.
	c.held.Add(-freed)
	r.addRecv(-freed)
	c.fmu.Lock()
	kept := 0
	for _, m := range ms {
		fp := m.footprint()
		if !c.recvDone && c.pooled.Load()+fp <= r.poolLimit && r.pooled.Load()+fp <= r.poolTotalLimit {
			c.pooled.Add(fp)
			r.pooled.Add(fp)
			ms[kept] = m
			kept++
		} else {
			c.allocated--
		}
	}
	c.free = append(c.free, ms[:kept]...)
	wake := c.waitingFree
	c.waitingFree = false
	c.fmu.Unlock()
	if wake {
		select {
		case c.freed <- struct{}{}:
		default:
		}
	}
}

// dropReceived takes what the ended reader still holds off the budget and the pool: the
// message it was filling, a batch it did not hand over, and the pooled buffers. Messages
// the consumer has are taken off when it releases them. It runs on the reader's
// goroutine once readLoop has returned.
func (c *nativeRouterConn) dropReceived() {
	r := c.r
	c.fmu.Lock()
	c.recvDone = true
	free := c.free
	c.free = nil
	c.fmu.Unlock()
	var pooled int64
	for _, ms := range [][]*nativeInMsg{c.spare, free} {
		for _, m := range ms {
			pooled += m.footprint()
		}
	}
	c.spare = nil
	c.pooled.Add(-pooled)
	r.pooled.Add(-pooled)
	if c.cur != nil {
		r.addRecv(-c.curFP)
		c.cur, c.dec.msg, c.curFP = nil, nil, 0
	}
	c.forget(c.batch)
	c.batch = nil
}

// forget takes messages that will never reach the consumer off the receive budget.
func (c *nativeRouterConn) forget(ms []*nativeInMsg) {
	var n int64
	for _, m := range ms {
		n += m.fp
		m.fp = 0
	}
	c.held.Add(-n)
	c.r.addRecv(-n)
}

// addRecv adds d to the router's retained receive bytes, raising the peak.
func (r *nativeRouter) addRecv(d int64) {
	v := r.recvRetained.Add(d)
	if d > 0 {
		nativeRaise(&r.recvPeak, v)
	}
}

// nativeRaise raises peak to v if v is higher.
func nativeRaise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// releaseUsed returns the messages Recv has handed out to their connections' pools,
// one lock per run of messages from the same connection.
func (r *nativeRouter) releaseUsed() {
	used := r.used
	for start := 0; start < len(used); {
		c := used[start].c
		end := start + 1
		for end < len(used) && used[end].c == c {
			end++
		}
		c.release(used[start:end])
		start = end
	}
	clear(used)
	r.used = used[:0]
}

// deliver hands the batch to the consumer under one lock.
func (c *nativeRouterConn) deliver() {
	if len(c.batch) == 0 {
		return
	}
	r := c.r
	r.qmu.Lock()
	if r.qclosed {
		r.qmu.Unlock()
		c.forget(c.batch)
		clear(c.batch)
		c.batch = c.batch[:0]
		return
	}
	r.queue = append(r.queue, c.batch...)
	wake := r.waiting
	r.waiting = false
	r.qmu.Unlock()
	clear(c.batch)
	c.batch = c.batch[:0]
	if wake {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Recv returns the next message from any peer: the routing id, then the peer's frames.
func (r *nativeRouter) Recv() ([][]byte, error) {
	for {
		if r.li < len(r.local) {
			m := r.local[r.li]
			r.local[r.li] = nil
			r.li++
			r.used = append(r.used, m)
			return m.frames, nil
		}
		// Every message handed out before this call is the caller's no longer. They go
		// back before the next batch is taken, and always before Recv blocks (a reader
		// may be waiting for them).
		r.releaseUsed()
		r.qmu.Lock()
		if r.qclosed {
			r.qmu.Unlock()
			return nil, ErrClosed
		}
		if len(r.queue) > 0 {
			r.local, r.queue = r.queue, r.local[:0]
			r.li = 0
			r.qmu.Unlock()
			continue
		}
		r.waiting = true
		r.qmu.Unlock()
		<-r.wake
	}
}

// Send queues msg[1:] for the peer whose routing id is msg[0]. It never blocks: a message
// for an unknown peer returns ErrUnknownPeer, and one that would take the peer's queued
// bytes above MaxSendQueued (unless nothing is queued for it) or beyond what the total
// cap leaves it (reserveSend) is dropped with an error wrapping ErrSlowPeer and counted.
func (r *nativeRouter) Send(msg [][]byte) error {
	if len(msg) < 2 {
		return fmt.Errorf("transport: router message of %d frames: need a routing id and at least one frame", len(msg))
	}
	if r.closing.Load() {
		return ErrClosed
	}
	r.pmu.RLock()
	c := r.peers[string(msg[0])]
	r.pmu.RUnlock()
	if c == nil {
		r.unknownPeer.Add(1)
		return ErrUnknownPeer
	}
	return c.send(msg[1:], nil)
}

// send queues msg (or, when msg is nil, the raw bytes of a command) within the send
// budget. A message refused for the budget is counted in sendDropped, a command in
// pongsDropped.
func (c *nativeRouterConn) send(msg [][]byte, raw []byte) error {
	r := c.r
	n := int64(len(raw))
	if msg != nil {
		n = nativeEncodedLen(msg)
	}
	c.sendMu.Lock()
	if c.sendClosed {
		c.sendMu.Unlock()
		return r.gone(msg)
	}
	var full error
	switch {
	case c.queued > 0 && c.queued+n > r.queueLimit: // an empty queue takes any one message
		full = c.fullErr
	case !r.reserveSend(n, c.queued):
		full = r.totalFullErr
	}
	if full != nil {
		c.sendMu.Unlock()
		if msg == nil {
			r.pongsDropped.Add(1)
		} else {
			r.sendDropped.Add(1)
			r.sendDroppedBytes.Add(uint64(n))
		}
		return full
	}
	c.queued += n
	if err := c.q.put(msg, raw, math.MaxInt); err != nil {
		c.queued -= n
		r.sendQueued.Add(-n)
		c.sendMu.Unlock()
		if err == errNativeQueueDead {
			return r.gone(msg)
		}
		return err
	}
	nativeRaise(&r.sendConnPeak, c.queued)
	c.sendMu.Unlock()
	return nil
}

// gone returns ErrUnknownPeer for a send to a connection that has ended, counting it when
// it was a message (a PONG is not counted).
func (r *nativeRouter) gone(msg [][]byte) error {
	if msg != nil {
		r.unknownPeer.Add(1)
	}
	return ErrUnknownPeer
}

// sendRaw queues a command's raw bytes (a PONG) within the send budget; a PONG refused
// for a full queue is only counted (its peer is not reading anyway).
func (c *nativeRouterConn) sendRaw(raw []byte) {
	_ = c.send(nil, raw)
}

// written takes n bytes the writer wrote off the peer's queued bytes.
func (c *nativeRouterConn) written(n int64) {
	c.sendMu.Lock()
	if !c.sendClosed {
		c.queued -= n
		c.r.sendQueued.Add(-n)
	}
	c.sendMu.Unlock()
}

// reserveSend adds n bytes, for a peer that has queued bytes queued, to every peer's
// queued bytes. A peer that stays within its share (half the total cap divided by the
// peers connected) always may; beyond its share, only while every peer's bytes together
// stay within the other half. So peers that do not read cannot take what those that do
// need, and the total never passes the cap: what passes half of it since the last
// acceptance beyond a share is at most each peer's share.
func (r *nativeRouter) reserveSend(n, queued int64) bool {
	half := r.sendLimit / 2
	if queued+n <= half/max(1, r.npeers.Load()) {
		nativeRaise(&r.sendPeak, r.sendQueued.Add(n))
		return true
	}
	for {
		t := r.sendQueued.Load()
		if t+n > half {
			return false
		}
		if r.sendQueued.CompareAndSwap(t, t+n) {
			nativeRaise(&r.sendPeak, t+n)
			return true
		}
	}
}

// nativeEncodedLen returns the bytes zmtpAppendMessage encodes msg into.
func nativeEncodedLen(msg [][]byte) int64 {
	var n int64
	for _, f := range msg {
		n += int64(len(f)) + 2
		if len(f) > 255 {
			n += 7
		}
	}
	return n
}

// Addr returns the bound endpoint, e.g. "tcp://127.0.0.1:40123".
func (r *nativeRouter) Addr() string { return r.addr }

// Stats returns the counters. Accepted counts TCP connections (handshake or not);
// Disconnected counts every accepted connection that ended, whether or not it completed
// its handshake; a peer that closes cleanly between messages is not a ConnError.
func (r *nativeRouter) Stats() RouterStats {
	r.pmu.RLock()
	peers := len(r.peers)
	r.pmu.RUnlock()
	r.smu.Lock()
	errs := make(map[string]uint64, len(r.connErrors))
	for k, v := range r.connErrors {
		errs[k] = v
	}
	r.smu.Unlock()
	return RouterStats{
		Peers:                 peers,
		Accepted:              r.accepted.Load(),
		Disconnected:          r.disconnected.Load(),
		UnknownPeer:           r.unknownPeer.Load(),
		ConnErrors:            errs,
		RetainedRecvBytes:     r.recvRetained.Load(),
		PeakRetainedRecvBytes: r.recvPeak.Load(),
		PeakConnRecvBytes:     r.recvConnPeak.Load(),
		PooledRecvBytes:       r.pooled.Load(),
		RecvPauses:            r.recvPauses.Load(),
		QueuedSendBytes:       r.sendQueued.Load(),
		PeakQueuedSendBytes:   r.sendPeak.Load(),
		PeakConnSendBytes:     r.sendConnPeak.Load(),
		SendDropped:           r.sendDropped.Load(),
		SendDroppedBytes:      r.sendDroppedBytes.Load(),
		PongsDropped:          r.pongsDropped.Load(),
	}
}

// Close stops listening, closes every connection and waits for every goroutine.
func (r *nativeRouter) Close() error {
	if r.closing.Swap(true) {
		return nil
	}
	err := r.ln.Close()
	r.pmu.Lock()
	conns := make([]*nativeRouterConn, 0, len(r.all))
	for c := range r.all {
		conns = append(conns, c)
	}
	r.pmu.Unlock()
	for _, c := range conns {
		c.end(ErrClosed)
	}
	r.qmu.Lock()
	r.qclosed = true
	for _, m := range r.queue { // never to be released
		m.c.forget([]*nativeInMsg{m})
	}
	clear(r.queue)
	r.queue = nil
	r.qmu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	r.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("transport: closing listener %s: %w", r.addr, err)
	}
	return nil
}

var _ Router = (*nativeRouter)(nil)
