package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestZMQ4RoundTrip(t *testing.T) {
	leakCheck(t)
	cases := []struct {
		name     string
		identity []byte
	}{
		{"zmq4-assigned identity", nil},
		{"own identity", []byte("client-7")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testListen(t, ZMQ4, ListenOptions{})
			d := testDial(t, ZMQ4, r.Addr(), DialOptions{Identity: c.identity})
			for _, m := range testMessages() {
				if err := d.Send(m.msg); err != nil {
					t.Fatalf("%s: dealer Send: %v", m.name, err)
				}
				got := routerRecv(t, r)
				if len(got) == 0 || !framesEqual(got[1:], m.msg) {
					t.Fatalf("%s: router got %s, want [id] + %s", m.name, showFrames(got), showFrames(m.msg))
				}
				if c.identity != nil && !bytes.Equal(got[0], c.identity) {
					t.Fatalf("%s: routing id %q, want the dealer's identity %q", m.name, got[0], c.identity)
				}
				if err := r.Send(got); err != nil {
					t.Fatalf("%s: router Send: %v", m.name, err)
				}
				if back := dealerRecv(t, d); !framesEqual(back, m.msg) {
					t.Fatalf("%s: dealer got %s back, want %s", m.name, showFrames(back), showFrames(m.msg))
				}
			}
			if s := r.Stats(); s.Peers != 1 || s.Accepted != 1 {
				t.Fatalf("router stats %+v, want 1 peer, 1 accepted", s)
			}
		})
	}
}

func TestZMQ4ManyInFlight(t *testing.T) {
	leakCheck(t)
	// Several dealers with many messages in flight each: every reply comes back to the
	// dealer that asked, none lost, none duplicated.
	const dealers, perDealer = 4, 200
	r := testListen(t, ZMQ4, ListenOptions{})
	stop := make(chan struct{})
	echoDone := echoLoop(r, func(err error) {
		select {
		case <-stop:
		default:
			if err != nil {
				t.Errorf("router echo Send: %v", err)
			}
		}
	})
	var wg sync.WaitGroup
	for i := range dealers {
		d := testDial(t, ZMQ4, r.Addr(), DialOptions{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perDealer {
				if err := d.Send([][]byte{{}, fmt.Appendf(nil, "%d/%d", i, k)}); err != nil {
					t.Errorf("dealer %d Send: %v", i, err)
					return
				}
			}
			seen := make(map[string]bool)
			for range perDealer {
				if err := d.SetRecvDeadline(time.Now().Add(10 * time.Second)); err != nil {
					t.Error(err)
					return
				}
				m, err := d.Recv()
				if err != nil {
					t.Errorf("dealer %d Recv: %v", i, err)
					return
				}
				if len(m) != 2 || !strings.HasPrefix(string(m[1]), fmt.Sprintf("%d/", i)) || seen[string(m[1])] {
					t.Errorf("dealer %d got %s: not its own, or twice", i, showFrames(m))
					return
				}
				seen[string(m[1])] = true
			}
		}()
	}
	wg.Wait()
	close(stop)
	r.Close()
	<-echoDone
}

func TestZMQ4RecvDeadline(t *testing.T) {
	leakCheck(t)
	r := testListen(t, ZMQ4, ListenOptions{})
	d := testDial(t, ZMQ4, r.Addr(), DialOptions{})
	cases := []struct {
		name string
		run  func(t *testing.T) error // returns Recv's error
	}{
		{"deadline passes", func(t *testing.T) error {
			deadline := time.Now().Add(30 * time.Millisecond)
			d.SetRecvDeadline(deadline)
			_, err := d.Recv()
			if time.Now().Before(deadline) {
				t.Errorf("Recv returned before its deadline")
			}
			return err
		}},
		{"deadline already past", func(t *testing.T) error {
			d.SetRecvDeadline(time.Now().Add(-time.Second))
			_, err := d.Recv()
			return err
		}},
		{"deadline set while Recv waits", func(t *testing.T) error {
			d.SetRecvDeadline(time.Time{})
			go func() {
				time.Sleep(20 * time.Millisecond)
				d.SetRecvDeadline(time.Now().Add(10 * time.Millisecond))
			}()
			_, err := d.Recv()
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(t); !errors.Is(err, ErrTimeout) {
				t.Fatalf("Recv: %v, want ErrTimeout", err)
			}
		})
	}
	t.Run("message after a timeout", func(t *testing.T) {
		// A timeout loses nothing: the message that arrives later is returned.
		if err := d.Send([][]byte{[]byte("late")}); err != nil {
			t.Fatal(err)
		}
		m := routerRecv(t, r)
		d.SetRecvDeadline(time.Now().Add(time.Millisecond))
		if _, err := d.Recv(); !errors.Is(err, ErrTimeout) {
			t.Fatalf("Recv before the reply: %v, want ErrTimeout", err)
		}
		if err := r.Send(m); err != nil {
			t.Fatal(err)
		}
		d.SetRecvDeadline(time.Time{}) // no deadline: wait for it
		got, err := d.Recv()
		if err != nil || !framesEqual(got, [][]byte{[]byte("late")}) {
			t.Fatalf("Recv: %s, %v; want [late]", showFrames(got), err)
		}
	})
}

func TestZMQ4UnknownPeer(t *testing.T) {
	leakCheck(t)
	cases := []struct {
		name    string
		connect ztUnknownPeerConnect
	}{
		{"zmq4 dealer with identity", func(t *testing.T, addr string) (func(), func()) {
			d, err := Dial(context.Background(), ZMQ4, addr, DialOptions{Identity: []byte("me")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return func() { d.Send([][]byte{[]byte("hi")}) }, func() { d.Close() }
		}},
		{"zmq4 dealer, zmq4-made identity", func(t *testing.T, addr string) (func(), func()) {
			d, err := Dial(context.Background(), ZMQ4, addr, DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return func() { d.Send([][]byte{[]byte("hi")}) }, func() { d.Close() }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { ztUnknownPeer(t, c.connect) })
	}
}

// ztUnknownPeerConnect makes a peer, returns a function that sends one message from it
// and one that disconnects it.
type ztUnknownPeerConnect func(t *testing.T, addr string) (send func(), leave func())

// ztUnknownPeer checks that a zmq4 ROUTER's Send fails with ErrUnknownPeer for a routing
// id never seen and for a peer that left, and succeeds while the peer is connected.
// TestZMQ4UnknownPeer runs it with zmq4 DEALERs, TestZMQ4UnknownPeerLibzmq (libzmq_test.go,
// -tags libzmq) with a libzmq one.
func ztUnknownPeer(t *testing.T, connect ztUnknownPeerConnect) {
	r := testListen(t, ZMQ4, ListenOptions{})
	if err := r.Send([][]byte{[]byte("nobody"), []byte("x")}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("Send to an id never seen: %v, want ErrUnknownPeer", err)
	}
	send, leave := connect(t, r.Addr())
	send()
	m := routerRecv(t, r)
	if err := r.Send([][]byte{m[0], []byte("reply")}); err != nil {
		t.Fatalf("Send to a connected peer: %v", err)
	}
	leave()
	eventually(t, "peer gone from Stats", func() bool { return r.Stats().Peers == 0 })
	if err := r.Send([][]byte{m[0], []byte("x")}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("Send to a peer that left: %v, want ErrUnknownPeer", err)
	}
	if got := r.Stats().UnknownPeer; got != 2 {
		t.Fatalf("Stats().UnknownPeer = %d, want 2", got)
	}
}

func TestZMQ4Close(t *testing.T) {
	leakCheck(t)
	cases := []struct {
		name   string
		unread int // messages the router sends that the dealer never reads
	}{
		{"idle", 0},
		{"replies left unread", 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Listen(ZMQ4, "tcp://127.0.0.1:0", ListenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d, err := Dial(context.Background(), ZMQ4, r.Addr(), DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Send([][]byte{[]byte("id?")}); err != nil {
				t.Fatal(err)
			}
			m := routerRecv(t, r)
			for range c.unread {
				if err := r.Send([][]byte{m[0], []byte("unread")}); err != nil {
					t.Fatal(err)
				}
			}
			// Router messages left unread too: the dealer sends, the router never reads.
			for range c.unread {
				if err := d.Send([][]byte{[]byte("unread")}); err != nil {
					t.Fatal(err)
				}
			}
			recvErr := make(chan error, 1)
			go func() {
				for {
					if _, err := r.Recv(); err != nil {
						recvErr <- err
						return
					}
				}
			}()
			if err := d.Close(); err != nil {
				t.Fatalf("dealer Close: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("router Close: %v", err)
			}
			if err := <-recvErr; !errors.Is(err, ErrClosed) {
				t.Fatalf("router Recv blocked across Close returned %v, want ErrClosed", err)
			}
			for name, err := range map[string]error{
				"dealer Send":            d.Send([][]byte{[]byte("x")}),
				"dealer SetRecvDeadline": d.SetRecvDeadline(time.Now()),
				"router Send":            r.Send([][]byte{m[0], []byte("x")}),
			} {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("%s after Close: %v, want ErrClosed", name, err)
				}
			}
			if _, err := d.Recv(); !errors.Is(err, ErrClosed) {
				t.Errorf("dealer Recv after Close: %v, want ErrClosed", err)
			}
			if _, err := r.Recv(); !errors.Is(err, ErrClosed) {
				t.Errorf("router Recv after Close: %v, want ErrClosed", err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("second dealer Close: %v", err)
			}
		})
	}
}

func TestZMQ4DealerDisconnect(t *testing.T) {
	leakCheck(t)
	cases := []struct {
		name      string
		reconnect bool
	}{
		{"without reconnect", false},
		{"with reconnect", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Listen(ZMQ4, "tcp://127.0.0.1:0", ListenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			addr := r.Addr()
			events := newEventLog()
			d := testDial(t, ZMQ4, addr, DialOptions{
				Reconnect: c.reconnect, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
				OnEvent: events.add,
			})
			if n := events.count(Connected); n != 1 {
				events.mu.Lock()
				all := fmt.Sprintf("%+v", events.events)
				events.mu.Unlock()
				t.Fatalf("%d Connected events after Dial, want 1 (all: %s)", n, all)
			}
			r.Close()
			eventually(t, "Disconnected event", func() bool { return events.count(Disconnected) == 1 })
			if err := d.Send([][]byte{[]byte("x")}); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("Send without a connection: %v, want ErrDisconnected", err)
			}
			if !c.reconnect {
				d.SetRecvDeadline(time.Now().Add(5 * time.Second))
				if _, err := d.Recv(); !errors.Is(err, ErrDisconnected) {
					t.Fatalf("Recv after the connection ended: %v, want ErrDisconnected", err)
				}
				return
			}
			// A new ROUTER on the same port: the dealer comes back by itself.
			r2, err := Listen(ZMQ4, addr, ListenOptions{})
			if err != nil {
				t.Fatalf("listening again on %s: %v", addr, err)
			}
			t.Cleanup(func() { r2.Close() })
			eventually(t, "second Connected event", func() bool { return events.count(Connected) == 2 })
			if err := d.Send([][]byte{[]byte("again")}); err != nil {
				t.Fatalf("Send after reconnecting: %v", err)
			}
			m := routerRecv(t, r2)
			if err := r2.Send(m); err != nil {
				t.Fatal(err)
			}
			if got := dealerRecv(t, d); !framesEqual(got, [][]byte{[]byte("again")}) {
				t.Fatalf("after reconnecting got %s", showFrames(got))
			}
		})
	}
}

func TestZMQ4DialFails(t *testing.T) {
	leakCheck(t)
	// A port with nothing listening: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := "tcp://" + l.Addr().String()
	l.Close()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		ctx     context.Context
		addr    string
		wantErr string
	}{
		{"nothing listening", context.Background(), closedAddr, "no connection within"},
		{"context ended", cancelled, closedAddr, "context canceled"},
		{"not tcp", context.Background(), "udp://127.0.0.1:1", "use tcp://host:port"},
		{"no scheme", context.Background(), "127.0.0.1:1", "use tcp://host:port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events := newEventLog()
			d, err := Dial(c.ctx, ZMQ4, c.addr, DialOptions{ConnectTimeout: 200 * time.Millisecond, ReconnectMin: 20 * time.Millisecond, OnEvent: events.add})
			if err == nil {
				d.Close()
				t.Fatalf("Dial succeeded, want an error containing %q", c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Dial: %v, want an error containing %q", err, c.wantErr)
			}
			if c.name == "nothing listening" && events.count(ConnectFailed) == 0 {
				t.Fatalf("no ConnectFailed event for a refused connection")
			}
		})
	}
}

func TestZMQ4RouterBadPeers(t *testing.T) {
	leakCheck(t)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name  string
		bytes []byte
		want  error
	}{
		{"HTTP instead of ZMTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat(" ", 64)), ErrBadGreeting},
		{"CURVE mechanism", func() []byte { g := rawGreeting(3, 1, "NULL"); copy(g[12:32], "CURVE\x00"); return g }(), ErrBadGreeting},
		{"PUB socket", cat(rawGreeting(3, 1, "NULL"), rawReady("PUB", "")), ErrBadGreeting},
		{"frame above MaxFrameSize", cat(rawGreeting(3, 1, "NULL"), rawReady("DEALER", ""), rawLongHeader(0, 1<<20+1)), ErrFrameTooLarge},
		{"ends inside a frame", cat(rawGreeting(3, 1, "NULL"), rawReady("DEALER", ""), []byte{0, 100}, []byte("only ten b")), ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events := newEventLog()
			r := testListen(t, ZMQ4, ListenOptions{MaxFrameSize: 1 << 20, OnEvent: events.add})
			conn, err := net.Dial("tcp", strings.TrimPrefix(r.Addr(), "tcp://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(c.bytes); err != nil {
				t.Fatal(err)
			}
			if errors.Is(c.want, ErrTruncated) {
				conn.(*net.TCPConn).CloseWrite()
			}
			eventually(t, "connection error counted", func() bool { return r.Stats().ConnErrors[c.want.Error()] == 1 })
			eventually(t, "Disconnected event", func() bool { return events.count(Disconnected) == 1 })
			// The router closed the connection: reading ends.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Read(make([]byte, 4096)); err == nil {
				for {
					if _, err = conn.Read(make([]byte, 4096)); err != nil {
						break
					}
				}
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the router kept the connection open")
			}
			// And it still serves well-behaved peers.
			d := testDial(t, ZMQ4, r.Addr(), DialOptions{})
			d.Send([][]byte{[]byte("still there?")})
			if m := routerRecv(t, r); string(m[1]) != "still there?" {
				t.Fatalf("got %s", showFrames(m))
			}
		})
	}
}

func TestZMQ4DealerFrameLimit(t *testing.T) {
	leakCheck(t)
	r := testListen(t, ZMQ4, ListenOptions{})
	events := newEventLog()
	d := testDial(t, ZMQ4, r.Addr(), DialOptions{MaxFrameSize: 1000, OnEvent: events.add})
	d.Send([][]byte{[]byte("x")})
	m := routerRecv(t, r)
	// zmq4 writes a ROUTER frame's header and body apart; the dealer may cut the
	// connection on the header before the body goes, so Send may fail: what counts is
	// the dealer's side.
	_ = r.Send([][]byte{m[0], make([]byte, 1001)})
	d.SetRecvDeadline(time.Now().Add(5 * time.Second))
	if _, err := d.Recv(); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Recv after a frame above MaxFrameSize: %v, want ErrDisconnected", err)
	}
	eventually(t, "Disconnected event", func() bool { return events.count(Disconnected) == 1 })
	if !events.has(Disconnected, ErrFrameTooLarge) {
		t.Fatalf("the Disconnected event does not say ErrFrameTooLarge: %+v", events.events)
	}
}
