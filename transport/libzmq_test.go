package transport

import (
	"testing"
	"time"
)

// Interoperability with C libzmq 4.3 (Debian's libzmq5), the library the real DMB
// server runs on (through pyzmq), through the C peer in testdata/cpeer. Every
// implementation is checked both ways: its DEALER against libzmq's ROUTER and libzmq's
// DEALER against its ROUTER, with multipart messages including empty, 1-byte and
// 1 MiB frames.

func TestLibzmqRouterInterop(t *testing.T) {
	ztLeakCheck(t)
	_, ep := startCRouter(t)
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			d := ztDial(t, kind, ep, DialOptions{})
			for _, m := range ztMessages() {
				if err := d.Send(m.msg); err != nil {
					t.Fatalf("%s: Send: %v", m.name, err)
				}
				if got := ztRecv(t, d); !ztEqual(got, m.msg) {
					t.Fatalf("%s: the libzmq ROUTER echoed %s, want %s", m.name, ztShow(got), ztShow(m.msg))
				}
			}
		})
	}
}

func TestLibzmqDealerInterop(t *testing.T) {
	ztLeakCheck(t)
	cases := []struct {
		name     string
		identity string // the libzmq DEALER's ZMQ_ROUTING_ID; empty lets the ROUTER choose
	}{
		{"router-assigned id", ""},
		{"own id", "c-peer-1"},
	}
	for _, kind := range Kinds {
		for _, c := range cases {
			t.Run(string(kind)+"/"+c.name, func(t *testing.T) {
				r := ztListen(t, kind, ListenOptions{})
				var opts []string
				if c.identity != "" {
					opts = append(opts, "-i", c.identity)
				}
				p := startCRelay(t, r.Addr(), opts...)
				for _, m := range ztMessages() {
					p.send(t, m.msg)
					got := ztRouterRecv(t, r)
					if len(got) == 0 || !ztEqual(got[1:], m.msg) {
						t.Fatalf("%s: the %s ROUTER got %s, want [id] + %s", m.name, kind, ztShow(got), ztShow(m.msg))
					}
					if c.identity != "" && string(got[0]) != c.identity {
						t.Fatalf("%s: routing id %q, want the DEALER's ZMQ_ROUTING_ID %q", m.name, got[0], c.identity)
					}
					if err := r.Send(got); err != nil {
						t.Fatalf("%s: Send: %v", m.name, err)
					}
					if back := p.recv(t, 10*time.Second); !ztEqual(back, m.msg) {
						t.Fatalf("%s: the libzmq DEALER got %s, want %s", m.name, ztShow(back), ztShow(m.msg))
					}
				}
			})
		}
	}
}
