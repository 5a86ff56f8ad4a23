package loadgen

// pending is an outstanding request.
type pending struct {
	intended, sent int64 // ns since the run's start
	deadline       int64
	stage          int32 // for closed-loop slot releases
	bucket         uint16
	cmd            uint8
	slot           bool // a closed-loop request: its end frees a slot
}

// pendingTable is a client's outstanding requests by sequence number. The first few are
// held in the table itself, inside the client, where a keepalive client's one outstanding
// request is: sending and matching it then read the client's own cache lines and not a
// map's (each line read cold costs 0.1–0.4 µs on this VM). More go to a map. Caller holds c.mu.
type pendingTable struct {
	inline [pendingInline]pendingSlot
	more   map[uint64]pending // nil until the inline slots are full
}

// pendingInline is how many outstanding requests a client holds without a map.
const pendingInline = 2

// pendingSlot is an inline entry: key is seq+1, 0 when free.
type pendingSlot struct {
	key uint64
	p   pending
}

func (t *pendingTable) put(seq uint64, p pending) {
	for i := range t.inline {
		if t.inline[i].key == 0 {
			t.inline[i] = pendingSlot{seq + 1, p}
			return
		}
	}
	if t.more == nil {
		t.more = make(map[uint64]pending)
	}
	t.more[seq] = p
}

// get returns seq's request, if it is outstanding.
func (t *pendingTable) get(seq uint64) (pending, bool) {
	for i := range t.inline {
		if t.inline[i].key == seq+1 {
			return t.inline[i].p, true
		}
	}
	if len(t.more) == 0 {
		return pending{}, false
	}
	p, ok := t.more[seq]
	return p, ok
}

// take removes seq's request and returns it, if it was outstanding.
func (t *pendingTable) take(seq uint64) (pending, bool) {
	for i := range t.inline {
		if t.inline[i].key == seq+1 {
			t.inline[i].key = 0
			return t.inline[i].p, true
		}
	}
	if len(t.more) == 0 {
		return pending{}, false
	}
	p, ok := t.more[seq]
	if ok {
		delete(t.more, seq)
	}
	return p, ok
}

// len returns the number of outstanding requests.
func (t *pendingTable) len() int {
	n := len(t.more)
	for i := range t.inline {
		if t.inline[i].key != 0 {
			n++
		}
	}
	return n
}

// drain removes every request, calling f with each.
func (t *pendingTable) drain(f func(seq uint64, p pending)) {
	for i := range t.inline {
		if s := &t.inline[i]; s.key != 0 {
			f(s.key-1, s.p)
			s.key = 0
		}
	}
	for seq, p := range t.more {
		f(seq, p)
	}
	clear(t.more)
}

// fifoEntry is a request's place in its timeout queue.
type fifoEntry struct {
	seq      uint64
	deadline int64 // ns since the run's start
}

// fifo is the queue of outstanding requests with one timeout value, in send order, so
// deadlines are in order too and expiry looks only at the front.
type fifo struct {
	timeout int64
	q       []fifoEntry
	head    int
	// inline is q's first backing array: a client with a few outstanding requests keeps
	// its queue on its own cache lines (the first fifo is in the client).
	inline [4]fifoEntry
}

func (f *fifo) push(e fifoEntry) {
	if f.q == nil {
		f.q = f.inline[:0]
	}
	f.q = append(f.q, e)
}
func (f *fifo) empty() bool      { return f.head == len(f.q) }
func (f *fifo) front() fifoEntry { return f.q[f.head] }

func (f *fifo) pop() {
	f.head++
	switch {
	case f.head == len(f.q):
		f.q, f.head = f.q[:0], 0
	case f.head >= 1024 && f.head*2 >= len(f.q):
		n := copy(f.q, f.q[f.head:])
		f.q, f.head = f.q[:n], 0
	}
}

// fifoFor returns the timeout queue for timeout ns, creating it. Caller holds c.mu.
func (c *client) fifoFor(timeout int64) *fifo {
	for _, f := range c.fifos {
		if f.timeout == timeout {
			return f
		}
	}
	f := &c.fifo0
	if len(c.fifos) > 0 {
		f = new(fifo)
	}
	f.timeout = timeout
	c.fifos = append(c.fifos, f)
	return f
}

// timedOutRing remembers the most recent timed-out sequence numbers of a client, so that
// a reply arriving after its timeout is told apart from a duplicate. It is looked at only
// for replies that match nothing outstanding.
type timedOutRing struct {
	seqs [1024]uint64 // seq+1; 0 is empty
	next int
}

// addTimedOut remembers that seq timed out. Caller holds c.mu.
func (c *client) addTimedOut(seq uint64) {
	if c.timedOut == nil {
		c.timedOut = new(timedOutRing)
	}
	r := c.timedOut
	r.seqs[r.next] = seq + 1
	r.next = (r.next + 1) % len(r.seqs)
}

// has reports whether seq is among the remembered timeouts; a nil ring holds none.
func (r *timedOutRing) has(seq uint64) bool {
	if r == nil {
		return false
	}
	for _, s := range r.seqs {
		if s == seq+1 {
			return true
		}
	}
	return false
}
