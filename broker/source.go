package broker

import (
	"errors"
	"sync"
	"time"

	"github.com/dmbench/dmbench/transport"
)

// source gives the processing goroutine its messages.
type source interface {
	// next returns the next message, whose frames stay valid until the following call,
	// and whether another message from the same peer is already waiting (read from the
	// transport, not yet processed). It returns an error once the router is closed.
	next() (frames [][]byte, more bool, err error)
}

// directSource reads the router in the processing goroutine itself: no copy, no extra
// goroutine. It cannot see what is waiting, so more is always false.
type directSource struct{ r transport.Router }

func (s directSource) next() ([][]byte, bool, error) {
	frames, err := s.r.Recv()
	return frames, false, err
}

// batchSource reads the router in a goroutine of its own into a queue, so that the
// processing goroutine sees the batch of messages waiting for it; the Stall fault needs
// that. Each message is copied once.
type batchSource struct {
	in    chan *inMsg
	done  <-chan struct{}
	fifo  []*inMsg
	count map[string]int // messages per peer in fifo
	cur   *inMsg
	pool  sync.Pool
}

// inMsg is a copied message, or the router's final error.
type inMsg struct {
	peer   string
	frames [][]byte
	buf    []byte
	err    error
}

// maxBatch bounds what the processing goroutine takes from the reader at once.
const maxBatch = 1024

func newBatchSource(r transport.Router, done <-chan struct{}, wg *sync.WaitGroup) *batchSource {
	s := &batchSource{in: make(chan *inMsg, 256), done: done, count: make(map[string]int)}
	s.pool.New = func() any { return new(inMsg) }
	wg.Add(1)
	go s.read(r, wg)
	return s
}

// read copies each message from the router into the queue until the router fails.
func (s *batchSource) read(r transport.Router, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		frames, err := r.Recv()
		if err != nil && !errors.Is(err, transport.ErrClosed) {
			// Passed over, as the processing goroutine does without this reader.
			select {
			case <-s.done:
				return
			case <-time.After(time.Millisecond):
			}
			continue
		}
		m := s.pool.Get().(*inMsg)
		m.err = err
		if err == nil {
			m.frames, m.buf = copyFrames(m.frames, m.buf, frames)
			m.peer = ""
			if len(frames) > 0 {
				m.peer = string(frames[0])
			}
		}
		select {
		case s.in <- m:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (s *batchSource) next() ([][]byte, bool, error) {
	if s.cur != nil {
		s.pool.Put(s.cur)
		s.cur = nil
	}
	if len(s.fifo) == 0 {
		select {
		case m := <-s.in:
			s.add(m)
		case <-s.done:
			return nil, false, transport.ErrClosed
		}
	}
drain:
	for len(s.fifo) < maxBatch {
		select {
		case m := <-s.in:
			s.add(m)
		default:
			break drain
		}
	}
	m := s.fifo[0]
	s.fifo[0] = nil
	s.fifo = s.fifo[1:]
	if m.err != nil {
		return nil, false, m.err
	}
	s.count[m.peer]--
	more := s.count[m.peer] > 0
	if !more {
		delete(s.count, m.peer)
	}
	s.cur = m
	return m.frames, more, nil
}

func (s *batchSource) add(m *inMsg) {
	s.fifo = append(s.fifo, m)
	if m.err == nil {
		s.count[m.peer]++
	}
}
