package broker

import (
	"runtime"
	"time"
)

// holdLimit bounds the requests held for stuck connections; beyond it they are dropped
// and counted in Report.Dropped.Requests.
const holdLimit = 100_000

// heldMsg is a copied request of a stuck connection.
type heldMsg struct {
	peer   string
	frames [][]byte
}

// take applies the faults that act before processing (pause, dropped requests, stuck
// connections, stall) and processes the message.
func (s *Server) take(frames [][]byte, more bool) {
	t0 := time.Now()
	if s.cfg.Faults.Pause > 0 {
		t0 = s.waitPause(t0)
	}
	if s.dropReq != nil && s.dropReq.Float64() < s.cfg.Faults.DropRequests {
		s.dropRequest()
		return
	}
	if len(frames) == 0 { // a router always gives the peer's routing id; be safe anyway
		s.mu.Lock()
		s.stats.malformed++
		s.mu.Unlock()
		return
	}
	peer := frames[0]
	if len(s.stuck) > 0 {
		if s.stuck[string(peer)] {
			s.hold(string(peer), frames)
			return
		}
		s.release()
		t0 = time.Now()
	}
	if more && s.cfg.Faults.Stall {
		s.stuck[string(peer)] = true
		s.hold(string(peer), frames)
		return
	}
	s.process(frames, t0)
}

// waitPause returns t, or when t falls in a pause window, the time the window ends, after
// sleeping until then.
func (s *Server) waitPause(t time.Time) time.Time {
	p, every := s.cfg.Faults.Pause, s.cfg.Faults.PauseEvery
	since := t.Sub(s.start)
	k := since / every
	if k < 1 || since-k*every >= p {
		return t
	}
	s.sleep(time.Duration(k)*every + p - since)
	return time.Now()
}

// occupy keeps the processing goroutine busy until the deadline: it sleeps while the
// deadline is far (timers overshoot by up to about a millisecond), then spins.
func (s *Server) occupy(until time.Time) {
	const slack = 1500 * time.Microsecond
	if left := time.Until(until); left > 2*slack {
		s.sleep(left - slack)
	}
	for time.Now().Before(until) {
		if s.closed() {
			return
		}
		runtime.Gosched()
	}
}

// hold keeps a copy of a stuck connection's message.
func (s *Server) hold(peer string, frames [][]byte) {
	if len(s.held) >= holdLimit {
		s.dropRequest()
		return
	}
	h := heldMsg{peer: peer}
	h.frames, _ = copyFrames(nil, nil, frames)
	s.held = append(s.held, h)
}

// dropRequest counts a request discarded by a fault, in Report.Dropped.Requests.
func (s *Server) dropRequest() {
	s.mu.Lock()
	s.stats.dropped.Requests++
	s.mu.Unlock()
}

// release processes every held message in arrival order, as 0.2.1 answers its stuck
// requests once another connection sends. A message that makes its connection stuck
// again (compat: malformed) holds that connection's later messages again.
func (s *Server) release() {
	held := s.held
	s.held = nil
	clear(s.stuck)
	for _, h := range held {
		if s.stuck[h.peer] {
			s.held = append(s.held, h)
			continue
		}
		s.process(h.frames, time.Now())
	}
}
