//go:build libzmq

package transport

import (
	"testing"
	"time"
)

// Interoperability with C libzmq 4.3 (Debian's libzmq5), the library the real DMB
// server runs on (through pyzmq), through the C peer in testdata/cpeer. Every
// implementation is checked both ways: its DEALER against libzmq's ROUTER and libzmq's
// DEALER against its ROUTER, with multipart messages including empty, 1-byte and
// 1 MiB frames. The C peer needs libzmq3-dev, so these tests (and those in
// native_libzmq_test.go) are built only with -tags libzmq:
//
//	go test -count=1 -tags libzmq ./transport/

func TestLibzmqRouterInterop(t *testing.T) {
	leakCheck(t)
	_, ep := startCRouter(t)
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			d := testDial(t, kind, ep, DialOptions{})
			for _, m := range testMessages() {
				if err := d.Send(m.msg); err != nil {
					t.Fatalf("%s: Send: %v", m.name, err)
				}
				if got := dealerRecv(t, d); !framesEqual(got, m.msg) {
					t.Fatalf("%s: the libzmq ROUTER echoed %s, want %s", m.name, showFrames(got), showFrames(m.msg))
				}
			}
		})
	}
}

func TestLibzmqDealerInterop(t *testing.T) {
	leakCheck(t)
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
				r := testListen(t, kind, ListenOptions{})
				var opts []string
				if c.identity != "" {
					opts = append(opts, "-i", c.identity)
				}
				p := startCRelay(t, r.Addr(), opts...)
				for _, m := range testMessages() {
					p.send(t, m.msg)
					got := routerRecv(t, r)
					if len(got) == 0 || !framesEqual(got[1:], m.msg) {
						t.Fatalf("%s: the %s ROUTER got %s, want [id] + %s", m.name, kind, showFrames(got), showFrames(m.msg))
					}
					if c.identity != "" && string(got[0]) != c.identity {
						t.Fatalf("%s: routing id %q, want the DEALER's ZMQ_ROUTING_ID %q", m.name, got[0], c.identity)
					}
					if err := r.Send(got); err != nil {
						t.Fatalf("%s: Send: %v", m.name, err)
					}
					if back := p.recv(t, 10*time.Second); !framesEqual(back, m.msg) {
						t.Fatalf("%s: the libzmq DEALER got %s, want %s", m.name, showFrames(back), showFrames(m.msg))
					}
				}
			})
		}
	}
}

// TestZMQ4UnknownPeerLibzmq is TestZMQ4UnknownPeer (zmq4_test.go) with a libzmq DEALER
// that leaves the routing id to the ROUTER.
func TestZMQ4UnknownPeerLibzmq(t *testing.T) {
	leakCheck(t)
	ztUnknownPeer(t, func(t *testing.T, addr string) (func(), func()) {
		p := startCRelay(t, addr)
		return func() { p.send(t, [][]byte{[]byte("hi")}) }, func() { p.stop(t) }
	})
}

func TestZMQ4IgnoresPing(t *testing.T) {
	leakCheck(t)
	// A libzmq DEALER with heartbeats sends PING commands; they must not surface as
	// messages. (zmq4 does not answer PING, so the heartbeat timeout is set long
	// enough for libzmq not to hang up meanwhile.)
	r := testListen(t, ZMQ4, ListenOptions{})
	p := startCRelay(t, r.Addr(), "-H", "10", "-T", "60000")
	eventually(t, "peer connected", func() bool { return r.Stats().Peers == 1 })
	time.Sleep(100 * time.Millisecond) // several PINGs
	p.send(t, [][]byte{[]byte("data")})
	if m := routerRecv(t, r); len(m) != 2 || string(m[1]) != "data" {
		t.Fatalf("router got %s, want [id data]", showFrames(m))
	}
}
