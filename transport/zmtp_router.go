package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
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
type nativeRouter struct {
	ln       net.Listener
	addr     string
	opts     ListenOptions
	maxFrame uint64
	// queueLimit is each peer's send-queue bound in bytes (nativeRouterQueue; tests
	// lower it to reach a full queue quickly).
	queueLimit int
	wg         sync.WaitGroup
	closing    atomic.Bool

	pmu    sync.RWMutex
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
}

// nativeInMsg is a received message on its way to the consumer. It goes back to its
// connection's pool when the consumer calls Recv again.
type nativeInMsg struct {
	zmtpMessage
	c *nativeRouterConn
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

	// The pool of message buffers: spare is the reader's, free is where the consumer
	// returns them; the reader takes all of free at once when spare runs out.
	spare       []*nativeInMsg
	fmu         sync.Mutex
	free        []*nativeInMsg
	allocated   int // messages created for this connection (at most nativeRouterInFlight)
	waitingFree bool
	freed       chan struct{}
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
		ln:         ln,
		addr:       "tcp://" + ln.Addr().String(),
		opts:       opts,
		maxFrame:   uint64(opts.MaxFrameSize),
		queueLimit: nativeRouterQueue,
		peers:      make(map[string]*nativeRouterConn),
		all:        make(map[*nativeRouterConn]struct{}),
		nextID:     rand.Uint32(),
		wake:       make(chan struct{}, 1),
		connErrors: make(map[string]uint64),
	}
	r.wg.Add(1)
	go r.acceptLoop()
	return r, nil
}

// acceptLoop accepts connections until the listener closes. When the process runs out of
// file descriptors it backs off (5 ms doubling to 1 s) instead of spinning.
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
	c.q.fullErr = fmt.Errorf("%w: send queue for peer %x is full (%d bytes); message dropped", ErrSlowPeer, c.id, r.queueLimit)
	emit(r.opts.OnEvent, Connected, c.remote, nil)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := c.q.run(c.conn, r.opts.WriteTimeout, c.done); err != nil {
			c.end(err)
		}
	}()
	c.end(c.readLoop())
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
	r.peers[string(c.id)] = c
	c.joined = true
	return nil
}

// end closes the connection for err, once: it leaves the peer map, is counted, and
// reported (unless the Router is closing).
func (c *nativeRouterConn) end(err error) {
	c.once.Do(func() {
		r := c.r
		c.q.shutdown()
		close(c.done)
		c.conn.Close()
		r.pmu.Lock()
		delete(r.all, c)
		if c.joined && r.peers[string(c.id)] == c {
			delete(r.peers, string(c.id))
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
			switch ev {
			case zmtpGotMessage:
				c.batch = append(c.batch, c.cur)
				c.cur, c.dec.msg = nil, nil
				if len(c.batch) >= 128 {
					c.deliver()
				}
			case zmtpGotCommand:
				if err := nativeCommand(c.dec.cmd, &c.q, &c.pong); err != nil {
					return err
				}
			}
		}
		c.deliver()
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

// get returns a free message buffer, waiting (after handing over the batch) while the
// consumer holds nativeRouterInFlight of this connection's messages. It returns nil when
// the connection is closing.
func (c *nativeRouterConn) get() *nativeInMsg {
	for {
		if n := len(c.spare); n > 0 {
			m := c.spare[n-1]
			c.spare[n-1] = nil
			c.spare = c.spare[:n-1]
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
			return &nativeInMsg{c: c, zmtpMessage: zmtpMessage{prefix: c.id}}
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

// release returns ms, which all belong to c, to c's pool under one lock.
func (c *nativeRouterConn) release(ms []*nativeInMsg) {
	for _, m := range ms {
		if cap(m.data) > nativeRetainBuf {
			m.data = nil
		}
	}
	c.fmu.Lock()
	c.free = append(c.free, ms...)
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
// for an unknown peer returns ErrUnknownPeer, and one for a peer whose send queue is full
// is dropped with an error wrapping ErrSlowPeer.
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
	if err := c.q.put(msg[1:], nil, r.queueLimit, false); err != nil {
		if err == errNativeQueueDead {
			r.unknownPeer.Add(1)
			return ErrUnknownPeer
		}
		return err
	}
	return nil
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
		Peers:        peers,
		Accepted:     r.accepted.Load(),
		Disconnected: r.disconnected.Load(),
		UnknownPeer:  r.unknownPeer.Load(),
		ConnErrors:   errs,
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
