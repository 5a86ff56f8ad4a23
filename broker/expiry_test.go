package broker

import (
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

func groupAdd(g, ch string, ttl int64) protocol.Message {
	return protocol.Message{ID: []byte("add " + g + "/" + ch), Command: protocol.GroupAdd,
		Properties: protocol.Properties{GroupName: []byte(g), ChannelName: []byte(ch), TTL: ttl}}
}

// TestExpiryReference moves a fake clock: memberships expire ttl after their last add,
// removed before the next request is handled, and empty groups go.
func TestExpiryReference(t *testing.T) {
	type step struct {
		advance         time.Duration
		add             *protocol.Message
		groups, members int64 // after the step and a HARTBEAT
	}
	a1, b1, a5 := groupAdd("g", "a", 1), groupAdd("g", "b", 1), groupAdd("h", "a", 5)
	tests := []struct {
		name  string
		steps []step
	}{
		{"ttl 1 s", []step{{0, &a1, 1, 1}, {999 * time.Millisecond, nil, 1, 1}, {time.Millisecond, nil, 0, 0}}},
		{"re-adding refreshes", []step{{0, &a1, 1, 1}, {800 * time.Millisecond, &a1, 1, 1}, {800 * time.Millisecond, nil, 1, 1}, {300 * time.Millisecond, nil, 0, 0}}},
		{"per membership", []step{{0, &a1, 1, 1}, {500 * time.Millisecond, &b1, 1, 2}, {600 * time.Millisecond, nil, 1, 1}, {500 * time.Millisecond, nil, 0, 0}}},
		{"only due entries", []step{{0, &a5, 1, 1}, {0, &a1, 2, 2}, {2 * time.Second, nil, 1, 1}, {3 * time.Second, nil, 0, 0}}},
		{"default ttl", []step{{0, &protocol.Message{ID: []byte("d"), Command: protocol.GroupAdd,
			Properties: protocol.Properties{GroupName: []byte("g"), ChannelName: []byte("c")}}, 1, 1},
			{(protocol.DefaultTTL - 1) * time.Second, nil, 1, 1}, {time.Second, nil, 0, 0}}},
	}
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clock := newFakeClock()
				s := startBroker(t, kind, Config{Now: clock.Now, ExpiryInterval: time.Hour})
				c := dial(t, kind, s.Addr())
				for i, st := range tt.steps {
					clock.Advance(st.advance)
					if st.add != nil {
						if r := c.call(*st.add); r.Command != protocol.Complete {
							t.Fatalf("step %d: GROUPADD: %s %q", i, r.Command, r.Properties.Reason)
						}
					}
					c.heartbeat("tick")
					if r := s.Report(); r.Groups != st.groups || r.Memberships != st.members {
						t.Fatalf("step %d: groups %d, memberships %d; want %d, %d", i, r.Groups, r.Memberships, st.groups, st.members)
					}
				}
			})
		}
	})
}

// TestExpiryIdle checks that expired memberships go while no request arrives: by the
// reference mode's sweep (empty groups deleted) and by the compat walk (empty groups kept).
func TestExpiryIdle(t *testing.T) {
	tests := []struct {
		mode       Mode
		wantGroups int64
	}{{Reference, 0}, {DMB021, 1}}
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		for _, tt := range tests {
			t.Run(string(tt.mode), func(t *testing.T) {
				clock := newFakeClock()
				s := startBroker(t, kind, Config{Compat: tt.mode, Now: clock.Now, ExpiryInterval: 10 * time.Millisecond})
				c := dial(t, kind, s.Addr())
				c.call(groupAdd("g", "a", 1))
				c.call(groupAdd("g", "b", 60))
				clock.Advance(2 * time.Second)
				eventually(t, "one membership left", func() bool { return s.Report().Memberships == 1 })
				clock.Advance(time.Minute)
				eventually(t, "no membership left", func() bool { return s.Report().Memberships == 0 })
				if g := s.Report().Groups; g != tt.wantGroups {
					t.Errorf("groups %d after expiry, want %d", g, tt.wantGroups)
				}
			})
		}
	})
}

// TestCompatWalkBlocks shows 0.2.1's periodic pauses: with a walk cost of 1 ms per group
// and 150 groups, each walk holds the processing lock for at least 150 ms, so a client
// sending one request at a time sees a round trip at least that long.
func TestCompatWalkBlocks(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		s := startBroker(t, kind, Config{Compat: DMB021, ExpiryInterval: 300 * time.Millisecond, WalkCost: time.Millisecond})
		c := dial(t, kind, s.Addr())
		for i := range 150 {
			c.call(groupAdd(string(rune('a'+i%26))+string(rune('a'+i/26)), "c", 60))
		}
		var worst time.Duration
		for start := time.Now(); time.Since(start) < 700*time.Millisecond; {
			t0 := time.Now()
			c.heartbeat("hb")
			worst = max(worst, time.Since(t0))
		}
		if worst < 100*time.Millisecond {
			t.Errorf("longest round trip %v over two walk periods, want ≥ 100 ms (a walk of 150 groups at 1 ms each)", worst)
		}
	})
}
