//go:build linux

package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dmbench/dmbench/internal/uring"
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

// TestLoopRing: a Manual Loop's owner thread moves the traffic onto its io_uring: its
// direct sends go out with its next wait and the echoes come back through the ring in
// order, timed by the kernel; a lazy Sleep is not ended by a reply, a prompt one is, and
// so is one whose watched descriptor becomes readable; Start gives the sockets back to
// epoll on the Loop's own goroutine, and traffic goes on.
func TestLoopRing(t *testing.T) {
	leakCheck(t)
	r := testEcho(t, Native, ListenOptions{})
	l := testLoop(t, LoopOptions{Manual: true, RecvTimestamps: true})
	h := newRecordingHandler()
	const dealers, rounds = 3, 40
	var ds []Dealer
	stop := driveManual(t, l)
	for range dealers {
		d, err := Dial(t.Context(), Native, r.Addr(), DialOptions{Loop: l, Handler: h})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	stop()
	count := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.messages)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)

	owner := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		owner <- func() error {
			defer l.Start() // on the owner's thread, as it must be
			if !l.AttachRing(efd, false) {
				return fmt.Errorf("AttachRing failed (uring.Probe: %v): the test needs a kernel with io_uring", uring.Probe())
			}
			for _, d := range ds {
				if !d.(*loopConn).ringOwned() {
					return fmt.Errorf("a DEALER that was up is not read by the ring")
				}
			}
			for i := range rounds {
				for k, d := range ds {
					if err := d.(DirectSender).SendDirect([][]byte{{}, {byte(k), byte(i)}}); err != nil {
						return err
					}
				}
				for deadline := time.Now().Add(5 * time.Second); count() < (i+1)*dealers; {
					if time.Now().After(deadline) {
						return fmt.Errorf("round %d: %d echoes", i, count())
					}
					l.Sleep(10*time.Millisecond, true)
					l.Poll()
				}
			}
			// A lazy sleep is not ended by the echo; Poll then hands it on, timed at its arrival.
			sent := time.Now()
			if err := ds[0].(DirectSender).SendDirect([][]byte{{}, []byte("lazy")}); err != nil {
				return err
			}
			l.Sleep(50*time.Millisecond, false)
			slept := time.Since(sent)
			l.Poll()
			n := count()
			h.mu.Lock()
			at := h.arrived[n-1]
			h.mu.Unlock()
			if n != rounds*dealers+1 || slept < 45*time.Millisecond || at.Sub(sent) > 20*time.Millisecond || at.Before(sent) {
				return fmt.Errorf("lazy: %d echoes after a sleep of %v, the last timed %v after its send; want %d, >= 45ms, < 20ms",
					n, slept, at.Sub(sent), rounds*dealers+1)
			}
			// A prompt sleep ends for the echo.
			sent = time.Now()
			if err := ds[1].(DirectSender).SendDirect([][]byte{{}, []byte("prompt")}); err != nil {
				return err
			}
			for count() < rounds*dealers+2 && time.Since(sent) < 5*time.Second {
				l.Sleep(time.Second, true)
				l.Poll()
			}
			if took := time.Since(sent); count() != rounds*dealers+2 || took > 500*time.Millisecond {
				return fmt.Errorf("prompt: %d echoes after %v", count(), took)
			}
			// The watched descriptor ends a prompt sleep.
			go func() {
				time.Sleep(5 * time.Millisecond)
				unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
			}()
			start := time.Now()
			watched := false
			for !watched && time.Since(start) < 5*time.Second {
				watched, _ = l.Sleep(time.Second, true)
			}
			if took := time.Since(start); !watched || took > 500*time.Millisecond {
				return fmt.Errorf("watched: %v after %v", watched, took)
			}
			return nil
		}()
	}()
	if err := <-owner; err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	next := make([]int, dealers)
	for _, m := range h.messages[:rounds*dealers] {
		k, i := int(m[1][0]), int(m[1][1])
		if k >= dealers || i != next[k] {
			t.Fatalf("echo %v out of order (next of DEALER %d: %d)", m[1], k, next[min(k, dealers-1)])
		}
		next[k]++
	}
	h.mu.Unlock()
	if st := l.ReadStats(); st.Stamped < rounds*dealers {
		t.Errorf("ReadStats %+v: want the ring's %d echoes stamped", st, rounds*dealers)
	}
	// Started: epoll reads the sockets again, on the Loop's goroutine.
	if err := ds[2].Send([][]byte{{}, []byte("after")}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "the echo after Start", func() bool { return len(h.messages) == rounds*dealers+3 })
	for _, d := range ds {
		d.Close()
	}
	h.waitFor(t, "Closed", func() bool { return h.closed == dealers })
}
