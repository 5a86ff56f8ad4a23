package transport

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestNativeDealerReconnect takes the server away and brings it back: the DEALER reports
// Disconnected, refuses sends while down, reports failed attempts, reconnects, and a Recv
// that was waiting all along gets the reply sent after the reconnect. Without Reconnect the
// loss is final.
func TestNativeDealerReconnect(t *testing.T) {
	leakCheck(t)
	tests := []struct {
		name      string
		reconnect bool
	}{
		{"with reconnect", true},
		{"without reconnect", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r1, err := Listen(Native, "tcp://127.0.0.1:0", ListenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			addr := r1.Addr()
			echoDone := echoLoop(r1, nil)
			events := newEventLog()
			d := testDial(t, Native, addr, DialOptions{
				Reconnect: tt.reconnect, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 80 * time.Millisecond,
				OnEvent: events.add,
			})
			events.wait(t, Connected)
			if err := d.Send([][]byte{[]byte("before")}); err != nil {
				t.Fatalf("send: %v", err)
			}
			type result struct {
				m   [][]byte
				err error
			}
			results := make(chan result, 4)
			recvDone := make(chan struct{})
			go func() {
				defer close(recvDone)
				for {
					m, err := d.Recv()
					results <- result{cloneFrames(m), err}
					if err != nil {
						return
					}
				}
			}()
			defer func() { d.Close(); <-recvDone }()
			if res := <-results; res.err != nil || string(res.m[0]) != "before" {
				t.Fatalf("first round trip: %v %v", res.m, res.err)
			}

			r1.Close()
			<-echoDone
			if ev := events.wait(t, Disconnected); ev.Err == nil {
				t.Fatal("Disconnected event without a reason")
			}
			if err := d.Send([][]byte{[]byte("while down")}); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("send while down: %v, want ErrDisconnected", err)
			}
			if !tt.reconnect {
				if res := <-results; !errors.Is(res.err, ErrDisconnected) {
					t.Fatalf("recv after the loss: %v, want ErrDisconnected", res.err)
				}
				return
			}
			events.wait(t, ConnectFailed)

			r2, err := Listen(Native, addr, ListenOptions{})
			if err != nil {
				t.Fatalf("listen again on %s: %v", addr, err)
			}
			echo2 := echoLoop(r2, nil)
			defer func() { r2.Close(); <-echo2 }()
			events.wait(t, Connected)
			if err := d.Send([][]byte{[]byte("after")}); err != nil {
				t.Fatalf("send after reconnect: %v", err)
			}
			select {
			case res := <-results:
				if res.err != nil || len(res.m) != 1 || string(res.m[0]) != "after" {
					t.Fatalf("the waiting Recv got %s, %v; want the reply sent after the reconnect", showFrames(res.m), res.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the Recv waiting across the reconnect got nothing")
			}
		})
	}
}

// TestNativeRecvDeadline checks ErrTimeout: with a deadline already past, with one set
// while Recv is blocked, in the middle of a frame (the partial frame survives), and while
// the DEALER is waiting to reconnect.
func TestNativeRecvDeadline(t *testing.T) {
	leakCheck(t)
	okGreeting := append(rawGreeting(3, 1, "NULL"), rawReady("ROUTER", "")...)
	t.Run("deadline in the past", func(t *testing.T) {
		r := testEcho(t, Native, ListenOptions{})
		d := testDial(t, Native, r.Addr(), DialOptions{})
		d.SetRecvDeadline(time.Now().Add(-time.Second))
		if _, err := d.Recv(); !errors.Is(err, ErrTimeout) {
			t.Fatalf("recv: %v, want ErrTimeout", err)
		}
		// Clearing it makes the socket usable again.
		d.SetRecvDeadline(time.Time{})
		if err := d.Send([][]byte{[]byte("x")}); err != nil {
			t.Fatal(err)
		}
		if m, err := d.Recv(); err != nil || string(m[0]) != "x" {
			t.Fatalf("recv after clearing the deadline: %v %v", m, err)
		}
	})
	t.Run("deadline set while blocked", func(t *testing.T) {
		r := testEcho(t, Native, ListenOptions{})
		d := testDial(t, Native, r.Addr(), DialOptions{})
		errc := make(chan error, 1)
		go func() { _, err := d.Recv(); errc <- err }()
		time.Sleep(20 * time.Millisecond) // let Recv block
		d.SetRecvDeadline(time.Now())
		select {
		case err := <-errc:
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("recv: %v, want ErrTimeout", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a deadline set while Recv was blocked did not wake it")
		}
	})
	t.Run("timeout inside a frame", func(t *testing.T) {
		half := make(chan struct{})
		addr, wait := nativeRawServer(t, func(c net.Conn) {
			if nativeServerHandshake(c, okGreeting) != nil {
				return
			}
			c.Write([]byte{0x01, 0, 0x00, 10, 'h', 'e', 'l'})
			<-half
			c.Write([]byte{'l', 'o', '-', 'w', 'o', 'r', 'l'})
			time.Sleep(100 * time.Millisecond)
		})
		d := testDial(t, Native, addr, DialOptions{})
		d.SetRecvDeadline(time.Now().Add(30 * time.Millisecond))
		if _, err := d.Recv(); !errors.Is(err, ErrTimeout) {
			t.Fatalf("recv of half a message: %v, want ErrTimeout", err)
		}
		close(half)
		d.SetRecvDeadline(time.Now().Add(5 * time.Second))
		m, err := d.Recv()
		if err != nil || len(m) != 2 || len(m[0]) != 0 || string(m[1]) != "hello-worl" {
			t.Fatalf("recv after the timeout: %s, %v; want [\"\" \"hello-worl\"]", showFrames(m), err)
		}
		wait()
	})
	t.Run("while reconnecting", func(t *testing.T) {
		r, err := Listen(Native, "tcp://127.0.0.1:0", ListenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		events := newEventLog()
		d := testDial(t, Native, r.Addr(), DialOptions{Reconnect: true, ReconnectMin: time.Hour, OnEvent: events.add})
		r.Close()
		d.SetRecvDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := d.Recv(); !errors.Is(err, ErrTimeout) {
			t.Fatalf("recv while reconnecting: %v, want ErrTimeout", err)
		}
		events.wait(t, Disconnected)
	})
}

// TestNativeCloseUnblocks checks that Close wakes a blocked Recv (both sides) with
// ErrClosed and that calls after Close return ErrClosed.
func TestNativeCloseUnblocks(t *testing.T) {
	leakCheck(t)
	r, err := Listen(Native, "tcp://127.0.0.1:0", ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Dial(t.Context(), Native, r.Addr(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		recv  func() ([][]byte, error)
		close func() error
		send  func() error
	}{
		{"dealer", d.Recv, d.Close, func() error { return d.Send([][]byte{{'x'}}) }},
		{"router", r.Recv, r.Close, func() error { return r.Send([][]byte{{'i', 'd'}, {'x'}}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errc := make(chan error, 1)
			go func() { _, err := tt.recv(); errc <- err }()
			time.Sleep(20 * time.Millisecond)
			if err := tt.close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, ErrClosed) {
					t.Fatalf("blocked recv returned %v, want ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not wake Recv")
			}
			if err := tt.send(); !errors.Is(err, ErrClosed) {
				t.Fatalf("send after close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestNativeRoundTripNoAllocs checks that a round trip (deadline, send, the router's
// receive and echo, receive) allocates nothing once buffers have grown.
func TestNativeRoundTripNoAllocs(t *testing.T) {
	leakCheck(t)
	r := testEcho(t, Native, ListenOptions{})
	d := testDial(t, Native, r.Addr(), DialOptions{})
	msg := dmbRequest()
	var failed error
	roundTrip := func() {
		if err := d.SetRecvDeadline(time.Now().Add(5 * time.Second)); err != nil {
			failed = err
		}
		if err := d.Send(msg); err != nil {
			failed = err
		}
		if _, err := d.Recv(); err != nil {
			failed = err
		}
	}
	for range 1000 {
		roundTrip()
	}
	allocs := testing.AllocsPerRun(2000, roundTrip)
	if failed != nil {
		t.Fatalf("round trip: %v", failed)
	}
	// AllocsPerRun counts every goroutine's allocations, the router's included.
	if allocs > 0.01 {
		t.Fatalf("%.3f allocations per round trip, want 0", allocs)
	}
}

// TestNativeDialFailures checks that Dial gives up with a useful error and a ConnectFailed
// event: nothing listening, a server that never speaks (ConnectTimeout), a cancelled
// context, and a malformed endpoint.
func TestNativeDialFailures(t *testing.T) {
	leakCheck(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := "tcp://" + ln.Addr().String()
	ln.Close()
	silentAddr, wait := nativeRawServer(t, func(c net.Conn) { time.Sleep(300 * time.Millisecond) })
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		addr    string
		timeout time.Duration
		want    error  // matched with errors.Is, if set
		text    string // contained in the message
		event   bool   // a ConnectFailed event is expected
	}{
		{"nothing listening", context.Background(), closedAddr, time.Second, nil, "is the broker running", true},
		{"silent server", context.Background(), silentAddr, 100 * time.Millisecond, ErrBadGreeting, "did not finish within 100ms", true},
		{"cancelled context", cancelled, closedAddr, time.Second, context.Canceled, "connecting to", true},
		{"not a tcp endpoint", context.Background(), "ipc:///tmp/x", time.Second, nil, "only tcp://host:port", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := newEventLog()
			d, err := Dial(tt.ctx, Native, tt.addr, DialOptions{ConnectTimeout: tt.timeout, OnEvent: events.add})
			if err == nil {
				d.Close()
				t.Fatal("dial succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %q, want it to say %q", err, tt.text)
			}
			if got := events.count(ConnectFailed); got != map[bool]int{true: 1}[tt.event] {
				t.Fatalf("%d ConnectFailed events, want %d", got, map[bool]int{true: 1}[tt.event])
			}
		})
	}
	wait()
}
