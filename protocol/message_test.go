package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func mustMsgpack(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func frames(fs ...string) [][]byte {
	out := make([][]byte, len(fs))
	for i, f := range fs {
		out[i] = []byte(f)
	}
	return out
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"groupadd", Message{ID: []byte("0123456789abcdef"), Command: GroupAdd,
			Properties: Properties{GroupName: []byte("room"), ChannelName: []byte("chan!1"), TTL: 60, Ack: true}}},
		{"envelope", Message{Envelope: frames("peer-1", "peer-2"), ID: []byte("x"), Command: Heartbeat,
			Properties: Properties{Ack: true}}},
		{"empty id and properties", Message{ID: []byte{}, Command: Flush}},
		{"exception", Message{ID: []byte("id"), Command: Exception, Properties: Properties{Reason: "bad ttl"}}},
		{"negative and large ttl", Message{ID: []byte("id"), Command: GroupAdd, Properties: Properties{TTL: -1 << 40}}},
		{"unknown command", Message{ID: []byte("id"), Command: "NOSUCHCM"}},
		{"long names", Message{ID: []byte("id"), Command: GroupDiscard,
			Properties: Properties{GroupName: bytes.Repeat([]byte("g"), 70000), ChannelName: bytes.Repeat([]byte("c"), 300)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Message
			if err := Decode(Encode(&tt.msg), &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got.Envelope) != len(tt.msg.Envelope) {
				t.Fatalf("envelope %q, want %q", got.Envelope, tt.msg.Envelope)
			}
			for i := range got.Envelope {
				if !bytes.Equal(got.Envelope[i], tt.msg.Envelope[i]) {
					t.Errorf("envelope[%d] = %q, want %q", i, got.Envelope[i], tt.msg.Envelope[i])
				}
			}
			if !bytes.Equal(got.ID, tt.msg.ID) || got.Command != tt.msg.Command {
				t.Errorf("id, command = %q, %q; want %q, %q", got.ID, got.Command, tt.msg.ID, tt.msg.Command)
			}
			p, w := got.Properties, tt.msg.Properties
			if !bytes.Equal(p.GroupName, w.GroupName) || !bytes.Equal(p.ChannelName, w.ChannelName) ||
				p.TTL != w.TTL || p.Ack != w.Ack || p.Reason != w.Reason {
				t.Errorf("properties = %+v, want %+v", p, w)
			}
		})
	}
}

// TestDecodeAcceptsPythonShapes decodes properties as the DMB Python client and other
// msgpack writers produce them: names as str or bin, ack as true or 1, unknown keys.
func TestDecodeAcceptsPythonShapes(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]any
		want  Properties
	}{
		{"bin names", map[string]any{"group_name": []byte("g"), "channel_name": []byte("c"), "ack": true},
			Properties{GroupName: []byte("g"), ChannelName: []byte("c"), Ack: true}},
		{"str names", map[string]any{"group_name": "g", "channel_name": "c"},
			Properties{GroupName: []byte("g"), ChannelName: []byte("c")}},
		{"ack 1", map[string]any{"ack": 1}, Properties{Ack: true}},
		{"ack 0", map[string]any{"ack": 0}, Properties{}},
		{"ack false", map[string]any{"ack": false}, Properties{}},
		{"ack nil", map[string]any{"ack": nil}, Properties{}},
		{"ack float", map[string]any{"ack": 1.5}, Properties{Ack: true}},
		{"ack string", map[string]any{"ack": "yes"}, Properties{Ack: true}},
		{"ttl uint16", map[string]any{"ttl": uint16(3600)}, Properties{TTL: 3600}},
		{"ttl int64", map[string]any{"ttl": int64(-5)}, Properties{TTL: -5}},
		{"unknown keys skipped", map[string]any{"x": []any{1, "a", map[string]any{"k": 1}}, "ack": true},
			Properties{Ack: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Properties
			if err := DecodeProperties(mustMsgpack(t, tt.props), &got); err != nil {
				t.Fatalf("DecodeProperties: %v", err)
			}
			if !bytes.Equal(got.GroupName, tt.want.GroupName) || !bytes.Equal(got.ChannelName, tt.want.ChannelName) ||
				got.TTL != tt.want.TTL || got.Ack != tt.want.Ack {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// malformedCases are the malformed shapes of PROTOCOL.md, each with the error it must
// decode to and whether the request id can be recovered. The fuzz target seeds from them.
func malformedCases(t testing.TB) []struct {
	name   string
	frames [][]byte
	want   error
	id     string // "" when no id can be recovered
} {
	ok := mustMsgpack(t, map[string]any{"ack": true})
	return []struct {
		name   string
		frames [][]byte
		want   error
		id     string
	}{
		{"2 frames after delimiter", [][]byte{{}, []byte("id1"), []byte("HARTBEAT")}, ErrTooFewFrames, "id1"},
		{"4 frames after delimiter", [][]byte{{}, []byte("id2"), []byte("HARTBEAT"), ok, ok}, ErrTooManyFrames, "id2"},
		{"no delimiter", [][]byte{[]byte("id3"), []byte("HARTBEAT"), ok}, ErrNoDelimiter, ""},
		{"not msgpack", [][]byte{{}, []byte("id4"), []byte("HARTBEAT"), {0xc1}}, ErrNotMsgpack, "id4"},
		{"truncated map", [][]byte{{}, []byte("id5"), []byte("HARTBEAT"), ok[:len(ok)-1]}, ErrNotMsgpack, "id5"},
		{"trailing bytes", [][]byte{{}, []byte("id6"), []byte("HARTBEAT"), append(append([]byte{}, ok...), 0x01)}, ErrTrailingBytes, "id6"},
		{"empty properties", [][]byte{{}, []byte("id7"), []byte("HARTBEAT"), {}}, ErrEmptyProperties, "id7"},
		{"list", [][]byte{{}, []byte("id8"), []byte("HARTBEAT"), mustMsgpack(t, []any{1, 2})}, ErrPropertiesNotMap, "id8"},
		{"nil", [][]byte{{}, []byte("id9"), []byte("HARTBEAT"), mustMsgpack(t, nil)}, ErrPropertiesNotMap, "id9"},
		{"integer key", [][]byte{{}, []byte("idA"), []byte("HARTBEAT"), mustMsgpack(t, map[int]any{1: true})}, ErrNonStringKey, "idA"},
		{"huge declared map", [][]byte{{}, []byte("idB"), []byte("HARTBEAT"), {0xdf, 0xff, 0xff, 0xff, 0xff}}, ErrNotMsgpack, "idB"},
		{"huge declared string", [][]byte{{}, []byte("idC"), []byte("GROUPADD"), {0x81, 0xaa, 'g', 'r', 'o', 'u', 'p', '_', 'n', 'a', 'm', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff}}, ErrNotMsgpack, "idC"},
		{"only delimiter", [][]byte{{}}, ErrTooFewFrames, ""},
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, tt := range malformedCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := Decode(tt.frames, &m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
			if string(de.ID) != tt.id || de.HasID != (tt.id != "") {
				t.Errorf("recovered id %q (has %v), want %q", de.ID, de.HasID, tt.id)
			}
			if IsBadProperty(err) {
				t.Errorf("IsBadProperty(%v) = true for a malformed message", err)
			}
			if de.Error() == "" {
				t.Error("empty error text")
			}
		})
	}
}

func TestDecodeBadPropertyTypes(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]any
	}{
		{"ttl string", map[string]any{"ttl": "60", "ack": true, "group_name": "g"}},
		{"ttl float", map[string]any{"ttl": 1.5, "ack": true, "group_name": "g"}},
		{"ttl above int64", map[string]any{"ttl": uint64(1 << 63), "ack": true, "group_name": "g"}},
		{"group list", map[string]any{"group_name": []any{"a"}, "ack": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := Decode([][]byte{{}, []byte("id"), []byte("GROUPADD"), mustMsgpack(t, tt.props)}, &m)
			if !IsBadProperty(err) {
				t.Fatalf("Decode = %v, want a bad property error", err)
			}
			if !m.Properties.Ack || string(m.ID) != "id" || m.Command != GroupAdd {
				t.Errorf("the rest of the message was not decoded: %+v", m)
			}
		})
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	f := Encode(&Message{ID: []byte("0123456789abcdef"), Command: GroupAdd,
		Properties: Properties{GroupName: []byte("group"), ChannelName: []byte("channel"), Ack: true, TTL: 60}})
	var m Message
	allocs := testing.AllocsPerRun(100, func() {
		if err := Decode(f, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per message, want 0", allocs)
	}
}

func TestEncoderDoesNotAllocate(t *testing.T) {
	var e Encoder
	m := Message{ID: []byte("0123456789abcdef"), Command: GroupAdd,
		Properties: Properties{GroupName: []byte("group"), ChannelName: []byte("channel"), Ack: true, TTL: 60}}
	e.Encode(&m)
	allocs := testing.AllocsPerRun(100, func() { e.Encode(&m) })
	if allocs != 0 {
		t.Errorf("Encoder.Encode allocates %v times per message, want 0", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range malformedCases(f) {
		f.Add(joinFrames(c.frames))
	}
	f.Add(joinFrames(Encode(&Message{ID: []byte("id"), Command: GroupAdd,
		Properties: Properties{GroupName: []byte("g"), ChannelName: []byte("c"), TTL: 5, Ack: true}})))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := splitFrames(data)
		var m Message
		err := Decode(fs, &m)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) && !IsBadProperty(err) {
				t.Fatalf("error %v (%T) is neither a DecodeError nor a bad property", err, err)
			}
			return
		}
		// A message that decodes re-encodes to frames that decode to the same fields.
		var again Message
		if err := Decode(Encode(&Message{Envelope: m.Envelope, ID: m.ID, Command: m.Command, Properties: m.Properties}), &again); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !bytes.Equal(again.ID, m.ID) || again.Command != m.Command || again.Properties.TTL != m.Properties.TTL ||
			!bytes.Equal(again.Properties.GroupName, m.Properties.GroupName) || again.Properties.Ack != m.Properties.Ack {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
	})
}

// joinFrames and splitFrames map multipart frames to one fuzzer input: each frame is a
// one-byte length (frames longer than 255 bytes continue into the next) then its bytes.
func joinFrames(fs [][]byte) []byte {
	var out []byte
	for _, f := range fs {
		n := min(len(f), 255)
		out = append(out, byte(n))
		out = append(out, f[:n]...)
	}
	return out
}

func splitFrames(data []byte) [][]byte {
	var fs [][]byte
	for len(data) > 0 {
		n := min(int(data[0]), len(data)-1)
		fs = append(fs, data[1:1+n])
		data = data[1+n:]
	}
	return fs
}

func BenchmarkEncodeGroupAdd(b *testing.B) {
	var e Encoder
	m := Message{ID: []byte("0123456789abcdef"), Command: GroupAdd,
		Properties: Properties{GroupName: []byte("chat-room-0042"), ChannelName: []byte("specific.abc!def123"), Ack: true}}
	b.ReportAllocs()
	for b.Loop() {
		e.Encode(&m)
	}
}

func BenchmarkDecodeGroupAdd(b *testing.B) {
	f := Encode(&Message{Envelope: frames("\x00\x01\x02\x03\x04"), ID: []byte("0123456789abcdef"), Command: GroupAdd,
		Properties: Properties{GroupName: []byte("chat-room-0042"), ChannelName: []byte("specific.abc!def123"), Ack: true}})
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(f, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEncoderStringNames(t *testing.T) {
	for _, str := range []bool{false, true} {
		e := Encoder{StringNames: str}
		props := e.Properties(&Properties{GroupName: []byte("g1"), ChannelName: []byte{}})
		var raw map[string]any
		if err := msgpack.Unmarshal(props, &raw); err != nil {
			t.Fatal(err)
		}
		_, isStr := raw[KeyGroupName].(string)
		_, isStr2 := raw[KeyChannelName].(string)
		if isStr != str || isStr2 != str {
			t.Errorf("StringNames %v: names decoded as %T and %T", str, raw[KeyGroupName], raw[KeyChannelName])
		}
	}
}
