package broker

import (
	"math"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

// The range of Python's datetime, in Unix seconds: 0.2.1 computes an expiry as
// datetime.now() + timedelta(seconds=ttl), which raises outside it.
var (
	pyMinUnix = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	pyMaxUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// handleCompat runs DMB 0.2.1's handlers and reports whether the command succeeded. Only
// GROUPADD, GROUPDIS, FLUSHXXX and PRINTXXX have handlers; every other command fails.
func (s *Server) handleCompat(m *protocol.Message, bad error) bool {
	p := &m.Properties
	switch m.Command {
	case protocol.GroupAdd:
		if bad != nil {
			return false // e.g. ttl "60": timedelta raises
		}
		if len(p.GroupName) == 0 || len(p.ChannelName) == 0 {
			return true // 0.2.1 does nothing and says COMPLETE
		}
		ttl := p.TTL
		if ttl == 0 {
			ttl = protocol.DefaultTTL
		}
		now := s.nowNS / int64(time.Second)
		if ttl > pyMaxUnix-now || ttl < pyMinUnix-now {
			return false // datetime overflows, e.g. ttl 10**12
		}
		exp := now + ttl
		expNS := int64(math.MaxInt64)
		if exp < math.MaxInt64/int64(time.Second) && exp > math.MinInt64/int64(time.Second) {
			expNS = s.nowNS + ttl*int64(time.Second)
		} else if exp < 0 {
			expNS = math.MinInt64
		}
		s.store.add(p.GroupName, p.ChannelName, expNS)
		return true
	case protocol.GroupDiscard:
		if bad != nil {
			return false
		}
		if len(p.GroupName) > 0 && len(p.ChannelName) > 0 {
			s.store.discard(p.GroupName, p.ChannelName)
		}
		return true
	case protocol.Flush:
		s.store.flush()
		return true
	case protocol.Print:
		return s.store.print(s.printTo, s.cfg.PrintLimit) == nil
	}
	return false
}

// echoCompat prepares 0.2.1's reply in s.out: the request echoed (same envelope, id and
// properties frame) with COMPLETE when the handler succeeded, else the command unchanged.
func (s *Server) echoCompat(m *protocol.Message, ok bool) {
	s.out = protocol.Message{Envelope: m.Envelope, ID: m.ID, Command: m.Command, RawProperties: m.RawProperties}
	if ok {
		s.out.Command = protocol.Complete
	}
}
