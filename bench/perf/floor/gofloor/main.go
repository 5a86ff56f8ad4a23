//go:build linux

// Command gofloor is floor.c in Go (issue 15): the least CPU a Go client spends per
// request in a keepalive storm on this machine, for comparison with dmbench's. One locked
// OS thread with 1 ns timer slack, N ZMTP DEALER connections to the signalling port of a
// `dmbench serve` (PORT: serve's --port + 1), Poisson sends at RATE/s each, one HARTBEAT
// with ack per send (the bytes dmbench writes); the thread sleeps until the next send
// (epoll_pwait2 on an empty epoll instance, a raw system call, as dmbench's pacer waits),
// then reads the replies that came (epoll_wait(0), read) and sends what is due. It times,
// matches and records nothing.
//
//	go run ./bench/perf/floor/gofloor PORT CONNS RATE SECONDS
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: gofloor PORT CONNS RATE SECONDS")
		os.Exit(2)
	}
	port, _ := strconv.Atoi(os.Args[1])
	n, _ := strconv.Atoi(os.Args[2])
	rate, _ := strconv.ParseFloat(os.Args[3], 64)
	secs, _ := strconv.Atoi(os.Args[4])
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	ep, err := unix.EpollCreate1(0)
	check(err)
	empty, err := unix.EpollCreate1(0)
	check(err)
	ready := []byte{4, 28, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R'}
	msg := []byte{1, 0, 1, 16, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
		1, 8, 'H', 'A', 'R', 'T', 'B', 'E', 'A', 'T', 0, 6, 0x81, 0xa3, 0x61, 0x63, 0x6b, 0xc3}
	fds := make([]int, n)
	for i := range fds {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		check(err)
		check(unix.Connect(s, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
		check(unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
		g := make([]byte, 64)
		g[0], g[8], g[9], g[10], g[11] = 0xff, 1, 0x7f, 3, 1
		copy(g[12:], "NULL")
		_, err = unix.Write(s, append(g, ready...))
		check(err)
		in := make([]byte, 256)
		readFull(s, in[:66]) // greeting, READY's flags and size
		readFull(s, in[:in[65]])
		check(unix.SetNonblock(s, true))
		check(unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, s, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}))
		fds[i] = s
	}
	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) }
	rng := rand.New(rand.NewPCG(1, 2))
	next := now() + int64(100*time.Millisecond)
	end := next + int64(secs)*int64(time.Second)
	buf := make([]byte, 4096)
	evs := make([]unix.EpollEvent, 512)
	var sent, replies int
	c0 := cpuSeconds()
	for next < end {
		if d := next - now(); d > 0 {
			ts := unix.NsecToTimespec(d)
			syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(empty), uintptr(unsafe.Pointer(&evs[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0)
		}
		var zero unix.Timespec
		r, _, _ := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(ep), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(unsafe.Pointer(&zero)), 0, 0)
		for _, ev := range evs[:int(int32(r))] {
			if m, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fds[ev.Fd]), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf))); e == 0 && m > 0 {
				replies++
			}
		}
		for t := now(); next <= t && next < end; sent++ {
			syscall.RawSyscall(unix.SYS_WRITE, uintptr(fds[rng.IntN(n)]), uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)))
			next += int64(rng.ExpFloat64() / (rate * float64(n)) * 1e9)
		}
	}
	c := cpuSeconds() - c0
	fmt.Printf("go lazy: %d sent, %d reads with replies, CPU %.3f s, %.1f µs per request\n", sent, replies, c, c/float64(sent)*1e6)
}

func cpuSeconds() float64 {
	var r unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &r)
	return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)/1e6
}

func readFull(s int, b []byte) {
	for got := 0; got < len(b); {
		m, err := unix.Read(s, b[got:])
		if m <= 0 {
			fmt.Fprintln(os.Stderr, "handshake:", err)
			os.Exit(1)
		}
		got += m
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gofloor:", err)
		os.Exit(1)
	}
}
