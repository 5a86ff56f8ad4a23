package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestNativeRouterHostileInputs sends each kind of bad input to a native ROUTER and checks
// that the connection is closed with its named error, counted in Stats and reported in an
// event, while a well-behaved client keeps being served.
func TestNativeRouterHostileInputs(t *testing.T) {
	leakCheck(t)
	events := newEventLog()
	r := testEcho(t, Native, ListenOptions{
		MaxFrameSize: 1024,
		WriteTimeout: 300 * time.Millisecond, // also the handshake limit
		OnEvent:      events.add,
	})
	good := nativeDealerClient{testDial(t, Native, r.Addr(), DialOptions{})}
	roundTrip := func(t *testing.T) {
		t.Helper()
		msg := [][]byte{{}, []byte("still served")}
		if err := good.send(msg); err != nil {
			t.Fatalf("good client send: %v", err)
		}
		got, err := good.recv()
		if err != nil || !framesEqual(got, msg) {
			t.Fatalf("good client round trip: %s, %v", showFrames(got), err)
		}
	}
	handshaken := func(p *nativeRaw) { p.handshake("DEALER", "") }
	var holder *nativeRaw // keeps the first "dup" identity connected
	parent := t
	tests := []struct {
		name  string
		act   func(t *testing.T, p *nativeRaw)
		want  error
		event EventKind
	}{
		{"HTTP instead of ZMTP", func(t *testing.T, p *nativeRaw) {
			p.write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		}, ErrBadGreeting, ConnectFailed},
		{"ZMTP 2.0 peer", func(t *testing.T, p *nativeRaw) {
			p.write(rawGreeting(1, 0, "NULL"))
		}, ErrBadGreeting, ConnectFailed},
		{"PLAIN mechanism", func(t *testing.T, p *nativeRaw) {
			p.write(rawGreeting(3, 1, "PLAIN"))
		}, ErrBadGreeting, ConnectFailed},
		{"incompatible socket type", func(t *testing.T, p *nativeRaw) {
			p.write(append(rawGreeting(3, 1, "NULL"), rawReady("PUB", "")...))
		}, ErrBadGreeting, ConnectFailed},
		{"message before READY", func(t *testing.T, p *nativeRaw) {
			p.write(append(rawGreeting(3, 1, "NULL"), 0x00, 0x02, 'h', 'i'))
		}, ErrBadGreeting, ConnectFailed},
		{"silent peer (handshake timeout)", func(t *testing.T, p *nativeRaw) {}, ErrBadGreeting, ConnectFailed},
		{"ERROR during handshake", func(t *testing.T, p *nativeRaw) {
			p.write(append(rawGreeting(3, 1, "NULL"), 0x04, 10, 5, 'E', 'R', 'R', 'O', 'R', 3, 'b', 'y', 'e'))
		}, ErrPeerError, ConnectFailed},
		{"frame above MaxFrameSize", func(t *testing.T, p *nativeRaw) {
			handshaken(p)
			p.write(rawLongHeader(0, 1<<20))
		}, ErrFrameTooLarge, Disconnected},
		{"frame size of 2^64-1", func(t *testing.T, p *nativeRaw) {
			handshaken(p)
			p.write(rawLongHeader(0x01, ^uint64(0)))
		}, ErrFrameTooLarge, Disconnected},
		{"truncated frame", func(t *testing.T, p *nativeRaw) {
			handshaken(p)
			p.write(append([]byte{0x00, 100}, bytes.Repeat([]byte{'t'}, 10)...))
			p.conn.(*net.TCPConn).CloseWrite()
		}, ErrTruncated, Disconnected},
		{"truncated multipart message", func(t *testing.T, p *nativeRaw) {
			handshaken(p)
			p.write([]byte{0x01, 1, 'a', 0x01, 0})
			p.conn.(*net.TCPConn).CloseWrite()
		}, ErrTruncated, Disconnected},
		{"ERROR command", func(t *testing.T, p *nativeRaw) {
			handshaken(p)
			p.write([]byte{0x04, 10, 5, 'E', 'R', 'R', 'O', 'R', 3, 'b', 'y', 'e'})
		}, ErrPeerError, Disconnected},
		{"identity already in use", func(t *testing.T, p *nativeRaw) {
			holder = nativeRawDial(parent, r.Addr())
			holder.handshake("DEALER", "dup")
			// The router sends its READY before it reads ours: wait until the holder
			// has joined, so that the second connection is the one refused.
			eventually(t, `the first "dup" connection joining`, func() bool { return r.Stats().Peers == 2 })
			p.handshake("DEALER", "dup")
		}, ErrIdentityInUse, ConnectFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.want.Error()
			before := r.Stats().ConnErrors[name]
			p := nativeRawDial(t, r.Addr())
			tt.act(t, p)
			if err := p.closedByPeer(); err != nil {
				t.Fatalf("router did not close the connection: %v", err)
			}
			waitConnErrors(t, r, name, before+1, 5*time.Second)
			if !events.has(tt.event, tt.want) {
				t.Fatalf("no %v event with %v", tt.event, tt.want)
			}
			roundTrip(t)
		})
	}
	if holder == nil {
		t.Fatal("the identity case did not run")
	}
	st := r.Stats()
	// Every hostile connection ended; the good client and the identity holder remain.
	if st.Peers != 2 || st.Accepted != st.Disconnected+2 {
		t.Fatalf("stats %+v: want 2 peers and every other accepted connection ended", st)
	}
}

// nativeRawServer accepts one connection and runs script on it in a goroutine; the
// returned function waits for the script to finish.
func nativeRawServer(t *testing.T, script func(c net.Conn)) (addr string, wait func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		script(c)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "tcp://" + ln.Addr().String(), func() { <-done }
}

// nativeServerHandshake is a ROUTER's half of the handshake, written by hand: it sends its
// greeting and READY, then reads the dealer's greeting and READY frame.
func nativeServerHandshake(c net.Conn, greeting []byte) error {
	if _, err := c.Write(greeting); err != nil {
		return err
	}
	buf := make([]byte, 64+2)
	if _, err := ioReadFull(c, buf); err != nil {
		return err
	}
	rest := make([]byte, buf[65])
	_, err := ioReadFull(c, rest)
	return err
}

func ioReadFull(c net.Conn, b []byte) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestNativeDealerHostileServers points a native DEALER at servers that misbehave and
// checks each failure is named: in Dial's error, or in the Disconnected event after which
// Recv and Send return ErrDisconnected.
func TestNativeDealerHostileServers(t *testing.T) {
	leakCheck(t)
	okGreeting := append(rawGreeting(3, 1, "NULL"), rawReady("ROUTER", "")...)
	tests := []struct {
		name     string
		script   func(c net.Conn)
		dialErr  error // the error Dial must return, or nil
		eventErr error // otherwise the Disconnected event's error
	}{
		{"not ZMTP", func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")) }, ErrBadGreeting, nil},
		{"CURVE mechanism", func(c net.Conn) { c.Write(rawGreeting(3, 1, "CURVE")) }, ErrBadGreeting, nil},
		{"PUB socket", func(c net.Conn) {
			c.Write(append(rawGreeting(3, 0, "NULL"), rawReady("PUB", "")...))
		}, ErrBadGreeting, nil},
		{"ERROR instead of READY", func(c net.Conn) {
			c.Write(append(rawGreeting(3, 1, "NULL"), 0x04, 12, 5, 'E', 'R', 'R', 'O', 'R', 5, 'n', 'o', 'p', 'e', '!'))
			time.Sleep(50 * time.Millisecond)
		}, ErrPeerError, nil},
		{"closes during greeting", func(c net.Conn) { c.Write([]byte{0xFF, 0, 0}) }, ErrBadGreeting, nil},
		{"frame above MaxFrameSize", func(c net.Conn) {
			if nativeServerHandshake(c, okGreeting) == nil {
				c.Write(binary.BigEndian.AppendUint64([]byte{0x02}, 4096))
				time.Sleep(50 * time.Millisecond)
			}
		}, nil, ErrFrameTooLarge},
		{"truncated frame", func(c net.Conn) {
			if nativeServerHandshake(c, okGreeting) == nil {
				c.Write([]byte{0x00, 50, 'a', 'b'})
			}
		}, nil, ErrTruncated},
		{"ERROR after READY", func(c net.Conn) {
			if nativeServerHandshake(c, okGreeting) == nil {
				c.Write([]byte{0x04, 9, 5, 'E', 'R', 'R', 'O', 'R', 2, 'n', 'o'})
				time.Sleep(50 * time.Millisecond)
			}
		}, nil, ErrPeerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := newEventLog()
			addr, wait := nativeRawServer(t, tt.script)
			d, err := Dial(t.Context(), Native, addr, DialOptions{MaxFrameSize: 1024, OnEvent: events.add, ConnectTimeout: 2 * time.Second})
			if tt.dialErr != nil {
				if !errors.Is(err, tt.dialErr) {
					t.Fatalf("dial err = %v, want %v", err, tt.dialErr)
				}
				if !events.has(ConnectFailed, tt.dialErr) {
					t.Fatalf("no ConnectFailed event with %v", tt.dialErr)
				}
				wait()
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer d.Close()
			if _, err := d.Recv(); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("recv err = %v, want ErrDisconnected", err)
			}
			if err := d.Send([][]byte{{'x'}}); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("send err = %v, want ErrDisconnected", err)
			}
			if ev := events.wait(t, Disconnected); !errors.Is(ev.Err, tt.eventErr) {
				t.Fatalf("disconnected because %v, want %v", ev.Err, tt.eventErr)
			}
			wait()
		})
	}
}

// TestNativeSlowPeerDoesNotDelayOthers fills the send path of a peer that never reads and
// checks that another peer's round trips complete while the slow peer is stuck,
// that sends to the stuck peer are refused rather than queued without bound, and that the
// stuck peer is finally closed with ErrSlowPeer.
func TestNativeSlowPeerDoesNotDelayOthers(t *testing.T) {
	leakCheck(t)
	const writeTimeout = 1500 * time.Millisecond
	events := newEventLog()
	r, err := listenNativeRouter("tcp://127.0.0.1:0", ListenOptions{WriteTimeout: writeTimeout, OnEvent: events.add})
	if err != nil {
		t.Fatal(err)
	}
	r.queueLimit = 64 << 10 // full after the kernel's buffers and 64 KiB more
	var refused atomic.Int64
	echoed := echoLoop(r, func(err error) {
		if errors.Is(err, ErrSlowPeer) {
			refused.Add(1)
		}
	})
	defer func() { r.Close(); <-echoed }()

	slow := nativeRawDial(t, r.Addr())
	// A fixed receive buffer: with autotuning a peer that does not read can still take
	// up to net.ipv4.tcp_rmem's maximum (32 MiB here), and the router's writer, moving a
	// little now and then, never timed out (it failed 1 run in 8).
	if err := slow.conn.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	slow.handshake("DEALER", "slow")
	big := bytes.Repeat([]byte{'s'}, 1<<20)
	frame := append(rawLongHeader(0, uint64(len(big))), big...)
	start := time.Now()
	writeDone := make(chan error, 1)
	go func() {
		// Until the router cuts the peer off (or 30 s): more than the kernel's socket
		// buffers plus the router's queue can hold, however far the router's send buffer
		// grows meanwhile, so the echoes keep the writer blocked. A fixed amount (32 MiB)
		// sometimes all fitted once the send buffer had grown: the writer then went idle,
		// and an idle writer times nothing out (1 run in 12).
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
			if _, err := slow.conn.Write(frame); err != nil {
				writeDone <- err
				return
			}
		}
		writeDone <- nil
	}()
	eventually(t, "the router refusing a send to the peer that does not read", func() bool { return refused.Load() > 0 })

	t.Logf("sends refused after %v", time.Since(start))
	name := ErrSlowPeer.Error()
	good := nativeDealerClient{testDial(t, Native, r.Addr(), DialOptions{})}
	for i := range 50 {
		msg := [][]byte{{}, []byte(fmt.Sprint(i))}
		if err := good.send(msg); err != nil {
			t.Fatalf("good send %d: %v", i, err)
		}
		if got, err := good.recv(); err != nil || !framesEqual(got, msg) {
			t.Fatalf("good round trip %d: %s, %v", i, showFrames(got), err)
		}
	}
	if n := r.Stats().ConnErrors[name]; n != 0 {
		t.Fatalf("the slow peer was closed before the good peer finished (machine too slow for a %v write timeout?)", writeTimeout)
	}
	t.Logf("good peer done after %v", time.Since(start))
	waitConnErrors(t, r, name, 1, 2*writeTimeout+5*time.Second)
	t.Logf("slow peer closed after %v", time.Since(start))
	if !events.has(Disconnected, ErrSlowPeer) {
		t.Fatal("no Disconnected event with ErrSlowPeer")
	}
	<-writeDone // finished, or cut off by the close
	if err := r.Send([][]byte{[]byte("slow"), []byte("x")}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("send to the closed slow peer: %v, want ErrUnknownPeer", err)
	}
}
