//go:build linux

package uring

import (
	"bytes"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tcpPair returns the descriptors of both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (int, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fd := func(c net.Conn) int {
		f, err := c.(*net.TCPConn).File() // a blocking duplicate
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		t.Cleanup(func() { f.Close() })
		return int(f.Fd())
	}
	return fd(a), fd(b)
}

// waitStamping waits until reads on b carry the kernel's receive timestamp: the kernel
// turns stamping on a moment after the first socket asks (a deferred static key).
func waitStamping(t *testing.T, a, b int) {
	t.Helper()
	buf, ctl := make([]byte, 16), make([]byte, 64)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := unix.Write(a, []byte{0}); err != nil {
			t.Fatal(err)
		}
		_, oob, _, _, err := unix.Recvmsg(b, buf, ctl, 0)
		if err != nil {
			t.Fatal(err)
		}
		if oob > 0 {
			return
		}
	}
	t.Fatal("the kernel never stamped a read")
}

func newRing(t *testing.T, buffers int) *Ring {
	t.Helper()
	r, err := New(Options{Entries: 64, CQEntries: 256, Buffers: buffers, BufferSize: 256, ControlLen: 64})
	if err != nil {
		t.Fatalf("New: %v (Probe: %v; the tests need a kernel with io_uring)", err, Probe())
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestSendRecvStamped: sends submitted in one Enter arrive in order through a multishot
// recvmsg, each completion carrying a kernel receive timestamp; the buffers are recycled
// so many more messages than buffers pass; cancelling ends the receive without More.
func TestSendRecvStamped(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, b := tcpPair(t)
	if err := unix.SetsockoptInt(b, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	waitStamping(t, a, b)
	r := newRing(t, 4)
	if err := r.RecvMultishot(b, 7); err != nil {
		t.Fatal(err)
	}
	var want, got bytes.Buffer
	stamped, ended := 0, false
	msgs := make([][]byte, 64)
	for round := range 16 {
		for i := range 4 {
			m := []byte{byte(round), byte(i), 'x'}
			msgs[round*4+i] = m
			want.Write(m)
			if err := r.Send(a, m, 1, true); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Enter(0, 0, false); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Second); got.Len() < want.Len() && time.Now().Before(deadline); {
			if _, err := r.Enter(1, 10*time.Millisecond, true); err != nil {
				t.Fatal(err)
			}
			r.Completions(func(c CQE) {
				switch {
				case c.UserData == 1:
					t.Errorf("a quiet send that completed posted %+v", c)
				case c.Res == -int32(unix.ENOBUFS):
					if c.More() {
						t.Errorf("ENOBUFS with More")
					}
					if err := r.RecvMultishot(b, 7); err != nil {
						t.Fatal(err)
					}
				case c.Res < 0:
					t.Fatalf("receive: %v", syscall.Errno(-c.Res))
				default:
					ctl, pay, ok := r.Received(c)
					if !ok {
						t.Fatalf("completion %+v: not a received buffer", c)
					}
					if len(ctl) > 0 {
						stamped++
					}
					got.Write(pay)
					id, _ := c.Buffer()
					r.Recycle(id)
					if !c.More() {
						if err := r.RecvMultishot(b, 7); err != nil {
							t.Fatal(err)
						}
					}
				}
			})
		}
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("received %q, want %q", got.Bytes(), want.Bytes())
	}
	if stamped == 0 {
		t.Errorf("no receive carried a timestamp")
	}
	if err := r.CancelFd(b, 9); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); !ended && time.Now().Before(deadline); {
		if _, err := r.Enter(1, 10*time.Millisecond, true); err != nil {
			t.Fatal(err)
		}
		r.Completions(func(c CQE) {
			if c.UserData == 7 && !c.More() {
				ended = true
				if c.Res != -int32(unix.ECANCELED) {
					t.Errorf("the cancelled receive ended with %d, want ECANCELED", c.Res)
				}
			}
		})
	}
	if !ended {
		t.Fatal("the cancelled receive never ended")
	}
}

// TestEnterWaits: a wait ends at its timeout with nothing ready, at once for a
// completion it waits for (a multishot poll of an eventfd), and a receive does not end a
// wait for more completions than there are.
func TestEnterWaits(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newRing(t, 4)
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := r.PollMultishot(efd, unix.POLLIN, 3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := r.Enter(1, 20*time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 15*time.Millisecond || r.Ready() != 0 {
		t.Fatalf("a wait with nothing to wake it took %v with %d ready, want its 20ms timeout", took, r.Ready())
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}()
	start = time.Now()
	if _, err := r.Enter(1, 5*time.Second, true); err != nil {
		t.Fatal(err)
	}
	var polled bool
	r.Completions(func(c CQE) { polled = polled || c.UserData == 3 && c.More() && c.Res&unix.POLLIN != 0 })
	if took := time.Since(start); !polled || took > 2*time.Second {
		t.Fatalf("the eventfd's poll: %v after %v, want a completion soon after 5ms", polled, time.Since(start))
	}

	a, b := tcpPair(t)
	if err := r.RecvMultishot(b, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(a, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := r.Enter(1000, 30*time.Millisecond, true); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 25*time.Millisecond {
		t.Fatalf("a wait for 1000 completions ended after %v, want its 30ms timeout", took)
	}
	var got []byte
	r.Completions(func(c CQE) {
		if _, pay, ok := r.Received(c); ok {
			got = append(got, pay...)
		}
	})
	if string(got) != "hello" {
		t.Fatalf("received %q by the end of the wait, want hello", got)
	}
}

// TestOtherThreadRefused: a ring belongs to the thread that made it.
func TestOtherThreadRefused(t *testing.T) {
	made := make(chan *Ring)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := New(Options{Entries: 8, CQEntries: 16, Buffers: 4, BufferSize: 256})
		if err != nil {
			t.Error(err)
			close(made)
			return
		}
		made <- r
		<-release
		r.Close()
	}()
	r := <-made
	defer close(release)
	if r == nil {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := r.Enter(0, 0, false); err == nil {
		t.Fatal("Enter from another thread succeeded, want EEXIST")
	}
}

// TestNewRefusesBadBuffers: buffer counts that are not a power of two, or buffers too
// small for their header, are refused with an error, not a ring.
func TestNewRefusesBadBuffers(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := Probe(); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	for _, o := range []Options{
		{Entries: 8, CQEntries: 16, Buffers: 3, BufferSize: 256},
		{Entries: 8, CQEntries: 16, Buffers: 0, BufferSize: 256},
		{Entries: 8, CQEntries: 16, Buffers: 4, BufferSize: 64, ControlLen: 64},
	} {
		if r, err := New(o); err == nil {
			r.Close()
			t.Errorf("New(%+v) made a ring, want an error", o)
		}
	}
}
