package transport

import (
	"sync"
	"time"
)

// loopRecvQueue is the Handler of a Loop DEALER dialled without one: it keeps the
// messages for Recv, so that such a DEALER behaves as the goroutine DEALER does. Its
// buffers are reused, so a steady exchange allocates nothing.
type loopRecvQueue struct {
	mu       sync.Mutex
	cond     sync.Cond
	msgs     []queuedMessage // FIFO from head
	head     int
	free     []queuedMessage
	last     queuedMessage // returned by the last Recv; reused at the next
	hasLast  bool
	deadline time.Time
	changes  uint64 // counts notifications, so that a waiter misses none
}

// queuedMessage is one message owned by the queue: the frames slice data.
type queuedMessage struct {
	data   []byte
	frames [][]byte
}

func newLoopRecvQueue() *loopRecvQueue {
	q := &loopRecvQueue{}
	q.cond.L = &q.mu
	return q
}

// Message copies the frames into a queued message.
func (q *loopRecvQueue) Message(frames [][]byte, _ time.Time) {
	q.mu.Lock()
	var m queuedMessage
	if n := len(q.free); n > 0 {
		m = q.free[n-1]
		q.free = q.free[:n-1]
	}
	m.data, m.frames = m.data[:0], m.frames[:0]
	for _, f := range frames {
		m.data = append(m.data, f...)
	}
	start := 0
	for _, f := range frames {
		end := start + len(f)
		m.frames = append(m.frames, m.data[start:end:end])
		start = end
	}
	q.msgs = append(q.msgs, m)
	q.changes++
	q.cond.Broadcast()
	q.mu.Unlock()
}

// Wake wakes Recv to look at its deadline.
func (q *loopRecvQueue) Wake() { q.notify() }

// Closed wakes Recv to find the DEALER closed.
func (q *loopRecvQueue) Closed() { q.notify() }

// notify wakes a waiting Recv; a nil queue (a DEALER with a Handler) ignores it.
func (q *loopRecvQueue) notify() {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.changes++
	q.cond.Broadcast()
	q.mu.Unlock()
}

// setDeadline sets the time after which Recv returns ErrTimeout.
func (q *loopRecvQueue) setDeadline(t time.Time) {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.deadline = t
	q.changes++
	q.cond.Broadcast()
	q.mu.Unlock()
}

// recv returns the next message, or the error status reports once none is queued:
// ErrClosed, ErrDisconnected, or ErrTimeout after the deadline.
func (q *loopRecvQueue) recv(status func() error) ([][]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.hasLast {
		q.free = append(q.free, q.last)
		q.last, q.hasLast = queuedMessage{}, false
	}
	for {
		if q.head < len(q.msgs) {
			m := q.msgs[q.head]
			q.msgs[q.head] = queuedMessage{}
			q.head++
			if q.head == len(q.msgs) {
				q.msgs, q.head = q.msgs[:0], 0
			}
			q.last, q.hasLast = m, true
			return m.frames, nil
		}
		seen := q.changes
		dl := q.deadline
		q.mu.Unlock()
		err := status()
		if err == nil && !dl.IsZero() && !time.Now().Before(dl) {
			err = ErrTimeout
		}
		q.mu.Lock()
		if err != nil && q.head == len(q.msgs) {
			return nil, err
		}
		if q.changes == seen && q.head == len(q.msgs) {
			q.cond.Wait()
		}
	}
}
