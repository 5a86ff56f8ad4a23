//go:build linux

package loadgen

import (
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// hrClock sleeps with ppoll on an eventfd: a relative timeout with nanosecond resolution
// (high-resolution timers, with the thread's timer slack set to 1 ns), cut short by a
// write to the eventfd. Go's own timers round any wait under a millisecond up to one
// (golang/go#53824), which is why the pacer does not use them here.
type hrClock struct {
	base time.Time
	efd  int
	one  [8]byte
}

// newPacerClock returns the run's pacer clock and how to run the pacer's loop: on a
// locked OS thread whose timer slack is 1 ns. It falls back to Go's timers if the
// eventfd cannot be made.
func newPacerClock(base time.Time) (pacerClock, func(loop func())) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return newGoClock(base), func(loop func()) { loop() }
	}
	c := &hrClock{base: base, efd: efd}
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
	fds := []unix.PollFd{{Fd: int32(c.efd), Events: unix.POLLIN}}
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
		n, err := unix.Ppoll(fds, ts, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n > 0 {
			var buf [8]byte
			_, _ = unix.Read(c.efd, buf[:]) // reset the counter
		}
		return
	}
}

func (c *hrClock) interrupt() { _, _ = unix.Write(c.efd, c.one[:]) }

func (c *hrClock) close() { _ = unix.Close(c.efd) }
