//go:build linux

package loadgen

import (
	"encoding/binary"
	"math"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hrClock sleeps with ppoll on an eventfd: a relative timeout with nanosecond resolution
// (high-resolution timers, with the thread's timer slack set to 1 ns), cut short by a
// write to the eventfd. Go's own timers round any wait under a millisecond up to one
// (golang/go#53824), which is why the pacer does not use them here.
//
// When it serves an I/O loop, is asked to keep its P (Config.PacerKeepsP) and there are
// two or more Ps, the wait is a raw system call: the runtime is not told, so it does not
// hand the thread's P to another thread and back at every wait (sysmon's retake), which
// on a 2-core VM cost about a third of a low-rate request's CPU. The pacer's goroutine
// then holds its P while it sleeps, as a running goroutine would: a signal (sysmon's
// preemption after 10 ms, the GC's stop) ends the wait, and the clock yields before it
// waits again. The price: timers other goroutines left on that P run late unless another
// P is idle, which is why it is asked for only when the broker runs in another process.
// Otherwise it waits as any system call does.
//
// It can also watch an I/O loop's descriptors (ioClock): a sleep then ends when the
// loop has work, so one thread paces and reads.
type hrClock struct {
	base time.Time
	efd  int
	one  [8]byte
	raw  bool
	// prompt ends a sleep on the eventfd or the loop's events; lazy on the eventfd or the
	// loop's own posted work only (its sockets are read when the sleep ends anyway).
	prompt, lazy []unix.PollFd
	useLazy      bool
	ioReady      bool // the loop's descriptor was readable when the last sleep ended
	// ring, once the loop is on the pacer thread's io_uring (attachRing), is how the
	// clock sleeps: one system call submits the sends made and waits, and a lazy wait
	// ends only by its time (so a send added meanwhile waits up to lazyHorizon).
	ring pacedIO
}

var _ ioClock = (*hrClock)(nil)

// newPacerClock returns the run's pacer clock and how to run the pacer's loop: on a
// locked OS thread whose timer slack is 1 ns. It falls back to Go's timers if the
// eventfd cannot be made.
func newPacerClock(base time.Time) (pacerClock, func(loop func())) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return newGoClock(base), func(loop func()) { loop() }
	}
	c := &hrClock{base: base, efd: efd}
	c.prompt = []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
	c.lazy = c.prompt
	binary.LittleEndian.PutUint64(c.one[:], 1)
	return c, func(loop func()) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0) // best effort: 50 µs slack otherwise
		loop()
	}
}

func (c *hrClock) now() int64 { return int64(time.Since(c.base)) }

func (c *hrClock) sleep(until int64) {
	if c.ring != nil {
		c.sleepRing(until)
		return
	}
	fds := c.prompt
	if c.useLazy {
		fds = c.lazy
	}
	for {
		var ts *unix.Timespec
		if until != math.MaxInt64 {
			d := until - c.now()
			if d <= 0 {
				return
			}
			t := unix.NsecToTimespec(d)
			ts = &t
		}
		n, err := c.ppoll(fds, ts)
		if err == unix.EINTR {
			if c.raw {
				runtime.Gosched() // a signal: let the runtime preempt the goroutine if it asked to
			}
			continue
		}
		if n > 0 && fds[0].Revents != 0 {
			c.resetEventfd()
		}
		if n > 0 && len(fds) > 1 && fds[1].Revents != 0 {
			c.ioReady = true
		}
		return
	}
}

// sleepRing is sleep in the loop's ring.
func (c *hrClock) sleepRing(until int64) {
	for {
		d := time.Duration(-1)
		if until != math.MaxInt64 {
			if d = time.Duration(until - c.now()); d <= 0 {
				return
			}
		}
		watched, ready := c.ring.Sleep(d, !c.useLazy)
		if watched {
			c.resetEventfd()
		}
		c.ioReady = c.ioReady || ready
		if watched || ready || until == math.MaxInt64 || c.now() >= until {
			return
		}
		if c.raw {
			runtime.Gosched() // a signal ended it: let the runtime preempt the goroutine if it asked to
		}
	}
}

// resetEventfd reads the eventfd's counter back to zero after it woke a sleep.
func (c *hrClock) resetEventfd() {
	var buf [8]byte
	_, _ = unix.Read(c.efd, buf[:])
}

// attachRing moves io onto an io_uring of this thread, watching the eventfd.
func (c *hrClock) attachRing(io pacedIO) bool {
	if !io.AttachRing(c.efd, c.raw) {
		return false
	}
	c.ring = io
	return true
}

// ppoll waits for fds until ts (nil: no limit).
func (c *hrClock) ppoll(fds []unix.PollFd, ts *unix.Timespec) (int, error) {
	if !c.raw {
		return unix.Ppoll(fds, ts, nil)
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
		uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func (c *hrClock) interrupt() { _, _ = unix.Write(c.efd, c.one[:]) }

func (c *hrClock) close() { _ = unix.Close(c.efd) }

// watch makes sleeps end when the loop's events descriptor is readable, or only its
// wake descriptor in a lazy sleep; with keepP and two or more Ps it waits in a raw system
// call, and says so.
func (c *hrClock) watch(events, wake int, keepP bool) bool {
	c.prompt = append(c.prompt[:1:1], unix.PollFd{Fd: int32(events), Events: unix.POLLIN})
	c.lazy = append(c.lazy[:1:1], unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
	c.raw = keepP && runtime.GOMAXPROCS(0) >= 2
	return c.raw
}

// setLazy makes the next sleeps lazy (or not).
func (c *hrClock) setLazy(lazy bool) { c.useLazy = lazy }

// pollIO reports whether the loop's descriptor was readable when the last sleep ended,
// or, with check, is readable now (a check that does not wait, for a pacer that spins).
func (c *hrClock) pollIO(check bool) bool {
	if len(c.prompt) < 2 {
		return false
	}
	if c.ioReady {
		c.ioReady = false
		return true
	}
	if !check {
		return false
	}
	if c.ring != nil {
		return true // the ring's replies are known only after an Enter, which Poll makes
	}
	fds := [1]unix.PollFd{{Fd: c.prompt[1].Fd, Events: unix.POLLIN}}
	var zero unix.Timespec
	n, _ := c.ppoll(fds[:], &zero)
	return n > 0
}
