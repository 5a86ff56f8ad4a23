package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interrupts turns SIGINT and SIGTERM into a run's stop. The first ends ctx: sending stops
// and the run waits a short time for the replies still outstanding. The second closes
// abandon: the wait ends at once and what is outstanding is abandoned. From then on the
// signals have their default effect, so a third one ends the process.
type interrupts struct {
	ctx     context.Context
	abandon chan struct{}

	cancel context.CancelFunc
	ch     chan os.Signal
	done   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	first  os.Signal
	notice string // what the first signal prints, set by the run as it learns its drain
}

// watchInterrupts starts watching for SIGINT and SIGTERM, saying on stderr what each does.
func watchInterrupts(stderr io.Writer) *interrupts {
	ctx, cancel := context.WithCancel(context.Background())
	in := &interrupts{
		ctx: ctx, cancel: cancel,
		abandon: make(chan struct{}),
		ch:      make(chan os.Signal, 2),
		done:    make(chan struct{}),
		notice:  "sending stopped; writing the results gathered so far",
	}
	signal.Notify(in.ch, os.Interrupt, syscall.SIGTERM)
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		for n := 0; n < 2; n++ {
			select {
			case sig := <-in.ch:
				in.mu.Lock()
				if n == 0 {
					in.first = sig
					fmt.Fprintf(stderr, "\ndmbench: %s: %s (%s to stop waiting)\n", signalName(sig), in.notice, againHint(sig))
					in.mu.Unlock()
					cancel()
					continue
				}
				in.mu.Unlock()
				fmt.Fprintf(stderr, "\ndmbench: %s again: no more waiting; the requests still outstanding are abandoned and the results written\n", signalName(sig))
				close(in.abandon)
				signal.Stop(in.ch)
				return
			case <-in.done:
				return
			}
		}
	}()
	return in
}

// setNotice sets what the first signal says it does.
func (in *interrupts) setNotice(s string) {
	in.mu.Lock()
	in.notice = s
	in.mu.Unlock()
}

// reason names the first signal for interrupt_reason, "" when none came.
func (in *interrupts) reason() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.first == nil {
		return ""
	}
	return signalName(in.first)
}

// stop stops watching.
func (in *interrupts) stop() {
	signal.Stop(in.ch)
	close(in.done)
	in.wg.Wait()
	in.cancel()
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// againHint says how to send sig a second time.
func againHint(sig os.Signal) string {
	if sig == os.Interrupt {
		return "Ctrl-C again"
	}
	return "send " + signalName(sig) + " again"
}
