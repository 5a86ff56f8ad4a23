package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// zmq4Echo listens with the zmq4 library's ROUTER and echoes every message.
func zmq4Echo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := zmq4.NewRouter(ctx, zmq4.WithLogger(zmq4DiscardLogger))
	if err := r.Listen("tcp://127.0.0.1:0"); err != nil {
		cancel()
		t.Fatalf("zmq4 listen: %v", err)
	}
	done := echoLoop(zmq4BareRouter{r}, nil)
	t.Cleanup(func() {
		cancel()
		r.Close()
		<-done
	})
	return "tcp://" + r.Addr().String()
}

// zmq4BareRouter is the zmq4 library's ROUTER socket seen as an echoer.
type zmq4BareRouter struct{ s zmq4.Socket }

func (r zmq4BareRouter) Recv() ([][]byte, error) {
	m, err := r.s.Recv()
	return m.Frames, err
}

func (r zmq4BareRouter) Send(msg [][]byte) error { return r.s.Send(zmq4.NewMsgFrom(msg...)) }

// nativeClient is the DEALER side of an interop test.
type nativeClient interface {
	send([][]byte) error
	recv() ([][]byte, error)
}

type nativeDealerClient struct{ d Dealer }

func (c nativeDealerClient) send(m [][]byte) error { return c.d.Send(m) }
func (c nativeDealerClient) recv() ([][]byte, error) {
	if err := c.d.SetRecvDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	return c.d.Recv()
}

type zmq4DealerClient struct{ s zmq4.Socket }

func (c zmq4DealerClient) send(m [][]byte) error { return c.s.SendMulti(zmq4.NewMsgFrom(m...)) }
func (c zmq4DealerClient) recv() ([][]byte, error) {
	type result struct {
		m   zmq4.Msg
		err error
	}
	ch := make(chan result, 1)
	go func() { m, err := c.s.Recv(); ch <- result{m, err} }()
	select {
	case r := <-ch:
		return r.m.Frames, r.err
	case <-time.After(5 * time.Second):
		return nil, ErrTimeout
	}
}

func zmq4Dial(t *testing.T, addr string, opts ...zmq4.Option) zmq4.Socket {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := zmq4.NewDealer(ctx, append(opts, zmq4.WithLogger(zmq4DiscardLogger))...)
	if err := s.Dial(addr); err != nil {
		cancel()
		t.Fatalf("zmq4 dial %s: %v", addr, err)
	}
	t.Cleanup(func() {
		cancel()
		s.Close()
	})
	return s
}

// TestNativeInterop sends every test message through each pairing of the native
// implementation with itself and with the zmq4 library, and checks the echo.
func TestNativeInterop(t *testing.T) {
	leakCheck(t)
	pairs := []struct {
		name   string
		server func(t *testing.T) string
		client func(t *testing.T, addr string) nativeClient
	}{
		{"native dealer to native router",
			func(t *testing.T) string { return testEcho(t, Native, ListenOptions{}).Addr() },
			func(t *testing.T, addr string) nativeClient {
				return nativeDealerClient{testDial(t, Native, addr, DialOptions{})}
			}},
		{"native dealer to zmq4 router",
			zmq4Echo,
			func(t *testing.T, addr string) nativeClient {
				return nativeDealerClient{testDial(t, Native, addr, DialOptions{})}
			}},
		{"zmq4 dealer to native router",
			func(t *testing.T) string { return testEcho(t, Native, ListenOptions{}).Addr() },
			func(t *testing.T, addr string) nativeClient { return zmq4DealerClient{zmq4Dial(t, addr)} }},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			c := p.client(t, p.server(t))
			for _, m := range testMessages() {
				if err := c.send(m.msg); err != nil {
					t.Fatalf("%s: send: %v", m.name, err)
				}
				got, err := c.recv()
				if err != nil {
					t.Fatalf("%s: recv: %v", m.name, err)
				}
				if !framesEqual(got, m.msg) {
					t.Fatalf("%s: echo is %s, sent %s", m.name, showFrames(got), showFrames(m.msg))
				}
			}
			// Pipelined: many messages queued before any reply is read.
			const n = 500
			for i := range n {
				if err := c.send([][]byte{{}, []byte(fmt.Sprint(i))}); err != nil {
					t.Fatalf("pipelined send %d: %v", i, err)
				}
			}
			for i := range n {
				got, err := c.recv()
				if err != nil {
					t.Fatalf("pipelined recv %d: %v", i, err)
				}
				if want := [][]byte{{}, []byte(fmt.Sprint(i))}; !framesEqual(got, want) {
					t.Fatalf("pipelined reply %d is %s, want %s (order lost?)", i, showFrames(got), showFrames(want))
				}
			}
		})
	}
}

// TestNativeRouterRoutingIDs checks routing ids: libzmq-style generated ids (a zero byte
// then a big-endian counter) for peers without an identity, the peer's own Identity
// otherwise, replies routed to the right peer, and unknown ids refused and counted.
func TestNativeRouterRoutingIDs(t *testing.T) {
	leakCheck(t)
	r, err := Listen(Native, "tcp://127.0.0.1:0", ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })

	anon1 := testDial(t, Native, r.Addr(), DialOptions{})
	anon2 := testDial(t, Native, r.Addr(), DialOptions{})
	alice := testDial(t, Native, r.Addr(), DialOptions{Identity: []byte("alice")})
	bob := zmq4Dial(t, r.Addr(), zmq4.WithID(zmq4.SocketIdentity("bob")))

	clients := []struct {
		name string
		c    nativeClient
		id   func(id []byte) error
	}{
		{"first anonymous dealer", nativeDealerClient{anon1}, func(id []byte) error {
			if len(id) != 5 || id[0] != 0 {
				return fmt.Errorf("generated id % x, want 5 bytes starting with 0", id)
			}
			return nil
		}},
		{"second anonymous dealer", nativeDealerClient{anon2}, nil},
		{"native dealer with identity", nativeDealerClient{alice}, func(id []byte) error {
			if string(id) != "alice" {
				return fmt.Errorf("id %q, want alice", id)
			}
			return nil
		}},
		{"zmq4 dealer with identity", zmq4DealerClient{bob}, func(id []byte) error {
			if string(id) != "bob" {
				return fmt.Errorf("id %q, want bob", id)
			}
			return nil
		}},
	}
	ids := make([][]byte, len(clients))
	for i, c := range clients {
		if err := c.c.send([][]byte{[]byte(c.name)}); err != nil {
			t.Fatalf("%s: send: %v", c.name, err)
		}
		m := routerRecv(t, r)
		if len(m) != 2 || string(m[1]) != c.name {
			t.Fatalf("%s: router got %s", c.name, showFrames(m))
		}
		ids[i] = m[0]
		if c.id != nil {
			if err := c.id(m[0]); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
	}
	// The two anonymous peers joined in either order, with consecutive counter values.
	if a, b := binary.BigEndian.Uint32(ids[0][1:]), binary.BigEndian.Uint32(ids[1][1:]); len(ids[1]) != 5 || ids[1][0] != 0 || (a+1 != b && b+1 != a) {
		t.Fatalf("generated ids % x and % x: want 5 bytes, a zero byte and consecutive counters", ids[0], ids[1])
	}
	// Reply to each in reverse order; each must get its own.
	for i := len(clients) - 1; i >= 0; i-- {
		if err := r.Send([][]byte{ids[i], []byte("reply to " + clients[i].name)}); err != nil {
			t.Fatalf("send to %s: %v", clients[i].name, err)
		}
	}
	for _, c := range clients {
		m, err := c.c.recv()
		if err != nil {
			t.Fatalf("%s: recv: %v", c.name, err)
		}
		if want := "reply to " + c.name; len(m) != 1 || string(m[0]) != want {
			t.Fatalf("%s got %s, want [%q]", c.name, showFrames(m), want)
		}
	}
	if st := r.Stats(); st.Peers != 4 || st.Accepted != 4 {
		t.Fatalf("stats %+v, want 4 peers, 4 accepted", st)
	}
	for _, id := range [][]byte{[]byte("nobody"), {0, 0, 0, 0, 0}} {
		if err := r.Send([][]byte{id, []byte("x")}); !errors.Is(err, ErrUnknownPeer) {
			t.Fatalf("send to unknown id %q: err = %v, want ErrUnknownPeer", id, err)
		}
	}
	if st := r.Stats(); st.UnknownPeer != 2 {
		t.Fatalf("stats count %d unknown-peer sends, want 2", st.UnknownPeer)
	}
}

// nativeRaw is a hand-written ZMTP peer on a raw TCP connection.
type nativeRaw struct {
	t    *testing.T
	conn net.Conn
	in   []byte // bytes received and not yet consumed
}

func nativeRawDial(t *testing.T, addr string) *nativeRaw {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://"))
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &nativeRaw{t: t, conn: conn}
}

func (p *nativeRaw) write(b []byte) {
	p.t.Helper()
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatalf("raw write: %v", err)
	}
}

func (p *nativeRaw) readN(n int) []byte {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(p.in) < n {
		buf := make([]byte, 64<<10)
		k, err := p.conn.Read(buf)
		p.in = append(p.in, buf[:k]...)
		if err != nil && len(p.in) < n {
			p.t.Fatalf("raw read (%d of %d bytes): %v", len(p.in), n, err)
		}
	}
	out := p.in[:n]
	p.in = p.in[n:]
	return out
}

// frame reads one frame and returns its flags and body.
func (p *nativeRaw) frame() (byte, []byte) {
	p.t.Helper()
	h := p.readN(2)
	flags, size := h[0], uint64(h[1])
	if flags&0x02 != 0 {
		size = binary.BigEndian.Uint64(append([]byte{h[1]}, p.readN(7)...))
	}
	return flags, p.readN(int(size))
}

// handshake does the greeting and READY exchange by hand.
func (p *nativeRaw) handshake(socketType, identity string) {
	p.t.Helper()
	p.write(append(rawGreeting(3, 1, "NULL"), rawReady(socketType, identity)...))
	g := p.readN(64)
	if g[0] != 0xFF || g[10] != 3 || string(g[12:16]) != "NULL" {
		p.t.Fatalf("peer greeting % x is not ZMTP 3 NULL", g)
	}
	flags, body := p.frame()
	if flags != 0x04 || !bytes.HasPrefix(body, []byte("\x05READY")) {
		p.t.Fatalf("expected READY, got flags %#x body %q", flags, body)
	}
}

// closedByPeer waits until the other side closes the connection.
func (p *nativeRaw) closedByPeer() error {
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		_, err := p.conn.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") {
				return nil
			}
			return err
		}
	}
}

// TestNativePingAnsweredWithPong sends a hand-written PING to each native socket and
// expects a PONG with the same context.
func TestNativePingAnsweredWithPong(t *testing.T) {
	leakCheck(t)
	ping := []byte{0x04, 12, 4, 'P', 'I', 'N', 'G', 0x00, 0x64, 'c', 't', 'x', '-', '1'}
	wantPong := []byte{4, 'P', 'O', 'N', 'G', 'c', 't', 'x', '-', '1'}
	tests := []struct {
		name string
		peer func(t *testing.T) *nativeRaw
	}{
		{"native router answers", func(t *testing.T) *nativeRaw {
			r := testEcho(t, Native, ListenOptions{})
			p := nativeRawDial(t, r.Addr())
			p.handshake("DEALER", "")
			return p
		}},
		{"native dealer answers while in Recv", func(t *testing.T) *nativeRaw {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					// Our half of the handshake; the dealer's is read below.
					_, _ = c.Write(append(rawGreeting(3, 1, "NULL"), rawReady("ROUTER", "")...))
				}
				accepted <- c
			}()
			d := testDial(t, Native, "tcp://"+ln.Addr().String(), DialOptions{})
			conn := <-accepted
			if conn == nil {
				t.Fatal("raw listener accepted nothing")
			}
			p := &nativeRaw{t: t, conn: conn}
			t.Cleanup(func() { conn.Close() })
			if g := p.readN(64); g[0] != 0xFF || g[10] != 3 {
				t.Fatalf("dealer greeting % x is not ZMTP 3", g)
			}
			if flags, body := p.frame(); flags != 0x04 || !bytes.HasPrefix(body, []byte("\x05READY")) {
				t.Fatalf("expected the dealer's READY, got flags %#x body %q", flags, body)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					if _, err := d.Recv(); err != nil {
						return
					}
				}
			}()
			t.Cleanup(func() { d.Close(); <-done })
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.peer(t)
			p.write(ping)
			flags, body := p.frame()
			if flags != 0x04 || !bytes.Equal(body, wantPong) {
				t.Fatalf("reply flags %#x body %q, want a PONG command %q", flags, body, wantPong)
			}
		})
	}
}
