//go:build linux

package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testLoop starts a Loop closed at the end of the test.
func testLoop(t *testing.T, opts LoopOptions) *Loop {
	t.Helper()
	l, err := NewLoop(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// recordingHandler is a Handler that keeps what the Loop calls it with.
type recordingHandler struct {
	mu       sync.Mutex
	messages [][][]byte
	arrived  []time.Time
	wakes    int
	closed   int
	got      chan struct{} // a signal per call
	onWake   func()
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{got: make(chan struct{}, 1024)}
}

func (h *recordingHandler) Message(frames [][]byte, at time.Time) {
	h.mu.Lock()
	h.messages = append(h.messages, cloneFrames(frames))
	h.arrived = append(h.arrived, at)
	h.mu.Unlock()
	h.got <- struct{}{}
}

func (h *recordingHandler) Wake() {
	h.mu.Lock()
	h.wakes++
	f := h.onWake
	h.mu.Unlock()
	if f != nil {
		f()
	}
	h.got <- struct{}{}
}

func (h *recordingHandler) Closed() {
	h.mu.Lock()
	h.closed++
	h.mu.Unlock()
	h.got <- struct{}{}
}

// waitFor waits until cond holds (checked after each Handler call).
func (h *recordingHandler) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		h.mu.Lock()
		ok := cond()
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-h.got:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestLoopHandler: a DEALER with a Handler gets every echoed message in order, a Wake
// when its deadline passes (and one only), Recv refused, and Closed once after a Close
// made from inside its own Wake.
func TestLoopHandler(t *testing.T) {
	leakCheck(t)
	l := testLoop(t, LoopOptions{})
	r := testEcho(t, Native, ListenOptions{})
	h := newRecordingHandler()
	d, err := Dial(t.Context(), Native, r.Addr(), DialOptions{Loop: l, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := range n {
		body := binary.BigEndian.AppendUint32(nil, uint32(i))
		send := d.Send
		if i%2 == 0 {
			send = d.(DirectSender).SendDirect
		}
		if err := send([][]byte{{}, body}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	h.waitFor(t, "the echoes", func() bool { return len(h.messages) == n })
	for i, m := range h.messages {
		if len(m) != 2 || binary.BigEndian.Uint32(m[1]) != uint32(i) {
			t.Fatalf("message %d is %s", i, showFrames(m))
		}
	}
	if _, err := d.Recv(); !errors.Is(err, ErrHandlerRecv) {
		t.Fatalf("Recv with a Handler: %v, want ErrHandlerRecv", err)
	}

	h.mu.Lock()
	h.onWake = func() { d.Close() } // Close from the Handler must not wait for itself
	h.mu.Unlock()
	if err := d.SetRecvDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "Closed", func() bool { return h.closed == 1 })
	time.Sleep(50 * time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.wakes != 1 || h.closed != 1 {
		t.Fatalf("%d wakes and %d Closed calls, want 1 and 1", h.wakes, h.closed)
	}
	if err := d.Send([][]byte{{'x'}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

// driveManual serves a Manual Loop from a goroutine of its own, as a pacer would, until
// the returned stop is called (which waits for it).
func driveManual(t *testing.T, l *Loop) (stop func()) {
	t.Helper()
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			next := l.Poll()
			timeout := 5 // ms: look at quit now and then
			if !next.IsZero() {
				timeout = min(timeout, max(0, int(time.Until(next).Milliseconds())))
			}
			fds := []unix.PollFd{{Fd: int32(l.EventsFd()), Events: unix.POLLIN}}
			_, _ = unix.Poll(fds, timeout)
		}
	}()
	return func() { close(quit); <-done }
}

// TestLoopManualReceiveTimes: a Manual Loop serves its DEALERs only when its owner polls
// it, and with RecvTimestamps a reply that waited 50 ms in the kernel before the owner
// polled is timed when it arrived, not when it was read; without them it is timed late.
// ReadStats counts the stamped replies and their wait.
func TestLoopManualReceiveTimes(t *testing.T) {
	leakCheck(t)
	r := testEcho(t, Native, ListenOptions{})
	for _, stamped := range []bool{true, false} {
		l := testLoop(t, LoopOptions{Manual: true, RecvTimestamps: stamped})
		if l.Stamped() != stamped {
			t.Fatalf("Stamped() = %v, want %v (SO_TIMESTAMPNS refused?)", l.Stamped(), stamped)
		}
		h := newRecordingHandler()
		stop := driveManual(t, l)
		d, err := Dial(t.Context(), Native, r.Addr(), DialOptions{Loop: l, Handler: h})
		if err != nil {
			t.Fatal(err)
		}
		// The kernel turns stamping on a moment after the first socket asks (a deferred
		// static key), so echoes read before then are unstamped: warm up until one is
		// stamped (at once when another socket already asked), then count from there.
		warm := 0
		for deadline := time.Now().Add(5 * time.Second); ; {
			if err := d.Send([][]byte{{}, []byte("warm")}); err != nil {
				t.Fatal(err)
			}
			warm++
			h.waitFor(t, "a warm-up echo", func() bool { return len(h.messages) == warm })
			if !stamped || l.ReadStats().Stamped > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		stop() // the test is the owner now
		before := l.ReadStats()

		const held = 50 * time.Millisecond
		sent := time.Now()
		if err := d.(DirectSender).SendDirect([][]byte{{}, []byte("late")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(held)
		h.mu.Lock()
		if len(h.messages) != warm {
			t.Fatalf("stamped=%v: %d messages before the owner polled, want %d", stamped, len(h.messages), warm)
		}
		h.mu.Unlock()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			l.Poll()
			h.mu.Lock()
			n := len(h.messages)
			h.mu.Unlock()
			if n == warm+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		h.mu.Lock()
		if len(h.messages) != warm+1 {
			t.Fatalf("stamped=%v: the held echo never came", stamped)
		}
		took := h.arrived[warm].Sub(sent)
		h.mu.Unlock()
		st := l.ReadStats()
		if stamped {
			if took < 0 || took > 20*time.Millisecond {
				t.Errorf("stamped: the echo held %v in the kernel is timed %v after its send, want its arrival (< 20ms)", held, took)
			}
			if st.Stamped != before.Stamped+1 || st.Unstamped != before.Unstamped || st.WaitMax < held-5*time.Millisecond {
				t.Errorf("stamped: ReadStats %+v after %+v, want the held echo's read stamped, a wait of at least %v", st, before, held-5*time.Millisecond)
			}
		} else {
			if took < held {
				t.Errorf("unstamped: the echo is timed %v after its send, want when it was read (>= %v)", took, held)
			}
			if st.Stamped != 0 || st.Unstamped != before.Unstamped+1 {
				t.Errorf("unstamped: ReadStats %+v after %+v, want 0 stamped and one more unstamped read", st, before)
			}
		}
		l.Start() // Close from here on needs no owner
		d.Close()
		h.waitFor(t, "Closed", func() bool { return h.closed == 1 })
	}
}

// TestLoopRecvBudget: servers that start huge messages on many connections sharing a
// RecvBudget are cut off once their partly received messages would pass it: the
// connection that passes it ends with ErrRecvBudget, the bytes held never exceed the
// budget by more than one read, and a well-behaved connection on the same Loop goes on.
func TestLoopRecvBudget(t *testing.T) {
	leakCheck(t)
	const budget = 1 << 20
	l := testLoop(t, LoopOptions{})
	b := NewRecvBudget(budget)
	okGreeting := append(rawGreeting(3, 1, "NULL"), rawReady("ROUTER", "")...)
	chunk := make([]byte, 256<<10)
	script := func(c net.Conn) {
		if nativeServerHandshake(c, okGreeting) != nil {
			return
		}
		// A 32 MiB frame, of which 1 MiB is sent: within MaxFrameSize, never finished.
		c.Write(rawLongHeader(0, 32<<20))
		for range 4 {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
		time.Sleep(2 * time.Second)
	}
	good := testEcho(t, Native, ListenOptions{})
	h := newRecordingHandler()
	gd, err := Dial(t.Context(), Native, good.Addr(), DialOptions{Loop: l, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	defer gd.Close()

	events := newEventLog()
	var hostile []Dealer
	var waits []func()
	for range 4 {
		addr, wait := nativeRawServer(t, script)
		waits = append(waits, wait)
		d, err := Dial(t.Context(), Native, addr, DialOptions{Loop: l, RecvBudget: b, OnEvent: events.add})
		if err != nil {
			t.Fatal(err)
		}
		hostile = append(hostile, d)
	}
	ev := events.wait(t, Disconnected)
	if !errors.Is(ev.Err, ErrRecvBudget) {
		t.Fatalf("disconnected because %v, want ErrRecvBudget", ev.Err)
	}
	if err := gd.Send([][]byte{{}, []byte("still here")}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "the well-behaved echo", func() bool { return len(h.messages) == 1 })
	for _, d := range hostile {
		d.Close()
	}
	for _, wait := range waits {
		wait()
	}
	if peak := b.Peak(); peak > budget || peak < budget/2 {
		t.Fatalf("the loop held at most %d bytes of partial messages, want at most the budget (%d) and near it", peak, budget)
	}
	if held := b.Held(); held > 64<<10 {
		t.Fatalf("the loop still holds %d bytes after the hostile connections ended", held)
	}
}
