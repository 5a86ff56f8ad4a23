package broker

import (
	"errors"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// process handles one message under the processing lock and sends its reply, if any.
func (s *Server) process(frames [][]byte, t0 time.Time) {
	s.mu.Lock()
	s.nowNS = s.now().UnixNano()
	if !s.compat && s.store.nextExpiry() <= s.nowNS {
		s.store.expire(s.nowNS)
	}
	cs, ok, reply := s.handle(frames)
	var out [][]byte
	if reply {
		out = s.enc.Encode(&s.out)
	}
	if st := s.cfg.Faults.ServiceTime; st > 0 {
		s.occupy(t0.Add(st))
	}
	if cs != nil {
		cs.record(time.Since(t0))
	}
	if reply && s.dropRep != nil && s.dropRep.Float64() < s.cfg.Faults.DropReplies {
		s.stats.dropped.Replies++
		reply = false
	}
	s.mu.Unlock()
	if !reply {
		return
	}
	tag := replyTag{cs: cs, ok: ok}
	if s.delay != nil {
		s.delay.push(out, time.Now().Add(s.cfg.Faults.Latency), tag)
		return
	}
	s.send(out, tag)
}

// replyTag says which counter a reply's request was counted in: cs's Completed when ok,
// its Exceptions otherwise, or neither when cs is nil (a malformed request).
type replyTag struct {
	cs *cmdStats
	ok bool
}

// send hands a reply to the router. A reply the router drops because the peer's send
// queue (or every peer's) is full, transport.ErrSlowPeer, is counted in
// Report.Dropped.QueueFull and its request taken out of Completed or Exceptions: it was
// not answered. A peer gone meanwhile is counted by the router.
func (s *Server) send(out [][]byte, tag replyTag) {
	if err := s.router.Send(out); err == nil || !errors.Is(err, transport.ErrSlowPeer) {
		return
	}
	s.mu.Lock()
	s.stats.dropped.QueueFull++
	switch {
	case tag.cs == nil:
	case tag.ok:
		tag.cs.completed--
	default:
		tag.cs.exceptions--
	}
	s.mu.Unlock()
}

// handle decodes and handles a message. It returns the counters to record the service
// time in (nil for a malformed message), whether the command succeeded (counted in
// Completed, else in Exceptions), and whether s.out is a reply to send.
func (s *Server) handle(frames [][]byte) (*cmdStats, bool, bool) {
	m := &s.msg
	err := protocol.Decode(frames, m)
	if err != nil && !protocol.IsBadProperty(err) {
		return nil, false, s.malformed(frames, m, err)
	}
	cs := s.stats.of(m.Command)
	cs.received++
	var ok bool
	if s.compat {
		ok = s.handleCompat(m, err)
	} else {
		ok = s.handleReference(m, err)
	}
	if ok {
		cs.completed++
	} else {
		cs.exceptions++
	}
	if !m.Properties.Ack {
		return cs, ok, false
	}
	if s.compat {
		s.echoCompat(m, ok)
	} else if m.Command == protocol.Performance && ok {
		s.replyReport(m) // after counting, so that the report includes this request
	}
	return cs, ok, true
}

// malformed counts an undecodable message and, in the reference mode, answers it with
// EXCEPTON when its id was recovered, whatever its ack. In compat mode it is not answered
// and its connection is stuck until another connection sends, as with 0.2.1.
func (s *Server) malformed(frames [][]byte, m *protocol.Message, err error) bool {
	if bodyLen(frames) >= 2 {
		s.stats.of(m.Command).malformed++
	} else {
		s.stats.malformed++
	}
	if s.compat {
		s.stuck[string(frames[0])] = true
		return false
	}
	var de *protocol.DecodeError
	if !errors.As(err, &de) || !de.HasID {
		return false
	}
	s.out = protocol.Message{Envelope: m.Envelope, ID: de.ID, Command: protocol.Exception,
		Properties: protocol.Properties{Reason: err.Error()}}
	return true
}

// bodyLen returns the number of frames after the first empty one, or -1 without one.
func bodyLen(frames [][]byte) int {
	for i, f := range frames {
		if len(f) == 0 {
			return len(frames) - i - 1
		}
	}
	return -1
}
