package broker

import (
	"sync"
	"time"
)

// delayQueue holds replies until they are due and sends them from one goroutine, so that
// added latency does not occupy the processing goroutine: a min-heap on due time (ties in
// arrival order), one timer, no goroutine per reply.
type delayQueue struct {
	send func([][]byte, replyTag)
	done <-chan struct{}

	mu    sync.Mutex
	items []*delayed // min-heap on (due, seq)
	seq   uint64
	free  []*delayed
	wake  chan struct{} // a new earliest item; capacity 1
}

// delayed is one reply: its frames copied into buf, and its request's counter.
type delayed struct {
	due    time.Time
	seq    uint64
	frames [][]byte
	buf    []byte
	tag    replyTag
}

func newDelayQueue(send func([][]byte, replyTag), done <-chan struct{}) *delayQueue {
	return &delayQueue{send: send, done: done, wake: make(chan struct{}, 1)}
}

// push copies frames and queues them to be sent at due; tag goes to send with them.
func (q *delayQueue) push(frames [][]byte, due time.Time, tag replyTag) {
	q.mu.Lock()
	var d *delayed
	if n := len(q.free); n > 0 {
		d, q.free = q.free[n-1], q.free[:n-1]
	} else {
		d = &delayed{}
	}
	d.copyFrom(frames)
	d.due, d.seq, d.tag = due, q.seq, tag
	q.seq++
	q.items = append(q.items, d)
	q.up(len(q.items) - 1)
	first := q.items[0] == d
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (d *delayed) copyFrom(frames [][]byte) {
	d.frames, d.buf = copyFrames(d.frames, d.buf, frames)
}

// copyFrames copies frames into one buffer, reusing frames' and buf's storage, and returns
// the copies.
func copyFrames(dst [][]byte, buf []byte, frames [][]byte) ([][]byte, []byte) {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	buf, dst = buf[:0], dst[:0]
	for _, f := range frames {
		start := len(buf)
		buf = append(buf, f...)
		dst = append(dst, buf[start:len(buf):len(buf)])
	}
	return dst, buf
}

// run sends each reply when it is due, until done is closed. Replies still queued then
// are discarded.
func (q *delayQueue) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		var d *delayed
		var wait time.Duration = -1
		if len(q.items) > 0 {
			if wait = time.Until(q.items[0].due); wait <= 0 {
				d = q.pop()
			}
		}
		q.mu.Unlock()
		if d != nil {
			q.send(d.frames, d.tag)
			d.tag = replyTag{}
			q.mu.Lock()
			q.free = append(q.free, d)
			q.mu.Unlock()
			continue
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-q.done:
			return
		case <-q.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (q *delayQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *delayQueue) less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if a.due.Equal(b.due) {
		return a.seq < b.seq
	}
	return a.due.Before(b.due)
}

func (q *delayQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

func (q *delayQueue) pop() *delayed {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items[last] = nil
	q.items = q.items[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= last {
			break
		}
		c := l
		if r := l + 1; r < last && q.less(r, l) {
			c = r
		}
		if !q.less(c, i) {
			break
		}
		q.items[i], q.items[c] = q.items[c], q.items[i]
		i = c
	}
	return top
}
