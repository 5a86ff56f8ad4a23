package transport

// Test helpers shared by every test file of the package, the libzmq-tagged ones
// included (this file has no build tag, so both builds compile it): leak checks,
// messages and how to compare and show them, sockets that clean up after the test,
// waiting, connection events, and hand-built ZMTP bytes.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakCheck fails the test if it leaves goroutines behind. It runs after every cleanup
// the test registers later (cleanups run last-in, first-out), so the sockets and
// processes those cleanups close are gone by then.
func leakCheck(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// testMessage is a multipart message every implementation must carry unchanged.
type testMessage struct {
	name string
	msg  [][]byte
}

// testMessages are the messages the round-trip and interop tests send.
func testMessages() []testMessage {
	mib := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	return []testMessage{
		{"one frame", [][]byte{[]byte("hello")}},
		{"one empty frame", [][]byte{{}}},
		{"empty frames", [][]byte{{}, {}, {}}},
		{"empty frames around data", [][]byte{{}, []byte("x"), {}, {}}},
		{"1-byte frames", [][]byte{{0}, {1}, {0xFF}}},
		{"dmb request with envelope", [][]byte{{}, []byte("0123456789abcdef"), []byte("GROUPADD"), {0x82, 0xa3, 'a', 'c', 'k', 0xc3, 0xa1, 'g', 0xa1, 'x'}}},
		{"routing envelope of two hops", [][]byte{[]byte("hop-1"), []byte("hop-2"), {}, []byte("body")}},
		{"255 and 256 bytes (short and long frame sizes)", [][]byte{bytes.Repeat([]byte{7}, 255), bytes.Repeat([]byte{8}, 256)}},
		{"1 MiB frame", [][]byte{{}, mib, []byte("tail")}},
	}
}

// dmbRequest is a DMB signalling request: delimiter, 16-byte id, HARTBEAT, msgpack
// {"ack": true}. Callers may write into the id.
func dmbRequest() [][]byte {
	return [][]byte{{}, []byte("0123456789abcdef"), []byte("HARTBEAT"), {0x81, 0xa3, 'a', 'c', 'k', 0xc3}}
}

// framesEqual reports whether two messages have the same frames.
func framesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// showFrames describes a message briefly for failure messages.
func showFrames(msg [][]byte) string {
	parts := make([]string, len(msg))
	for i, f := range msg {
		if len(f) > 16 {
			parts[i] = fmt.Sprintf("%q…(%d B)", f[:16], len(f))
		} else {
			parts[i] = fmt.Sprintf("%q", f)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// cloneFrames copies msg, whose frames Recv reuses.
func cloneFrames(msg [][]byte) [][]byte {
	out := make([][]byte, len(msg))
	for i, f := range msg {
		out[i] = bytes.Clone(f)
	}
	return out
}

// testListen binds a Router of kind on a kernel-chosen port; the test's cleanup closes it.
func testListen(t testing.TB, kind Kind, opts ListenOptions) Router {
	t.Helper()
	r, err := Listen(kind, "tcp://127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("Listen(%s): %v", kind, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// testDial connects a Dealer of kind to addr; the test's cleanup closes it.
func testDial(t testing.TB, kind Kind, addr string, opts DialOptions) Dealer {
	t.Helper()
	d, err := Dial(context.Background(), kind, addr, opts)
	if err != nil {
		t.Fatalf("Dial(%s, %s): %v", kind, addr, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// testEcho binds a Router of kind that echoes every message until the test ends.
func testEcho(t testing.TB, kind Kind, opts ListenOptions) Router {
	t.Helper()
	r := testListen(t, kind, opts)
	done := echoLoop(r, nil)
	t.Cleanup(func() {
		r.Close()
		<-done
	})
	return r
}

// echoer is the part of a ROUTER that echoLoop uses.
type echoer interface {
	Recv() ([][]byte, error)
	Send(msg [][]byte) error
}

// echoLoop sends every message r receives back to its sender until Recv fails (r is
// closed); sent, if set, is told each Send's result. The channel closes when the loop
// ends.
func echoLoop(r echoer, sent func(error)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.Recv()
			if err != nil {
				return
			}
			err = r.Send(m)
			if sent != nil {
				sent(err)
			}
		}
	}()
	return done
}

// dialMany connects n Dealers of kind to addr, 64 at a time. On error the slice still
// holds the Dealers that did connect (nil elsewhere), for closeDealers.
func dialMany(kind Kind, addr string, n int, opts DialOptions) ([]Dealer, error) {
	dealers := make([]Dealer, n)
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range dealers {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := Dial(context.Background(), kind, addr, opts)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("DEALER %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			dealers[i] = d
		}()
	}
	wg.Wait()
	return dealers, firstErr
}

// closeDealers closes every Dealer that dialMany connected.
func closeDealers(dealers []Dealer) {
	for _, d := range dealers {
		if d != nil {
			d.Close()
		}
	}
}

// dealerRecv receives with a deadline so that a broken test fails instead of hanging.
func dealerRecv(t testing.TB, d Dealer) [][]byte {
	t.Helper()
	if err := d.SetRecvDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	msg, err := d.Recv()
	if err != nil {
		t.Fatalf("dealer Recv: %v", err)
	}
	return msg
}

// routerRecv receives one message on a Router and returns a copy, failing the test after
// 10 s.
func routerRecv(t testing.TB, r Router) [][]byte {
	t.Helper()
	type result struct {
		msg [][]byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := r.Recv()
		ch <- result{cloneFrames(m), err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("router Recv: %v", res.err)
		}
		return res.msg
	case <-time.After(10 * time.Second):
		r.Close() // unblocks the Recv above
		<-ch
		t.Fatalf("router Recv: nothing within 10 s")
	}
	return nil
}

// eventually polls cond every 2 ms, failing the test if it does not hold within 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// waitConnErrors waits until r's Stats count want connections closed for the error
// named name, failing the test if that takes longer than within or the count goes past
// want.
func waitConnErrors(t testing.TB, r Router, name string, want uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := r.Stats().ConnErrors[name]
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("ConnErrors[%q] = %d, want %d within %v (all: %v)", name, got, want, within, r.Stats().ConnErrors)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// eventLog collects connection events from OnEvent.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 1024)} }

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

// wait returns the next event of kind (skipping others), or fails after 5 s.
func (e *eventLog) wait(t testing.TB, kind EventKind) Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event within 5 s", kind)
		}
	}
}

// count returns how many events of kind were seen.
func (e *eventLog) count(kind EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// has reports whether an event of kind with an error matching target was seen.
func (e *eventLog) has(kind EventKind, target error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if ev.Kind == kind && errors.Is(ev.Err, target) {
			return true
		}
	}
	return false
}

// rawGreeting is a hand-built 64-byte ZMTP greeting with the given version and mechanism.
func rawGreeting(major, minor byte, mechanism string) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, major, minor
	copy(g[12:], mechanism)
	return g
}

// rawReady is a hand-built READY command frame with Socket-Type and, if not empty,
// Identity.
func rawReady(socketType, identity string) []byte {
	body := append([]byte{5}, "READY"...)
	body = append(body, 11)
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(socketType)))
	body = append(body, socketType...)
	if identity != "" {
		body = append(body, 8)
		body = append(body, "Identity"...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(identity)))
		body = append(body, identity...)
	}
	if len(body) > 255 {
		return append(rawLongHeader(0x04, uint64(len(body))), body...)
	}
	return append([]byte{0x04, byte(len(body))}, body...)
}

// rawLongHeader is a hand-built frame header with the 8-byte size form.
func rawLongHeader(flags byte, size uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{flags | 0x02}, size)
}
