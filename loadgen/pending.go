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
}

func (f *fifo) push(e fifoEntry) { f.q = append(f.q, e) }
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
	f := &fifo{timeout: timeout}
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
