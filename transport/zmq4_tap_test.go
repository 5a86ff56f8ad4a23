package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTapAndNativeAgreeOnHandshakes feeds the same opening bytes of a DEALER peer to the
// zmq4 tap and to the native handshake, first directly and then through a ROUTER of
// each implementation on a real connection, and checks that every one of them reaches
// the verdict ZMTP 3.1 asks for: a peer with a higher major version is let in (it talks
// 3.x), an identity over 255 bytes is refused.
func TestTapAndNativeAgreeOnHandshakes(t *testing.T) {
	leakCheck(t)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name   string
		wire   []byte
		accept bool
	}{
		{"ZMTP 3.0", cat(rawGreeting(3, 0, "NULL"), rawReady("DEALER", "")), true},
		{"ZMTP 3.1", cat(rawGreeting(3, 1, "NULL"), rawReady("DEALER", "")), true},
		{"major version 4", cat(rawGreeting(4, 0, "NULL"), rawReady("DEALER", "")), true},
		{"255-byte identity", cat(rawGreeting(3, 1, "NULL"), rawReady("DEALER", strings.Repeat("i", 255))), true},
		{"256-byte identity", cat(rawGreeting(3, 1, "NULL"), rawReady("DEALER", strings.Repeat("i", 256))), false},
		{"ZMTP 2.0", cat(rawGreeting(1, 0, "NULL"), rawReady("DEALER", "")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verdicts := []struct {
				who string
				err error
			}{
				{"zmq4 tap, all at once", tapVerdict(tt.wire, len(tt.wire))},
				{"zmq4 tap, a byte at a time", tapVerdict(tt.wire, 1)},
				{"native handshake", nativeVerdict(t, tt.wire)},
				{"native ROUTER", routerVerdict(t, Native, tt.wire)},
				{"zmq4 ROUTER", routerVerdict(t, ZMQ4, tt.wire)},
			}
			for _, v := range verdicts {
				switch {
				case tt.accept && v.err != nil:
					t.Errorf("%s refused the peer: %v", v.who, v.err)
				case !tt.accept && !errors.Is(v.err, ErrBadGreeting):
					t.Errorf("%s: %v, want the peer refused with ErrBadGreeting", v.who, v.err)
				}
			}
		})
	}
}

// tapVerdict feeds wire to a ROUTER's tap reader in pieces of step bytes and returns why
// it refused the peer, or nil once it accepted it.
func tapVerdict(wire []byte, step int) error {
	var r tapReader
	r.init(zmtpRouter, defaultMaxFrameSize)
	for len(wire) > 0 {
		k := min(step, len(wire))
		if _, err := r.feed(wire[:k]); err != nil {
			return err
		}
		wire = wire[k:]
	}
	if !r.handshaken() {
		return errors.New("the handshake did not complete")
	}
	return nil
}

// nativeVerdict runs a ROUTER's native handshake against a peer that sends wire, over an
// in-memory connection, and returns its error.
func nativeVerdict(t *testing.T, wire []byte) error {
	ours, theirs := net.Pipe()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(io.Discard, theirs); done <- struct{}{} }() // our greeting and READY
	go func() { _, _ = theirs.Write(wire); done <- struct{}{} }()
	defer func() {
		ours.Close()
		theirs.Close()
		<-done
		<-done
	}()
	if err := ours.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var rb nativeReadBuf
	_, err := nativeHandshake(ours, &rb, zmtpRouter, nil, defaultMaxFrameSize)
	return err
}

// routerVerdict sends wire to a ROUTER of kind from a raw TCP connection and returns
// the error of the event that ended the connection, or nil once the ROUTER reported it
// connected.
func routerVerdict(t *testing.T, kind Kind, wire []byte) error {
	events := newEventLog()
	r := testListen(t, kind, ListenOptions{OnEvent: events.add})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.Addr(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events.ch:
		if ev.Kind == Connected {
			return nil
		}
		return ev.Err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("no event from the %s ROUTER within 5 s", kind)
	}
}
