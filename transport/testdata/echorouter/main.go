// Command echorouter is a ROUTER that sends every message back to its sender, on one of
// dmbench's transports. The transport benchmarks run it as a separate process so that
// the CPU time and memory they measure belong to one side only.
//
//	echorouter [-transport native|zmq4] [-addr tcp://127.0.0.1:0] [-fdlimit N]
//
// It prints the bound endpoint as stdout line 1, echoes until stdin closes or it gets
// SIGTERM or SIGINT, then prints one line:
//
//	echoed=N send_errors=E peers_max=P accepted=A disconnected=D unknown_peer=U cpu_user_us=U cpu_sys_us=S
//
// It is built by the benchmarks with `go build ./testdata/echorouter` (testdata keeps it
// out of ./... so that it is not part of the module's packages).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dmbench/dmbench/transport"
)

func main() {
	kindName := flag.String("transport", string(transport.Native), "ROUTER implementation: native or zmq4")
	addr := flag.String("addr", "tcp://127.0.0.1:0", "endpoint to bind")
	fdLimit := flag.Uint64("fdlimit", 0, "raise the open-file limit to this (0: leave it)")
	flag.Parse()
	if err := run(*kindName, *addr, *fdLimit); err != nil {
		fmt.Fprintf(os.Stderr, "echorouter: %v\n", err)
		os.Exit(1)
	}
}

func run(kindName, addr string, fdLimit uint64) error {
	kind, err := transport.ParseKind(kindName)
	if err != nil {
		return err
	}
	if fdLimit > 0 {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("reading the open-file limit: %w", err)
		}
		if lim.Cur < fdLimit {
			if lim.Max < fdLimit {
				return fmt.Errorf("open-file limit: %d wanted, hard limit is %d (raise it with ulimit -Hn as root)", fdLimit, lim.Max)
			}
			lim.Cur = fdLimit
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				return fmt.Errorf("raising the open-file limit to %d: %w", fdLimit, err)
			}
		}
	}
	r, err := transport.Listen(kind, addr, transport.ListenOptions{})
	if err != nil {
		return err
	}
	fmt.Println(r.Addr())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop <- syscall.SIGTERM
	}()

	var echoed, sendErrors atomic.Uint64
	var peersMax atomic.Int64
	done := make(chan error, 1)
	go func() {
		for {
			m, err := r.Recv()
			if err != nil {
				done <- err
				return
			}
			// A peer may leave between its request and the reply: count, go on.
			if err := r.Send(m); err != nil {
				sendErrors.Add(1)
				continue
			}
			echoed.Add(1)
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case <-stop:
			break loop
		case err := <-done:
			runErr = fmt.Errorf("echo loop: %w", err)
			break loop
		case <-tick.C:
			if p := int64(r.Stats().Peers); p > peersMax.Load() {
				peersMax.Store(p)
			}
		}
	}
	stats := r.Stats()
	r.Close()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("echoed=%d send_errors=%d peers_max=%d accepted=%d disconnected=%d unknown_peer=%d cpu_user_us=%d cpu_sys_us=%d\n",
		echoed.Load(), sendErrors.Load(), max(peersMax.Load(), int64(stats.Peers)), stats.Accepted,
		stats.Disconnected, stats.UnknownPeer, ru.Utime.Nano()/1000, ru.Stime.Nano()/1000)
	return runErr
}
