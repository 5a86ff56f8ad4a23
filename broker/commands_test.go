package broker

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// commandCase is one request and what each mode answers with ack.
type commandCase struct {
	name   string
	cmd    protocol.Command
	props  map[string]any // sent as msgpack; "ack" is added or left out by the test
	ref    protocol.Command
	reason string // a substring of the reference EXCEPTON's reason
	compat protocol.Command
}

func commandCases() []commandCase {
	long := strings.Repeat("g", DefaultMaxNameLen+1)
	return []commandCase{
		{"groupadd", protocol.GroupAdd, map[string]any{"group_name": []byte("g"), "channel_name": []byte("c")}, protocol.Complete, "", protocol.Complete},
		{"groupadd str names and ttl", protocol.GroupAdd, map[string]any{"group_name": "g", "channel_name": "c", "ttl": 60}, protocol.Complete, "", protocol.Complete},
		{"groupadd name at the limit", protocol.GroupAdd, map[string]any{"group_name": long[1:], "channel_name": "c"}, protocol.Complete, "", protocol.Complete},
		{"groupadd name above the limit", protocol.GroupAdd, map[string]any{"group_name": long, "channel_name": "c"}, protocol.Exception, "above this server's limit", protocol.Complete},
		{"groupadd channel above the limit", protocol.GroupAdd, map[string]any{"group_name": "g", "channel_name": long}, protocol.Exception, "channel_name is 65537 bytes", protocol.Complete},
		{"groupadd without channel", protocol.GroupAdd, map[string]any{"group_name": "g"}, protocol.Exception, "needs a non-empty", protocol.Complete},
		{"groupadd empty group", protocol.GroupAdd, map[string]any{"group_name": "", "channel_name": "c"}, protocol.Exception, "needs a non-empty", protocol.Complete},
		{"groupadd negative ttl", protocol.GroupAdd, map[string]any{"group_name": "g", "channel_name": "c", "ttl": -5}, protocol.Exception, "ttl -5 s is out of range", protocol.Complete},
		{"groupadd ttl above max", protocol.GroupAdd, map[string]any{"group_name": "g", "channel_name": "c", "ttl": MaxTTL + 1}, protocol.Exception, "out of range", protocol.Complete},
		{"groupadd ttl 10**12", protocol.GroupAdd, map[string]any{"group_name": "g", "channel_name": "c", "ttl": int64(1e12)}, protocol.Exception, "out of range", protocol.GroupAdd},
		{"groupadd ttl string", protocol.GroupAdd, map[string]any{"group_name": "g", "channel_name": "c", "ttl": "60"}, protocol.Exception, `property "ttl"`, protocol.GroupAdd},
		{"groupdis", protocol.GroupDiscard, map[string]any{"group_name": "g", "channel_name": "c"}, protocol.Complete, "", protocol.Complete},
		{"groupdis unknown group", protocol.GroupDiscard, map[string]any{"group_name": "nope", "channel_name": "c"}, protocol.Complete, "", protocol.Complete},
		{"groupdis without names", protocol.GroupDiscard, map[string]any{}, protocol.Exception, "needs a non-empty", protocol.Complete},
		{"groupdis bad name type", protocol.GroupDiscard, map[string]any{"group_name": []any{1}, "channel_name": "c"}, protocol.Exception, `property "group_name"`, protocol.GroupDiscard},
		{"flush", protocol.Flush, map[string]any{}, protocol.Complete, "", protocol.Complete},
		{"print", protocol.Print, map[string]any{}, protocol.Complete, "", protocol.Complete},
		{"heartbeat", protocol.Heartbeat, map[string]any{}, protocol.Heartbeat, "", protocol.Heartbeat},
		{"heartbeat with unknown keys", protocol.Heartbeat, map[string]any{"x": []any{1, "y"}}, protocol.Heartbeat, "", protocol.Heartbeat},
		{"perfmnce", protocol.Performance, map[string]any{}, protocol.PerformanceReport, "", protocol.Performance},
		{"unknown command", "NOSUCHCM", map[string]any{}, protocol.Exception, `unknown command "NOSUCHCM"`, "NOSUCHCM"},
		{"empty command", "", map[string]any{}, protocol.Exception, `unknown command ""`, ""},
		{"server-to-client command", protocol.FlushClient, map[string]any{}, protocol.Exception, `unknown command "FLUSHCXX"`, protocol.FlushClient},
	}
}

// TestCommands sends every command with and without ack to a broker in each mode over each
// transport. With ack the reply must be the mode's; without ack there must be none, which
// the test sees because the next reply on the connection is the acked HARTBEAT's.
func TestCommands(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				s := startBroker(t, kind, Config{Compat: mode})
				c := dial(t, kind, s.Addr())
				for i, tt := range commandCases() {
					t.Run(tt.name, func(t *testing.T) {
						c.t = t
						props := map[string]any{"ack": true}
						for k, v := range tt.props {
							props[k] = v
						}
						raw := mustMsgpack(t, props)
						id := fmt.Sprintf("req-%d", i)
						c.sendFrames([][]byte{{}, []byte(id), []byte(tt.cmd), raw})
						r := c.mustRecv()
						want := tt.ref
						if mode == DMB021 {
							want = tt.compat
						}
						if string(r.ID) != id || r.Command != want {
							t.Fatalf("reply %s id %q (reason %q), want %s id %q", r.Command, r.ID, r.Properties.Reason, want, id)
						}
						switch {
						case mode == DMB021:
							if !bytes.Equal(r.RawProperties, raw) {
								t.Errorf("compat reply properties %x, want the request's echoed: %x", r.RawProperties, raw)
							}
						case want == protocol.Exception:
							if !strings.Contains(r.Properties.Reason, tt.reason) {
								t.Errorf("reason %q, want it to contain %q", r.Properties.Reason, tt.reason)
							}
						case want == protocol.PerformanceReport:
							rep, err := protocol.DecodeReport(r.RawProperties)
							if err != nil || rep.Server != ServerName || len(rep.Missing) != 0 {
								t.Errorf("PERFRPRT: %v, server %q, missing %v", err, rep.Server, rep.Missing)
							}
						default:
							if !bytes.Equal(r.RawProperties, emptyMap) {
								t.Errorf("%s properties %x, want an empty map", r.Command, r.RawProperties)
							}
						}

						// Without ack: no reply, so the next one is the HARTBEAT's.
						delete(props, "ack")
						c.sendFrames([][]byte{{}, []byte(id + "-noack"), []byte(tt.cmd), mustMsgpack(t, props)})
						props["ack"] = false
						c.sendFrames([][]byte{{}, []byte(id + "-ackfalse"), []byte(tt.cmd), mustMsgpack(t, props)})
						c.heartbeat(id + "-probe")
					})
				}
			})
		}
	})
}

// TestStore checks what the commands do to the store, through Report and PRINTXXX.
func TestStore(t *testing.T) {
	add := func(g, ch string) protocol.Message {
		return protocol.Message{ID: []byte("a"), Command: protocol.GroupAdd,
			Properties: protocol.Properties{GroupName: []byte(g), ChannelName: []byte(ch)}}
	}
	dis := func(g, ch string) protocol.Message {
		m := add(g, ch)
		m.Command = protocol.GroupDiscard
		return m
	}
	flush := protocol.Message{ID: []byte("f"), Command: protocol.Flush}
	tests := []struct {
		name              string
		mode              Mode
		reqs              []protocol.Message
		groups, members   int64
		printed, unprintd []string
	}{
		{"add", Reference, []protocol.Message{add("g1", "a"), add("g1", "b"), add("g2", "a"), add("g1", "a")}, 2, 3,
			[]string{`"g1":`, `"g2": "a"`, "2 groups, 3 memberships"}, nil},
		{"discard drops empty groups", Reference, []protocol.Message{add("g1", "a"), add("g2", "a"), dis("g1", "a"), dis("g2", "x"), dis("g9", "a")}, 1, 1,
			[]string{`"g2": "a"`}, []string{`"g1"`, `"g9"`}},
		{"flush", Reference, []protocol.Message{add("g1", "a"), add("g2", "b"), flush}, 0, 0, []string{"0 groups"}, []string{`"g1"`}},
		{"compat discard keeps empty groups", DMB021, []protocol.Message{add("g1", "a"), dis("g1", "a"), dis("g9", "a")}, 2, 0,
			[]string{`"g1":`, `"g9":`}, nil},
		{"compat flush", DMB021, []protocol.Message{add("g1", "a"), dis("g2", "a"), flush}, 0, 0, []string{"0 groups"}, nil},
	}
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var out syncBuffer
				s := startBroker(t, kind, Config{Compat: tt.mode, PrintTo: &out})
				c := dial(t, kind, s.Addr())
				for _, m := range tt.reqs {
					if r := c.call(m); r.Command != protocol.Complete {
						t.Fatalf("%s: reply %s %q", m.Command, r.Command, r.Properties.Reason)
					}
				}
				rep := s.Report()
				if rep.Groups != tt.groups || rep.Memberships != tt.members {
					t.Errorf("groups %d, memberships %d; want %d, %d", rep.Groups, rep.Memberships, tt.groups, tt.members)
				}
				if r := c.call(protocol.Message{ID: []byte("p"), Command: protocol.Print}); r.Command != protocol.Complete {
					t.Fatalf("PRINTXXX: %s", r.Command)
				}
				text := out.String()
				for _, w := range tt.printed {
					if !strings.Contains(text, w) {
						t.Errorf("printed store lacks %q:\n%s", w, text)
					}
				}
				for _, w := range tt.unprintd {
					if strings.Contains(text, w) {
						t.Errorf("printed store has %q:\n%s", w, text)
					}
				}
			})
		}
	})
}
