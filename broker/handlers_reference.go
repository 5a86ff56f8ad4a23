package broker

import (
	"fmt"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

// MaxTTL is the longest ttl, in seconds, the reference mode accepts: 10 years.
const MaxTTL = 10 * 365 * 86400

// emptyMap is the msgpack encoding of {}, the properties of COMPLETE and HARTBEAT replies.
var emptyMap = []byte{0x80}

// handleReference runs the reference handlers and prepares the reply in s.out (sent only
// when ack is set). It reports whether the command succeeded.
func (s *Server) handleReference(m *protocol.Message, bad error) bool {
	var reason string
	switch {
	case bad != nil:
		reason = fmt.Sprintf("%s: %v", m.Command, bad)
	case m.Command == protocol.GroupAdd:
		reason = s.groupAdd(&m.Properties)
	case m.Command == protocol.GroupDiscard:
		reason = s.groupDiscard(&m.Properties)
	case m.Command == protocol.Flush:
		s.store.flush()
	case m.Command == protocol.Print:
		if err := s.store.print(s.printTo, s.cfg.PrintLimit); err != nil {
			reason = "PRINTXXX: writing the store failed: " + err.Error()
		}
	case m.Command == protocol.Heartbeat, m.Command == protocol.Performance:
		// Nothing to do here: HARTBEAT is answered as it is, and PERFMNCE's report is
		// added by replyReport once the request is counted.
	default:
		reason = fmt.Sprintf("unknown command %q: this server handles GROUPADD, GROUPDIS, FLUSHXXX, PRINTXXX, HARTBEAT and PERFMNCE", m.Command)
	}
	s.out = protocol.Message{Envelope: m.Envelope, ID: m.ID, Command: m.Command.ExpectedReply(), RawProperties: emptyMap}
	if reason != "" {
		s.out.Command, s.out.RawProperties, s.out.Properties.Reason = protocol.Exception, nil, reason
		return false
	}
	return true
}

// checkNames returns why a GROUPADD or GROUPDIS lacks usable names, or "".
func (s *Server) checkNames(c protocol.Command, p *protocol.Properties) string {
	if len(p.GroupName) == 0 || len(p.ChannelName) == 0 {
		return fmt.Sprintf("%s needs a non-empty group_name and channel_name", c)
	}
	if limit := s.cfg.MaxNameLen; limit > 0 {
		for _, n := range []struct {
			key string
			v   []byte
		}{{protocol.KeyGroupName, p.GroupName}, {protocol.KeyChannelName, p.ChannelName}} {
			if len(n.v) > limit {
				return fmt.Sprintf("%s: %s is %d bytes, above this server's limit of %d (MaxNameLen)", c, n.key, len(n.v), limit)
			}
		}
	}
	return ""
}

// groupAdd adds the pair with expiry now + ttl, or returns why it cannot.
func (s *Server) groupAdd(p *protocol.Properties) string {
	if reason := s.checkNames(protocol.GroupAdd, p); reason != "" {
		return reason
	}
	ttl := p.TTL
	if ttl == 0 {
		ttl = protocol.DefaultTTL
	}
	if ttl < 1 || ttl > MaxTTL {
		return fmt.Sprintf("GROUPADD: ttl %d s is out of range: want 1..%d seconds (absent or 0 means %d)", p.TTL, MaxTTL, protocol.DefaultTTL)
	}
	s.store.add(p.GroupName, p.ChannelName, s.nowNS+ttl*int64(time.Second))
	return ""
}

// groupDiscard removes the pair, or returns why it cannot.
func (s *Server) groupDiscard(p *protocol.Properties) string {
	if reason := s.checkNames(protocol.GroupDiscard, p); reason != "" {
		return reason
	}
	s.store.discard(p.GroupName, p.ChannelName)
	return ""
}

// replyReport puts the report in s.out, the PERFRPRT handleReference prepared, or makes
// the reply EXCEPTON when the report cannot be encoded.
func (s *Server) replyReport(m *protocol.Message) {
	rep := s.reportLocked()
	b, err := protocol.EncodeReport(&rep)
	if err != nil {
		s.out = protocol.Message{Envelope: m.Envelope, ID: m.ID, Command: protocol.Exception,
			Properties: protocol.Properties{Reason: "PERFMNCE: encoding the report: " + err.Error()}}
		return
	}
	s.out.RawProperties = b
}
