//go:build linux

package transport

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dmbench/dmbench/internal/minheap"
	"github.com/dmbench/dmbench/internal/uring"
)

// loopImpl is a Loop on Linux: one epoll instance, an eventfd to wake it, and the
// goroutine that waits on them (run).
//
// Sockets are created, registered and closed only on the Loop's goroutine, so a file
// descriptor number is never reused under a reader. Other goroutines write to a socket
// under its connection's mutex while it is open (send), and reach the Loop through the
// posted list (post): connections with queued output, a failed write or a Close, and new
// dials. Epoll events carry the connection's slot and socket generation, so an event of a
// closed socket is recognised and dropped.
type loopImpl struct {
	opts   LoopOptions
	epfd   int
	evfd   int
	base   time.Time   // ns times are since base (monotonic)
	buf    []byte      // the one read buffer of every connection
	budget *RecvBudget // of DEALERs dialled without one
	drain  [8]byte     // the eventfd's counter, read (Loop goroutine only)
	// file holds epfd in Go's own poller, which wakes the Loop's goroutine when epfd has
	// events: the Loop then never blocks a thread in epoll_wait, which on few cores makes
	// the runtime hand its P over and back at every wait (sysmon's retake). rc is its
	// raw connection; deadline the read deadline set on it, when the timers want the Loop.
	file     *os.File
	rc       syscall.RawConn
	deadline time.Time
	events   []unix.EpollEvent     // what epoll_wait returned (Loop goroutine only)
	next     int64                 // AfterEvents' wish, ns (0: none)
	spare    []*loopConn           // the posted list's other buffer
	ready    int                   // how many
	pollFn   func(fd uintptr) bool // rc.Read's callback, made once: no allocation per wait
	started  atomic.Bool           // its goroutine runs (a Manual Loop's only after Start)

	// stamped: sockets ask for receive timestamps; rmsg, riov and rctl are the one
	// recvmsg header, vector and control buffer reads use (Loop goroutine only).
	stamped bool
	rmsg    unix.Msghdr
	riov    unix.Iovec
	rctl    [64]byte
	// how messages were timed (ReadStats)
	nStamped, nUnstamped atomic.Uint64
	waitSum, waitMax     atomic.Int64

	sleeping atomic.Bool // in epoll_wait; a poster or an earlier timer must kick it

	// The owner thread's ring (loop_ring_linux.go), nil without; the rest is the owner's
	// too: watch is the descriptor it polls for its owner, inflight counts its requests
	// not yet ended, epfdReady says epfd had events when last looked at, justWaited that
	// the last Enter was the owner's wait (its deferred work ran), detaching that Start is
	// taking the traffic back.
	ring                             *uring.Ring
	watch, inflight                  int
	epfdReady, justWaited, detaching bool

	mu      sync.Mutex
	conns   []*loopConn // by slot; nil is free
	free    []int32
	timers  minheap.Heap[*loopConn] // c wants the Loop at At; stale when no longer c's timer
	planned int64                   // when the Loop wakes by itself, while sleeping
	posted  []*loopConn
	closing bool
	done    chan struct{}
}

// loopReadBuf is the size of a Loop's read buffer: one read takes at most this much from
// one socket before the Loop serves the others.
const loopReadBuf = 64 << 10

// loopOne is what kick writes to the eventfd (a counter of 1).
var loopOne = []byte{1, 0, 0, 0, 0, 0, 0, 0}

// loopWakeData marks the eventfd's epoll events.
const loopWakeData = -1

func newLoopImpl(opts LoopOptions) (*loopImpl, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, errors.Join(errors.New("transport: creating an epoll instance"), err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, errors.Join(errors.New("transport: creating an eventfd"), err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: loopWakeData}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, errors.Join(errors.New("transport: registering an eventfd"), err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, errors.Join(errors.New("transport: making the epoll instance non-blocking"), err)
	}
	l := &loopImpl{
		opts:   opts,
		epfd:   epfd,
		evfd:   evfd,
		base:   time.Now(),
		buf:    make([]byte, loopReadBuf),
		budget: NewRecvBudget(DefaultRecvBudget),
		done:   make(chan struct{}),
	}
	l.events = make([]unix.EpollEvent, 256)
	l.pollFn = func(fd uintptr) bool {
		n, _ := unix.EpollWait(int(fd), l.events, 0)
		l.ready = max(n, 0)
		return l.ready > 0
	}
	if opts.RecvTimestamps {
		l.stamped = timestampsWork()
	}
	if !opts.Manual {
		l.start()
	}
	return l, nil
}

// timestampsWork reports whether a TCP socket accepts SO_TIMESTAMPNS here.
func timestampsWork() bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
}

// start runs the Loop's goroutine, once. Only then is epfd handed to Go's poller: a
// Manual Loop's would wake a poller thread for every event its owner handles anyway.
func (l *loopImpl) start() {
	if l.started.CompareAndSwap(false, true) {
		l.detachRing()
		l.file = os.NewFile(uintptr(l.epfd), "epoll")
		if rc, err := l.file.SyscallConn(); err == nil && l.file.SetReadDeadline(time.Time{}) == nil {
			l.rc = rc // else the runtime cannot poll it: the Loop blocks in epoll_wait
		}
		go l.run()
	}
}

// driven reports whether the Loop is Manual and not started: whoever sends on it is its
// driver, which must not wait for the Loop.
func (l *loopImpl) driven() bool { return l.opts.Manual && !l.started.Load() }

// pollFor is poll, waiting up to d for an event: for a driver whose send found a full
// queue.
func (l *loopImpl) pollFor(d time.Duration) {
	l.sleeping.Store(false)
	if l.ring != nil {
		l.ringReap(d)
		l.next = l.round(l.epollReady())
		return
	}
	n, err := unix.EpollWait(l.epfd, l.events, int(d/time.Millisecond))
	if err != nil {
		n = 0
	}
	l.next = l.round(n)
}

// epollReady is epoll_wait without waiting; with a ring only when its poll of epfd
// said there are events.
func (l *loopImpl) epollReady() int {
	if l.ring != nil && !l.epfdReady {
		return 0
	}
	n, err := unix.EpollWait(l.epfd, l.events, 0)
	if err != nil {
		n = 0
	}
	l.epfdReady = n > 0 // level-triggered events may remain: look again next time
	return n
}

// pollTime is poll with the time as Poll gives it.
func (l *loopImpl) pollTime() time.Time {
	switch wake := l.poll(); wake {
	case loopForever:
		return time.Time{}
	case 0:
		return l.base // at once
	default:
		return l.base.Add(time.Duration(wake))
	}
}

// poll is one round of a Manual Loop on its owner's goroutine, without waiting: it
// serves what is ready, the posted connections and the timers due, and returns when it
// wants to be called again (ns; loopForever: only when its descriptors are readable).
func (l *loopImpl) poll() int64 {
	l.sleeping.Store(false)
	if l.ring != nil {
		l.ringReap(0)
	}
	l.next = l.round(l.epollReady())
	wake, stop := l.prepareSleep(l.next)
	if stop {
		return loopForever // Close shuts it down
	}
	return wake
}

// recv reads once from a non-blocking socket into buf and returns what arrived and when:
// the kernel's receive timestamp of the last data read when the Loop asks for them and
// the read carried one, else the time the read returned (Loop goroutine only). The
// system call does not tell the runtime (it never blocks), so a thread that also paces
// does not hand its P away and back for each read.
func (l *loopImpl) recv(fd int, buf []byte) (int, time.Time, error) {
	if !l.stamped {
		r, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		at := time.Now()
		if e != 0 {
			return 0, at, e
		}
		if r > 0 {
			l.nUnstamped.Add(1)
		}
		return int(r), at, nil
	}
	l.riov.Base = &buf[0]
	l.riov.SetLen(len(buf))
	l.rmsg.Iov = &l.riov
	l.rmsg.SetIovlen(1)
	l.rmsg.Control = &l.rctl[0]
	l.rmsg.SetControllen(len(l.rctl))
	r, _, e := syscall.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&l.rmsg)), 0)
	at := time.Now()
	if e != 0 {
		return 0, at, e
	}
	if r == 0 {
		return 0, at, nil
	}
	return int(r), l.stampTime(l.rctl[:l.rmsg.Controllen], at), nil
}

// stampTime is when data read at at arrived: the kernel's receive timestamp in ctl, if
// there is one, else at; it counts which (ReadStats).
func (l *loopImpl) stampTime(ctl []byte, at time.Time) time.Time {
	stamp, ok := rxTimestamp(ctl)
	if !ok {
		l.nUnstamped.Add(1)
		return at
	}
	// The stamp is on the real-time clock; carried over to the monotonic one by its age,
	// which a clock step between the two readings could make nonsense: then it is not used.
	wait := at.UnixNano() - stamp
	if wait < 0 || wait > int64(maxStampAge) {
		l.nUnstamped.Add(1)
		return at
	}
	l.nStamped.Add(1)
	l.waitSum.Add(wait)
	if wait > l.waitMax.Load() {
		l.waitMax.Store(wait)
	}
	return at.Add(-time.Duration(wait))
}

// maxStampAge is the longest wait between a kernel receive timestamp and its read that
// is believed; beyond it the wall clock was probably stepped.
const maxStampAge = 10 * time.Second

// rxTimestamp finds SCM_TIMESTAMPNS in a control message buffer and returns it in ns
// since the epoch (real-time clock).
func rxTimestamp(ctl []byte) (int64, bool) {
	for len(ctl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		n := int(h.Len)
		if n < unix.SizeofCmsghdr || n > len(ctl) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && n >= unix.SizeofCmsghdr+16 {
			ts := (*unix.Timespec)(unsafe.Pointer(&ctl[unix.SizeofCmsghdr]))
			return ts.Nano(), true
		}
		n = (n + 7) &^ 7 // CMSG_ALIGN
		if n >= len(ctl) {
			break
		}
		ctl = ctl[n:]
	}
	return 0, false
}

// readStats returns how the Loop's messages were timed.
func (l *loopImpl) readStats() LoopReadStats {
	return LoopReadStats{
		Stamped: l.nStamped.Load(), Unstamped: l.nUnstamped.Load(),
		WaitSum: time.Duration(l.waitSum.Load()), WaitMax: time.Duration(l.waitMax.Load()),
	}
}

// now is the time in ns since l.base.
func (l *loopImpl) now() int64 { return int64(time.Since(l.base)) }

// nsOf converts t to ns since l.base; the zero time is 0 (none).
func (l *loopImpl) nsOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(int64(t.Sub(l.base)), 1)
}

// kick wakes the Loop's goroutine if it sleeps.
func (l *loopImpl) kick() {
	if l.sleeping.CompareAndSwap(true, false) {
		for {
			_, err := unix.Write(l.evfd, loopOne)
			if err != unix.EINTR {
				return
			}
		}
	}
}

// post hands c to the Loop's goroutine, which looks at its queued output, failure, close
// or dial. It reports false once the Loop is closing.
func (l *loopImpl) post(c *loopConn) bool {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return false
	}
	l.posted = append(l.posted, c)
	l.mu.Unlock()
	l.kick()
	return true
}

// schedule adds a timer for c at (ns); an earlier one than the Loop's planned wake-up
// kicks it.
func (l *loopImpl) schedule(c *loopConn, at int64) {
	l.mu.Lock()
	l.timers.Push(at, c)
	kick := at < l.planned
	l.mu.Unlock()
	if kick {
		l.kick()
	}
}

// register gives c a slot, or reports false once the Loop is closing.
func (l *loopImpl) register(c *loopConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	if n := len(l.free); n > 0 {
		c.slot = l.free[n-1]
		l.free = l.free[:n-1]
		l.conns[c.slot] = c
	} else {
		c.slot = int32(len(l.conns))
		l.conns = append(l.conns, c)
	}
	return true
}

// release frees c's slot.
func (l *loopImpl) release(c *loopConn) {
	l.mu.Lock()
	if c.slot >= 0 && int(c.slot) < len(l.conns) && l.conns[c.slot] == c {
		l.conns[c.slot] = nil
		l.free = append(l.free, c.slot)
	}
	c.slot = -1
	l.mu.Unlock()
}

// close stops the Loop once: every connection left is closed on its goroutine.
func (l *loopImpl) close() error {
	l.start() // a Manual Loop closes on a goroutine of its own, as others do
	l.mu.Lock()
	already := l.closing
	l.closing = true
	l.mu.Unlock()
	if !already {
		l.sleeping.Store(true) // make sure the kick writes
		l.kick()
	}
	<-l.done
	return nil
}

// run is the Loop's goroutine.
func (l *loopImpl) run() {
	defer close(l.done)
	for {
		wake, stop := l.prepareSleep(l.next)
		if stop {
			l.shutdown()
			return
		}
		n := l.wait(l.events, wake)
		l.sleeping.Store(false)
		l.next = l.round(n)
	}
}

// round serves n ready events, the posted connections and the timers due, and returns
// when AfterEvents wants to be called again (ns; 0: no need).
func (l *loopImpl) round(n int) int64 {
	for i := range n {
		ev := &l.events[i]
		if ev.Fd == loopWakeData {
			_, _ = unix.Read(l.evfd, l.drain[:])
			continue
		}
		if c := l.connAt(ev.Fd, ev.Pad); c != nil {
			c.ready(ev.Events)
		}
	}
	l.mu.Lock()
	posted := l.posted
	l.posted = l.spare[:0]
	l.mu.Unlock()
	for i, c := range posted {
		c.serve()
		posted[i] = nil
	}
	l.spare = posted
	now := l.now()
	l.fireTimers(now)
	if l.opts.AfterEvents == nil {
		return l.next
	}
	return l.nsOf(l.opts.AfterEvents(l.base.Add(time.Duration(now))))
}

// loopForever is prepareSleep's wake-up time when nothing is timed.
const loopForever = int64(1<<63 - 1)

// wait returns the events that are ready, waiting for one until wake (ns; 0: not at
// all, loopForever: without a time limit).
func (l *loopImpl) wait(events []unix.EpollEvent, wake int64) int {
	if wake == 0 || l.rc == nil {
		timeout := -1
		switch {
		case wake == 0:
			timeout = 0
		case wake != loopForever:
			timeout = int(max(0, (wake-l.now()+int64(time.Millisecond)-1)/int64(time.Millisecond)))
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err != nil {
			return 0 // EINTR; anything else would repeat, and the timers still run
		}
		return n
	}
	var dl time.Time
	if wake != loopForever {
		dl = l.base.Add(time.Duration(wake))
	}
	if !dl.Equal(l.deadline) {
		_ = l.file.SetReadDeadline(dl)
		l.deadline = dl
	}
	// Go's poller calls pollFn again each time epfd becomes readable; its deadline ends
	// the wait with an error, after which the timers run.
	l.ready = 0
	_ = l.rc.Read(l.pollFn)
	return l.ready
}

// prepareSleep works out until when the Loop may wait for events (ns; 0: it must not
// wait; loopForever: no limit) and marks it sleeping, or reports that it must stop.
func (l *loopImpl) prepareSleep(next int64) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return 0, true
	}
	for len(l.timers) > 0 && stale(l.timers[0]) {
		l.timers.PopRoot()
	}
	wake := loopForever
	if len(l.timers) > 0 {
		wake = l.timers[0].At
	}
	if next > 0 {
		wake = min(wake, next)
	}
	if len(l.posted) > 0 || wake <= l.now() {
		l.planned = 0
		return 0, false
	}
	l.planned = wake
	l.sleeping.Store(true)
	return wake, false
}

// slotConn is the connection in slot, whatever its socket.
func (l *loopImpl) slotConn(slot int32) *loopConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if slot >= 0 && int(slot) < len(l.conns) {
		return l.conns[slot]
	}
	return nil
}

// connAt returns the connection in slot whose socket generation is gen, or nil.
func (l *loopImpl) connAt(slot, gen int32) *loopConn {
	c := l.slotConn(slot)
	if c == nil || c.gen.Load() != gen {
		return nil
	}
	return c
}

// fireTimers runs every timer due at now.
func (l *loopImpl) fireTimers(now int64) {
	for {
		l.mu.Lock()
		if len(l.timers) == 0 || l.timers[0].At > now {
			l.mu.Unlock()
			return
		}
		t := l.timers.PopRoot()
		l.mu.Unlock()
		if !stale(t) {
			t.V.timer(now)
		}
	}
}

// shutdown closes every connection left and the Loop's descriptors.
func (l *loopImpl) shutdown() {
	l.mu.Lock()
	conns := append([]*loopConn(nil), l.conns...)
	l.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			c.teardown(ErrClosed, true)
		}
	}
	l.file.Close() // epfd (start made it)
	unix.Close(l.evfd)
}

// stale reports whether a timer is no longer its connection's: timers are never removed,
// only superseded, and a superseded one is dropped when it comes up.
func stale(t minheap.Entry[*loopConn]) bool { return t.V.timerAt.Load() != t.At }
