//go:build linux

// Package uring is the little of io_uring that an I/O loop serving many sockets from one
// thread needs: sends submitted in batches, multishot receives into a ring of provided
// buffers, multishot polls, cancellation, and one io_uring_enter that submits and waits
// with a timeout. A ring is made with SINGLE_ISSUER and DEFER_TASKRUN: only the thread
// that made it may use it (lock it with runtime.LockOSThread), and a completion costs
// that thread no wake-up of its own unless it waits for it.
//
// The layouts are the kernel's (include/uapi/linux/io_uring.h); it needs Linux 6.1.
package uring

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Opcodes, flags and offsets of the kernel's ABI.
const (
	opPollAdd     = 6
	opRecvmsg     = 10
	opAsyncCancel = 14
	opSend        = 26

	sqeBufferSelect   = 1 << 5
	sqeCQESkipSuccess = 1 << 6

	setupCQSize        = 1 << 3
	setupSubmitAll     = 1 << 7
	setupSingleIssuer  = 1 << 12
	setupDeferTaskrun  = 1 << 13
	featSingleMmap     = 1 << 0
	featExtArg         = 1 << 8
	enterGetEvents     = 1 << 0
	enterExtArg        = 1 << 3
	recvMultishot      = 1 << 1
	pollAddMulti       = 1 << 0
	cancelAll          = 1 << 0
	cancelFd           = 1 << 1
	registerPbufRing   = 22
	offSQRing          = 0
	offCQRing          = 0x8000000
	offSQEs            = 0x10000000
	cqeFBuffer         = 1 << 0
	cqeFMore           = 1 << 1
	cqeBufferShift     = 16
	recvmsgOutSize     = 16
	msgNoSignal        = 0x4000
	msgWaitAll         = 0x100
	sqeSize            = 64
	cqeSize            = 16
	bufRingEntrySize   = 16
	maxBufferRingCount = 1 << 15
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// sqe is a submission queue entry.
type sqe struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	opFlags  uint32
	userData uint64
	bufGroup uint16
	_        uint16
	_        int32
	_        [2]uint64
}

// CQE is a completion: the request's user data, its result (bytes, or -errno) and flags.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// More reports whether a multishot request goes on after this completion.
func (c CQE) More() bool { return c.Flags&cqeFMore != 0 }

// Buffer returns the provided buffer this completion filled, if any.
func (c CQE) Buffer() (uint16, bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&cqeFBuffer != 0
}

type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	_         uint32
	ts        uint64
}

// Ring is an io_uring with its provided buffers. Use it from the thread that made it.
type Ring struct {
	fd       int
	sqMem    []byte
	sqesMem  []byte
	sqHead   *uint32
	sqTail   *uint32
	sqMask   uint32
	sqes     []sqe
	tail     uint32 // the SQ tail not yet published
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     []CQE
	pending  int // SQEs prepared and not yet submitted
	arg      getEventsArg
	ts       unix.Timespec
	msg      unix.Msghdr // the multishot recvmsg's header template (kernel copies it)
	ctlLen   int
	bufMem   []byte // the buffer ring's entries
	bufLocal uint16 // the buffer ring's tail not yet published
	bufMask  uint16
	bufData  []byte // the buffers themselves
	bufSize  int
	bufCount int
	raw      bool
}

// Options configure New.
type Options struct {
	Entries    uint32 // submission queue size (a power of two)
	CQEntries  uint32 // completion queue size (a power of two, ≥ Entries)
	Buffers    int    // provided buffers for receives (a power of two ≤ 32768)
	BufferSize int    // bytes each
	ControlLen int    // bytes of control messages each receive keeps (recvmsg)
	// Raw waits without telling the Go runtime (it keeps the thread's P); the caller
	// must know that it may.
	Raw bool
}

// ErrUnsupported says the kernel lacks what a Ring needs (or io_uring is disabled).
var ErrUnsupported = errors.New("uring: io_uring with single issuer, deferred task work and extended wait arguments is not available")

// Probe reports whether New can work here: nil, or why not (ErrUnsupported: no
// io_uring, a kernel before 6.1, or io_uring disabled by sysctl or seccomp).
func Probe() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := New(Options{Entries: 2, CQEntries: 4, Buffers: 2, BufferSize: 64})
	if err != nil {
		return err
	}
	return r.Close()
}

// New makes a ring owned by the calling thread, with provided buffers in group 0.
func New(o Options) (*Ring, error) {
	p := params{flags: setupCQSize | setupSubmitAll | setupSingleIssuer | setupDeferTaskrun, cqEntries: o.CQEntries}
	fd, _, e := syscall.Syscall(unix.SYS_IO_URING_SETUP, uintptr(o.Entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnsupported, e)
	}
	r := &Ring{fd: int(fd), raw: o.Raw}
	if p.features&featSingleMmap == 0 || p.features&featExtArg == 0 {
		unix.Close(r.fd)
		return nil, fmt.Errorf("%w: features %#x", ErrUnsupported, p.features)
	}
	if err := r.mapRings(&p); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.setupBuffers(o); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	size := max(sqSize, cqSize)
	mem, err := unix.Mmap(r.fd, offSQRing, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mapping the rings: %w", err)
	}
	r.sqMem = mem // the completion ring shares it (SINGLE_MMAP)
	sqes, err := unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mapping the submission entries: %w", err)
	}
	r.sqesMem = sqes
	r.sqHead = (*uint32)(unsafe.Pointer(&mem[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&mem[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&mem[p.sqOff.ringMask]))
	r.tail = atomic.LoadUint32(r.sqTail)
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&mem[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i) // entry i is always slot i
	}
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqes[0])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&mem[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&mem[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&mem[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&mem[p.cqOff.cqes])), p.cqEntries)
	return nil
}

type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

func (r *Ring) setupBuffers(o Options) error {
	n := o.Buffers
	if n <= 0 || n > maxBufferRingCount || n&(n-1) != 0 || o.BufferSize <= recvmsgOutSize+o.ControlLen {
		return fmt.Errorf("uring: %d buffers of %d bytes: want a power of two ≤ %d, each larger than its header", n, o.BufferSize, maxBufferRingCount)
	}
	mem, err := unix.Mmap(-1, 0, n*bufRingEntrySize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mapping the buffer ring: %w", err)
	}
	r.bufMem = mem
	data, err := unix.Mmap(-1, 0, n*o.BufferSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("uring: mapping the buffers: %w", err)
	}
	r.bufData, r.bufSize, r.bufCount = data, o.BufferSize, n
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: uint32(n)}
	if _, _, e := syscall.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0); e != 0 {
		return fmt.Errorf("%w: registering provided buffers: %v", ErrUnsupported, e)
	}
	r.bufMask = uint16(n - 1)
	for i := range n {
		r.Recycle(uint16(i))
	}
	r.publishBuffers()
	r.ctlLen = o.ControlLen
	r.msg.SetControllen(o.ControlLen)
	return nil
}

// Recycle gives buffer id back to the kernel (published at the next Enter).
func (r *Ring) Recycle(id uint16) {
	e := (*[bufRingEntrySize]byte)(r.bufMem[int(r.bufLocal&r.bufMask)*bufRingEntrySize:])
	*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&r.bufData[int(id)*r.bufSize])))
	*(*uint32)(unsafe.Pointer(&e[8])) = uint32(r.bufSize)
	*(*uint16)(unsafe.Pointer(&e[12])) = id
	r.bufLocal++
}

// publishBuffers tells the kernel of the recycled buffers. The ring's tail is the high
// half of the 32-bit word whose low half is the first entry's buffer id, which only this
// thread writes: one atomic store publishes it after the entries.
func (r *Ring) publishBuffers() {
	word := (*uint32)(unsafe.Pointer(&r.bufMem[12]))
	old := atomic.LoadUint32(word)
	if uint16(old>>16) != r.bufLocal {
		atomic.StoreUint32(word, old&0xffff|uint32(r.bufLocal)<<16)
	}
}

// Received is what a multishot recvmsg completion carries: the control messages the
// kernel kept and the payload.
func (r *Ring) Received(c CQE) (control, payload []byte, ok bool) {
	id, has := c.Buffer()
	if !has || c.Res < recvmsgOutSize || int(c.Res) > r.bufSize || int(id) >= r.bufCount {
		return nil, nil, false
	}
	b := r.bufData[int(id)*r.bufSize : int(id)*r.bufSize+int(c.Res)]
	ctl := int(*(*uint32)(unsafe.Pointer(&b[4])))
	pay := int(*(*uint32)(unsafe.Pointer(&b[8])))
	off := recvmsgOutSize + r.ctlLen
	if ctl > r.ctlLen || off+pay > len(b) {
		return nil, nil, false
	}
	return b[recvmsgOutSize : recvmsgOutSize+ctl], b[off : off+pay], true
}

// next returns a cleared submission entry, submitting what is prepared when the queue
// is full.
func (r *Ring) next() (*sqe, error) {
	if r.tail-atomic.LoadUint32(r.sqHead) >= uint32(len(r.sqes)) {
		if _, err := r.Enter(0, 0, false); err != nil {
			return nil, err
		}
		if r.tail-atomic.LoadUint32(r.sqHead) >= uint32(len(r.sqes)) {
			return nil, errors.New("uring: the submission queue stays full")
		}
	}
	s := &r.sqes[r.tail&r.sqMask]
	*s = sqe{}
	r.tail++
	r.pending++
	return s, nil
}

// Send prepares a send of b on fd (MSG_NOSIGNAL, MSG_WAITALL: a stream socket takes all
// of it or the send fails). b must stay untouched until its completion; with quiet, a
// complete send posts none.
func (r *Ring) Send(fd int, b []byte, userData uint64, quiet bool) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.len, s.opFlags, s.userData = opSend, int32(fd), uint32(len(b)), msgNoSignal|msgWaitAll, userData
	s.addr = uint64(uintptr(unsafe.Pointer(&b[0])))
	if quiet {
		s.flags = sqeCQESkipSuccess
	}
	return nil
}

// RecvMultishot prepares a multishot recvmsg on fd into the provided buffers: each
// completion carries one buffer (Received); one without More ends it.
func (r *Ring) RecvMultishot(fd int, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.len, s.userData = opRecvmsg, int32(fd), 1, userData
	s.addr = uint64(uintptr(unsafe.Pointer(&r.msg)))
	s.ioprio = recvMultishot
	s.flags = sqeBufferSelect
	return nil
}

// PollMultishot prepares a multishot poll of fd for events (POLLIN, …).
func (r *Ring) PollMultishot(fd int, events uint32, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.len, s.opFlags, s.userData = opPollAdd, int32(fd), pollAddMulti, events, userData
	return nil
}

// CancelFd prepares the cancellation of every request on fd.
func (r *Ring) CancelFd(fd int, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.opFlags, s.userData = opAsyncCancel, int32(fd), cancelFd|cancelAll, userData
	return nil
}

// Cancel prepares the cancellation of every request whose user data is target.
func (r *Ring) Cancel(target, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.addr, s.opFlags, s.userData = opAsyncCancel, -1, target, cancelAll, userData
	return nil
}

// Pending reports how many prepared entries the next Enter submits.
func (r *Ring) Pending() int { return r.pending }

// Enter submits what is prepared and, with wait, waits until at least minComplete
// completions are ready or the timeout passes (timeout ≤ 0 with wait: no limit). Without
// wait it only submits and runs the completions' deferred work. It returns the entries
// submitted; a timeout or a signal is no error.
func (r *Ring) Enter(minComplete uint32, timeout time.Duration, wait bool) (int, error) {
	r.publishBuffers()
	atomic.StoreUint32(r.sqTail, r.tail)
	submit := r.pending
	flags := uintptr(enterGetEvents | enterExtArg)
	r.arg.ts = 0
	if !wait {
		minComplete = 0
	} else if timeout > 0 {
		r.ts = unix.NsecToTimespec(int64(timeout))
		r.arg.ts = uint64(uintptr(unsafe.Pointer(&r.ts)))
	}
	var n uintptr
	var e syscall.Errno
	if r.raw {
		n, _, e = syscall.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(minComplete), flags, uintptr(unsafe.Pointer(&r.arg)), unsafe.Sizeof(r.arg))
	} else {
		n, _, e = syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(minComplete), flags, uintptr(unsafe.Pointer(&r.arg)), unsafe.Sizeof(r.arg))
	}
	switch e {
	case 0:
		// What was submitted is returned even when the wait then timed out.
		r.pending -= int(n)
		return int(n), nil
	case unix.ETIME, unix.EINTR, unix.EAGAIN, unix.EBUSY:
		// Nothing submitted: the wait timed out, a signal came, or the completion queue
		// is full (reap, then enter again).
		return 0, nil
	default:
		return 0, fmt.Errorf("uring: io_uring_enter: %w", e)
	}
}

// Completions calls fn for every completion ready, in order, and consumes them.
func (r *Ring) Completions(fn func(CQE)) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	for h := head; h != tail; h++ {
		fn(r.cqes[h&r.cqMask])
	}
	atomic.StoreUint32(r.cqHead, tail)
	return int(tail - head)
}

// Peek calls fn for every completion ready, in order, without consuming them.
func (r *Ring) Peek(fn func(CQE)) {
	tail := atomic.LoadUint32(r.cqTail)
	for h := atomic.LoadUint32(r.cqHead); h != tail; h++ {
		fn(r.cqes[h&r.cqMask])
	}
}

// Ready reports how many completions are waiting.
func (r *Ring) Ready() int { return int(atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)) }

// Close releases the ring (the kernel cancels what is in flight) and its memory.
func (r *Ring) Close() error {
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
	for _, m := range []*[]byte{&r.sqesMem, &r.sqMem, &r.bufMem, &r.bufData} {
		if *m != nil {
			_ = unix.Munmap(*m)
			*m = nil
		}
	}
	return nil
}
