package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// fakeServer is an in-memory peer for engine tests that need no sockets: each Send is
// answered by a programmable handler, after an optional delay. Network behaviour is
// tested against the real broker on 127.0.0.1 in e2e_test.go.
type fakeServer struct {
	// handle returns the replies to one request (nil: none) and how long to wait before
	// delivering them. n counts requests from 1 across all connections.
	handle func(n int64, req *protocol.Message) (replies [][][]byte, delay time.Duration)

	dialErr   error
	failFirst int64 // the first failFirst dials fail with errRefused
	dials     atomic.Int64
	reqs      atomic.Int64

	mu        sync.Mutex
	dealers   []*fakeDealer
	dialTimes []time.Time
}

// reply builds a reply to req with the given command, echoing id and properties.
func reply(req *protocol.Message, cmd protocol.Command) [][]byte {
	return [][]byte{{}, append([]byte(nil), req.ID...), []byte(cmd), append([]byte(nil), req.RawProperties...)}
}

// echoHandler answers each request as the reference broker does.
func echoHandler(_ int64, req *protocol.Message) ([][][]byte, time.Duration) {
	return [][][]byte{reply(req, req.Command.ExpectedReply())}, 0
}

func (s *fakeServer) dial(ctx context.Context, addr string, opts transport.DialOptions) (transport.Dealer, error) {
	n := s.dials.Add(1)
	s.mu.Lock()
	s.dialTimes = append(s.dialTimes, time.Now())
	s.mu.Unlock()
	if s.dialErr != nil {
		return nil, s.dialErr
	}
	if n <= s.failFirst {
		return nil, errRefused
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := &fakeDealer{s: s, in: make(chan [][]byte, 1<<16), closed: make(chan struct{}), deadlineCh: make(chan struct{}, 1)}
	s.mu.Lock()
	s.dealers = append(s.dealers, d)
	s.mu.Unlock()
	return d, nil
}

type fakeDealer struct {
	s      *fakeServer
	in     chan [][]byte
	closed chan struct{}
	once   sync.Once

	mu         sync.Mutex
	deadline   time.Time
	deadlineCh chan struct{}
	timers     map[*time.Timer]struct{}
}

func (d *fakeDealer) Send(msg [][]byte) error {
	select {
	case <-d.closed:
		return transport.ErrClosed
	default:
	}
	var m protocol.Message
	if err := protocol.DecodeHeader(msg, &m); err != nil {
		return nil
	}
	m.ID = append([]byte(nil), m.ID...)
	m.RawProperties = append([]byte(nil), m.RawProperties...)
	n := d.s.reqs.Add(1)
	replies, delay := d.s.handle(n, &m)
	if len(replies) == 0 {
		return nil
	}
	deliver := func() {
		for _, r := range replies {
			select {
			case d.in <- r:
			case <-d.closed:
				return
			}
		}
	}
	if delay <= 0 {
		deliver()
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timers == nil {
		d.timers = map[*time.Timer]struct{}{}
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		deliver()
		d.mu.Lock()
		delete(d.timers, t)
		d.mu.Unlock()
	})
	d.timers[t] = struct{}{}
	return nil
}

func (d *fakeDealer) Recv() ([][]byte, error) {
	for {
		d.mu.Lock()
		dl := d.deadline
		d.mu.Unlock()
		var tc <-chan time.Time
		if !dl.IsZero() {
			wait := time.Until(dl)
			if wait <= 0 {
				select {
				case m := <-d.in:
					return m, nil
				case <-d.closed:
					return nil, transport.ErrClosed
				default:
					return nil, transport.ErrTimeout
				}
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			tc = t.C
		}
		select {
		case m := <-d.in:
			return m, nil
		case <-d.closed:
			return nil, transport.ErrClosed
		case <-tc:
			return nil, transport.ErrTimeout
		case <-d.deadlineCh:
			// The deadline moved: look again.
		}
	}
}

func (d *fakeDealer) SetRecvDeadline(t time.Time) error {
	d.mu.Lock()
	d.deadline = t
	d.mu.Unlock()
	select {
	case d.deadlineCh <- struct{}{}:
	default:
	}
	return nil
}

func (d *fakeDealer) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.mu.Lock()
		for t := range d.timers {
			t.Stop()
		}
		d.mu.Unlock()
	})
	return nil
}

var errRefused = errors.New("connection refused")
