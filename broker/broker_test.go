package broker

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// replyWait bounds how long a test waits for a reply that must come; silenceWait is how
// long it listens to conclude that no reply comes.
const (
	replyWait   = 5 * time.Second
	silenceWait = 150 * time.Millisecond
)

// startBroker starts a broker for the test and closes it at the end.
func startBroker(t testing.TB, kind transport.Kind, cfg Config) *Server {
	t.Helper()
	cfg.Transport = kind
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// client is a DEALER that speaks whole signalling messages.
type client struct {
	t testing.TB
	d transport.Dealer
}

func dial(t testing.TB, kind transport.Kind, addr string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	d, err := transport.Dial(ctx, kind, addr, transport.DialOptions{})
	if err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
	t.Cleanup(func() { d.Close() })
	return &client{t: t, d: d}
}

// send sends m as a DEALER does: "", id, command, properties.
func (c *client) send(m protocol.Message) {
	c.t.Helper()
	c.sendFrames(protocol.Encode(&m))
}

func (c *client) sendFrames(frames [][]byte) {
	c.t.Helper()
	if err := c.d.Send(frames); err != nil {
		c.t.Fatalf("Send: %v", err)
	}
}

// recv returns the next reply, copied, or false when none comes within wait.
func (c *client) recv(wait time.Duration) (protocol.Message, bool) {
	c.t.Helper()
	if err := c.d.SetRecvDeadline(time.Now().Add(wait)); err != nil {
		c.t.Fatalf("SetRecvDeadline: %v", err)
	}
	frames, err := c.d.Recv()
	if errors.Is(err, transport.ErrTimeout) {
		return protocol.Message{}, false
	}
	if err != nil {
		c.t.Fatalf("Recv: %v", err)
	}
	var m protocol.Message
	if err := protocol.DecodeHeader(frames, &m); err != nil {
		c.t.Fatalf("reply %q does not decode: %v", frames, err)
	}
	out := protocol.Message{
		ID:            bytes.Clone(m.ID),
		Command:       protocol.Command(bytes.Clone([]byte(m.Command))),
		RawProperties: bytes.Clone(m.RawProperties),
	}
	if len(m.Envelope) != 0 {
		c.t.Errorf("reply has envelope %q, want none at the DEALER", m.Envelope)
	}
	// A compat echo carries the request's properties, which may have bad types.
	err = protocol.DecodeProperties(out.RawProperties, &out.Properties)
	if err != nil && !protocol.IsBadProperty(err) && out.Command != protocol.PerformanceReport {
		c.t.Errorf("reply %s properties %x do not decode: %v", out.Command, out.RawProperties, err)
	}
	return out, true
}

// mustRecv returns the next reply or fails the test.
func (c *client) mustRecv() protocol.Message {
	c.t.Helper()
	m, ok := c.recv(replyWait)
	if !ok {
		c.t.Fatalf("no reply within %v", replyWait)
	}
	return m
}

// expectSilence fails the test if a reply comes within silenceWait.
func (c *client) expectSilence(why string) {
	c.t.Helper()
	if m, ok := c.recv(silenceWait); ok {
		c.t.Fatalf("%s: got %s id %q, want no reply", why, m.Command, m.ID)
	}
}

// call sends m with ack and returns the reply.
func (c *client) call(m protocol.Message) protocol.Message {
	c.t.Helper()
	m.Properties.Ack = true
	c.send(m)
	return c.mustRecv()
}

// heartbeat sends an acked HARTBEAT with id and checks that the next reply is its answer
// (HARTBEAT in both modes).
func (c *client) heartbeat(id string) {
	c.t.Helper()
	r := c.call(protocol.Message{ID: []byte(id), Command: protocol.Heartbeat})
	if string(r.ID) != id || r.Command != protocol.Heartbeat {
		c.t.Fatalf("after HARTBEAT %q the next reply is %s id %q", id, r.Command, r.ID)
	}
}

func mustMsgpack(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeClock is an expiry clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for the broker's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// eventually polls cond until it holds or the wait runs out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(replyWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, replyWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// forEachKind runs f once per transport implementation.
func forEachKind(t *testing.T, f func(t *testing.T, kind transport.Kind)) {
	for _, kind := range transport.Kinds {
		t.Run(string(kind), func(t *testing.T) { f(t, kind) })
	}
}

var modes = []Mode{Reference, DMB021}
