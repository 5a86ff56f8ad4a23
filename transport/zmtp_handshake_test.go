package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestZMTPCheckGreeting(t *testing.T) {
	good := zmtpAppendGreeting(nil)
	with := func(i int, b ...byte) []byte {
		g := bytes.Clone(good)
		copy(g[i:], b)
		return g
	}
	tests := []struct {
		name string
		g    []byte
		ok   bool
	}{
		{"ours (3.1)", good, true},
		{"ZMTP 3.0 peer", with(11, 0), true},
		{"libzmq padding", with(1, 0, 0, 0, 0, 0, 0, 0, 1), true},
		{"partial but fine so far", good[:11], true},
		{"HTTP request", []byte("GET / HTTP/1.1\r\n"), false},
		{"ZMTP 1.0 signature", with(9, 0x7E), false},
		{"ZMTP 2.0 (major 1)", with(10, 1), false},
		{"major 0", with(10, 0), false},
		{"major 4 (talks 3.x to us)", with(10, 4), true},
		{"major 255", with(10, 255, 255), true},
		{"PLAIN mechanism", with(12, 'P', 'L', 'A', 'I', 'N'), false},
		{"CURVE mechanism", with(12, 'C', 'U', 'R', 'V', 'E'), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := zmtpCheckGreeting(tt.g)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadGreeting) {
				t.Fatalf("err = %v, want ErrBadGreeting", err)
			}
		})
	}
}

func TestZMTPParseReady(t *testing.T) {
	props := func(kv ...string) []byte {
		var b []byte
		for i := 0; i < len(kv); i += 2 {
			b = zmtpAppendProperty(b, kv[i], []byte(kv[i+1]))
		}
		return b
	}
	tests := []struct {
		name     string
		data     []byte
		wantType string
		wantID   string
		ok       bool
	}{
		{"dealer without identity", props("Socket-Type", "DEALER"), "DEALER", "", true},
		{"names in any case, extra properties", props("socket-type", "ROUTER", "X-App", "dmb", "IDENTITY", "me"), "ROUTER", "me", true},
		{"no socket type", props("Identity", "me"), "", "", false},
		{"value cut short", props("Socket-Type", "DEALER")[:15], "", "", false},
		{"name cut short", []byte{20, 'S'}, "", "", false},
		{"identity too long", props("Socket-Type", "DEALER", "Identity", string(make([]byte, 256))), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := zmtpParseReady(tt.data)
			if !tt.ok {
				if !errors.Is(err, ErrBadGreeting) {
					t.Fatalf("err = %v, want ErrBadGreeting", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if info.socketType != tt.wantType || string(info.identity) != tt.wantID {
				t.Fatalf("got type %q identity %q, want %q %q", info.socketType, info.identity, tt.wantType, tt.wantID)
			}
		})
	}
}

func TestZMTPCompatible(t *testing.T) {
	tests := []struct {
		ours, peer string
		want       bool
	}{
		{zmtpDealer, "ROUTER", true},
		{zmtpDealer, "DEALER", true},
		{zmtpDealer, "REP", true},
		{zmtpDealer, "REQ", false},
		{zmtpDealer, "PUB", false},
		{zmtpRouter, "DEALER", true},
		{zmtpRouter, "REQ", true},
		{zmtpRouter, "ROUTER", true},
		{zmtpRouter, "REP", false},
		{zmtpRouter, "SUB", false},
	}
	for _, tt := range tests {
		if got := zmtpCompatible(tt.ours, tt.peer); got != tt.want {
			t.Errorf("zmtpCompatible(%s, %s) = %v, want %v", tt.ours, tt.peer, got, tt.want)
		}
	}
}

// TestZMTPHandshake feeds whole handshakes to zmtpHandshake, at once and a byte at a
// time: it must reach the same verdict either way, stop right after the peer's READY,
// and name each refusal.
func TestZMTPHandshake(t *testing.T) {
	greeting := rawGreeting(3, 1, "NULL")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	after := []byte{0x00, 0x02, 'h', 'i'} // the peer's first message
	tests := []struct {
		name   string
		wire   []byte
		ours   string
		want   error // nil: accepted
		wantID string
	}{
		{"dealer to router", cat(greeting, rawReady("DEALER", "")), zmtpRouter, nil, ""},
		{"identity, then a message", cat(greeting, rawReady("DEALER", "me"), after), zmtpRouter, nil, "me"},
		{"socket type in lower case", cat(greeting, rawReady("dealer", "")), zmtpRouter, nil, ""},
		{"router to dealer", cat(greeting, rawReady("ROUTER", "")), zmtpDealer, nil, ""},
		{"ZMTP 3.0", cat(rawGreeting(3, 0, "NULL"), rawReady("DEALER", "")), zmtpRouter, nil, ""},
		{"major version 4", cat(rawGreeting(4, 0, "NULL"), rawReady("DEALER", "")), zmtpRouter, nil, ""},
		{"255-byte identity", cat(greeting, rawReady("DEALER", strings.Repeat("i", 255))), zmtpRouter, nil, strings.Repeat("i", 255)},
		{"256-byte identity", cat(greeting, rawReady("DEALER", strings.Repeat("i", 256))), zmtpRouter, ErrBadGreeting, ""},
		{"ZMTP 2.0", cat(rawGreeting(1, 0, "NULL"), rawReady("DEALER", "")), zmtpRouter, ErrBadGreeting, ""},
		{"incompatible socket type", cat(greeting, rawReady("PUB", "")), zmtpRouter, ErrBadGreeting, ""},
		{"message before READY", cat(greeting, after), zmtpRouter, ErrBadGreeting, ""},
		{"PING before READY", cat(greeting, zmtpAppendCommand(nil, "PING", []byte{0, 0})), zmtpRouter, ErrBadGreeting, ""},
		{"empty command", cat(greeting, []byte{0x04, 0}), zmtpRouter, ErrBadGreeting, ""},
		{"ERROR instead of READY", cat(greeting, zmtpAppendCommand(nil, "ERROR", []byte{3}, []byte("bye"))), zmtpRouter, ErrPeerError, ""},
		{"READY above the command limit", cat(greeting, rawLongHeader(zmtpCommand, zmtpMaxCommand+1)), zmtpRouter, ErrFrameTooLarge, ""},
	}
	for _, tt := range tests {
		for _, step := range []int{len(tt.wire), 1} {
			var h zmtpHandshake
			h.init(tt.ours, defaultMaxFrameSize)
			used, done, err := 0, false, error(nil)
			for used < len(tt.wire) && !done && err == nil {
				var n int
				n, done, err = h.feed(tt.wire[used:min(used+step, len(tt.wire))])
				used += n
			}
			rest := tt.wire[used:]
			switch {
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Errorf("%s, %d-byte steps: err = %v, want %v", tt.name, step, err, tt.want)
				}
			case err != nil || !done:
				t.Errorf("%s, %d-byte steps: done=%v err=%v, want it accepted", tt.name, step, done, err)
			case string(h.peer.identity) != tt.wantID:
				t.Errorf("%s, %d-byte steps: identity %q, want %q", tt.name, step, h.peer.identity, tt.wantID)
			case len(rest) != 0 && !bytes.Equal(rest, after):
				t.Errorf("%s, %d-byte steps: %d bytes left after READY, want only the first message", tt.name, step, len(rest))
			}
		}
	}
}
