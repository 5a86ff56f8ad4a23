package loadgen

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmbench/dmbench/internal/minheap"
)

// PacerMode is how the pacer waits for the next due send.
type PacerMode string

// The pacer's idle strategies.
const (
	// PacerHybrid sleeps on a high-resolution timer until SpinWindow before the next due
	// send and spins the rest, within SpinBudget, and only sleeps in a second that
	// follows one with more sends than one per two spin windows. The default.
	PacerHybrid PacerMode = "hybrid"
	// PacerSleep only sleeps: no spinning, so each send is late by the machine's wake-up
	// latency (tens of µs with Linux's high-resolution timer, ~1 ms with Go's timers).
	PacerSleep PacerMode = "sleep"
	// PacerSpin spins always: the most exact, at the cost of one core the broker under
	// test cannot use.
	PacerSpin PacerMode = "spin"
)

// PacerModes lists the idle strategies, the default first.
var PacerModes = []PacerMode{PacerHybrid, PacerSleep, PacerSpin}

// ParsePacerMode returns the mode named s, or an error that lists the valid names.
func ParsePacerMode(s string) (PacerMode, error) {
	for _, m := range PacerModes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("pacer %q: unknown (use %s, %s or %s)", s, PacerHybrid, PacerSleep, PacerSpin)
}

// Pacer defaults.
const (
	// DefaultSpinWindow is how long before a due send the hybrid pacer stops sleeping and
	// spins: above this machine's timer wake-up latency (p99 ~140 µs on a 2-core VM), so
	// that a sleep rarely overshoots the due time.
	DefaultSpinWindow = 200 * time.Microsecond
	// DefaultSpinBudget is the share of one core the hybrid pacer may spend spinning; once
	// it is spent within a second, it only sleeps until the next second.
	DefaultSpinBudget = 0.3
)

// PacerConfig configures the pacer; the zero value is the default (hybrid, 200 µs, 0.3
// core).
type PacerConfig struct {
	Mode       PacerMode
	SpinWindow time.Duration
	SpinBudget float64 // cores (0–1]
}

func (c PacerConfig) withDefaults() PacerConfig {
	if c.Mode == "" {
		c.Mode = PacerHybrid
	}
	if c.SpinWindow <= 0 {
		c.SpinWindow = DefaultSpinWindow
	}
	if c.SpinBudget <= 0 {
		c.SpinBudget = DefaultSpinBudget
	}
	return c
}

// PacerStats are the pacer's figures for a run.
type PacerStats struct {
	Mode        PacerMode
	SpinWindow  time.Duration
	SpinBudget  float64
	SpinSeconds float64 // time spent spinning
	Wakes       uint64  // sleeps that ended
	BudgetSpent uint64  // seconds in which the spin budget ran out
	KeepsP      bool    // it served the I/O loop and kept its P while it waited
}

// pacerClock is the pacer's view of time: the run's clock in ns, a sleep until an
// absolute time that another goroutine can cut short, and whether sleeping is exact to
// the spin window (false for Go's timers, which round waits up to a millisecond).
type pacerClock interface {
	now() int64
	// sleep blocks until the clock reaches until (or a little after: the wake-up latency)
	// or interrupt is called, whichever is first.
	sleep(until int64)
	interrupt()
	close()
}

// timed is an entry of the pacer's schedule: f is fired on the pacer's thread at or after
// due and returns the entry's next due time, or false when it is done.
type timed struct {
	due int64
	f   firer
	// cancel, if set, is called on the pacer's thread when the entry is dropped unfired
	// (the run stopped sending).
	cancel func()
}

// firer is what a schedule entry does when it falls due. An interface rather than a
// closure, so that an entry embedded in its firer (openSender) is fired from the cache
// lines the entry is on.
type firer interface {
	fire(now int64) (next int64, again bool)
}

// fireFunc is a function as a firer.
type fireFunc func(now int64) (next int64, again bool)

func (f fireFunc) fire(now int64) (int64, bool) { return f(now) }

// pacer is the one timing thread of a run: it owns every due time (open-loop sends,
// closed-loop think times), waits for the earliest with its idle strategy and fires it.
// Entries are added from any goroutine (add); the schedule itself is touched only by the
// pacer's goroutine.
type pacer struct {
	cfg PacerConfig
	clk pacerClock

	mu      sync.Mutex
	pending []*timed // added since the pacer last looked
	stopped bool

	stop chan struct{}   // closed to end the pacer
	drop <-chan struct{} // closed when the run stops sending: every entry is dropped
	done chan struct{}

	// h is the schedule, by due time (kept inline, so that ordering it reads one array:
	// on this VM a cache line read cold costs 0.1–0.4 µs, and every line touched per send counts).
	h minheap.Heap[*timed]

	// budget accounting: spin ns spent in the current one-second budget window
	windowStart, windowSpin int64
	windowSpent             bool
	// windowFires counts the entries fired in the current window; denseSecond says the last
	// window fired more than one per two spin windows (denseSecond): the hybrid pacer
	// then only sleeps.
	windowFires        int64
	denseSecond        bool
	spinNs             atomic.Int64
	wakes, budgetSpent atomic.Uint64

	// onIdle is called before the pacer sleeps (the latest time it will wake) or blocks
	// with nothing scheduled (math.MaxInt64): the engine hands its batch of events on.
	onIdle func(until int64)

	// io, if set, is an I/O loop the pacer's thread serves between sends (serveIO):
	// whenever the clock finds its descriptor readable, at ioNext (ns since the run's
	// start; math.MaxInt64: only when readable), and after every lazy sleep. ioc is the
	// clock that watches it. With ioLazy (the loop's messages carry the kernel's receive
	// times, so reading them later does not time them later) a sleep shorter than
	// lazyHorizon does not end for a reply: the replies are read when it ends.
	io       pacedIO
	ioc      ioClock
	ioBase   time.Time
	ioNext   int64
	ioLazy   bool
	lastLazy bool
	ioServed int64 // when serveIO last served the loop
	keepsP   bool  // the clock waits holding the P (PacerStats.KeepsP)
	useRing  bool  // move the loop onto an io_uring of the pacer's thread (withIO)
	ioRing   atomic.Bool
}

// lazyHorizon is the longest sleep in which a pacer that serves an I/O loop with kernel
// receive times leaves replies in the kernel: at most this long, and a reply costs no
// wake-up of its own.
const lazyHorizon = time.Millisecond

// pacedIO is an I/O loop run by hand (a Manual transport.Loop): its descriptors are
// readable when it has work; Poll does it without waiting and says when to call again
// (zero: only when readable).
type pacedIO interface {
	EventsFd() int
	WakeFd() int
	Poll() time.Time
	Stamped() bool
	Start() // the pacer stopped: the loop runs on a goroutine of its own from now on
	// AttachRing, Sleep and Flush: see transport.Loop.
	AttachRing(watch int, keepP bool) bool
	Sleep(d time.Duration, prompt bool) (watched, ready bool)
	Flush()
}

// ioClock is a pacer clock that can also wake for an I/O loop's descriptors (hrClock).
type ioClock interface {
	// watch makes sleeps end for the loop's events (or, lazy, its wake descriptor); with
	// keepP the clock waits in a raw system call where it can, and reports whether so.
	watch(events, wake int, keepP bool) bool
	setLazy(bool)
	// pollIO reports whether the loop's descriptor was found readable in the last sleep
	// or, with check, is readable now.
	pollIO(check bool) bool
	// attachRing makes io's ring the clock's way to sleep, if io can have one (on the
	// pacer's thread, which owns it from then on); it reports whether so.
	attachRing(io pacedIO) bool
}

// withIO makes the pacer serve io, if its clock can watch it; it reports whether so.
// keepP is Config.PacerKeepsP; ring moves the loop onto an io_uring of the pacer's
// thread when it starts, if the kernel allows. Call it before start.
func (p *pacer) withIO(io pacedIO, base time.Time, keepP, ring bool) bool {
	ioc, ok := p.clk.(ioClock)
	if !ok {
		return false
	}
	p.keepsP = ioc.watch(io.EventsFd(), io.WakeFd(), keepP)
	p.io, p.ioc, p.ioBase, p.ioNext, p.ioLazy, p.useRing = io, ioc, base, 0, io.Stamped(), ring
	return true
}

// serveIO hands the pacer's thread to its I/O loop if it has work: its descriptor was
// readable (or, with check, is now), the time it asked for has come, the last sleep left
// its replies in the kernel, or it was last served lazyHorizon ago (a pacer that spins or
// never sleeps). It reports whether it served it.
func (p *pacer) serveIO(now int64, check bool) bool {
	if p.io == nil {
		return false
	}
	if !p.lastLazy && now < p.ioNext && now-p.ioServed < int64(lazyHorizon) && !p.ioc.pollIO(check) {
		return false
	}
	p.lastLazy = false
	p.ioServed = now
	p.ioNext = math.MaxInt64
	if t := p.io.Poll(); !t.IsZero() {
		p.ioNext = int64(t.Sub(p.ioBase))
	}
	return true
}

// ioUntil is until, or the I/O loop's time if that comes first; it also picks how the
// clock sleeps until then.
func (p *pacer) ioUntil(until, now int64) int64 {
	if p.io == nil {
		return until
	}
	until = min(until, p.ioNext)
	lazy := p.ioLazy && until-now <= int64(lazyHorizon)
	p.ioc.setLazy(lazy)
	p.lastLazy = lazy
	return until
}

// pacersRunning counts running pacers, so that a test can see there is one per run
// whatever the number of clients.
var pacersRunning atomic.Int64

func newPacer(cfg PacerConfig, clk pacerClock, drop <-chan struct{}, onIdle func(int64)) *pacer {
	p := &pacer{cfg: cfg.withDefaults(), clk: clk, stop: make(chan struct{}), drop: drop, done: make(chan struct{}), onIdle: onIdle, ioNext: math.MaxInt64}
	if p.onIdle == nil {
		p.onIdle = func(int64) {}
	}
	return p
}

// start runs the pacer's loop on a goroutine of its own (locked to an OS thread by the
// clock where it needs one).
func (p *pacer) start(run func(loop func())) {
	pacersRunning.Add(1)
	go func() {
		defer close(p.done)
		defer pacersRunning.Add(-1)
		run(p.loop)
	}()
}

// add schedules t; it may be called from any goroutine.
func (p *pacer) add(t *timed) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		if t.cancel != nil {
			t.cancel()
		}
		return
	}
	p.pending = append(p.pending, t)
	p.mu.Unlock()
	p.clk.interrupt()
}

// shutdown ends the pacer and waits for it; entries not yet fired are dropped.
func (p *pacer) shutdown() {
	p.mu.Lock()
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.mu.Unlock()
	p.clk.interrupt()
	<-p.done
	p.clk.close()
}

// takePending moves what was added into the schedule.
func (p *pacer) takePending() {
	p.mu.Lock()
	add := p.pending
	p.pending = nil
	stopped := p.stopped
	p.mu.Unlock()
	if stopped {
		for _, t := range add {
			if t.cancel != nil {
				t.cancel()
			}
		}
		return
	}
	for _, t := range add {
		p.h.Push(t.due, t)
	}
}

// loop is the pacer: fire everything due, then wait for the next due time.
func (p *pacer) loop() {
	defer p.onIdle(math.MaxInt64)
	if p.io != nil {
		if p.useRing && p.ioc.attachRing(p.io) {
			p.ioRing.Store(true)
		}
		defer p.io.Start() // on this thread: it gives the ring's traffic back
	}
	for {
		select {
		case <-p.stop:
			p.dropAll()
			return
		case <-p.drop:
			p.dropAll()
			return
		default:
		}
		p.takePending()
		now := p.clk.now()
		if p.serveIO(now, false) {
			now = p.clk.now()
		}
		// Fire everything due: one wake-up sends every request that fell due meanwhile.
		for len(p.h) > 0 && p.h[0].At <= now {
			p.windowFires++
			t := p.h[0].V
			next, again := t.f.fire(now)
			if again {
				t.due = next
				p.h.FixRoot(next)
			} else {
				p.h.PopRoot()
			}
			now = p.clk.now()
		}
		if len(p.h) == 0 {
			p.onIdle(math.MaxInt64)
			p.clk.sleep(p.ioUntil(math.MaxInt64, now))
			continue
		}
		p.wait(p.h[0].At, now) // a sleep ends by the I/O loop's time if that comes first (ioUntil)
	}
}

// wait waits for due with the idle strategy: it returns at or after due, or earlier when
// something was added (the loop then looks again).
func (p *pacer) wait(due, now int64) {
	window := int64(p.cfg.SpinWindow)
	switch {
	case p.cfg.Mode == PacerSpin:
		p.onIdle(due)
		p.spin(due)
	case p.cfg.Mode == PacerSleep || !p.spinAllowed(now):
		p.sleep(due)
	case due-now > window:
		p.sleep(due - window)
	default:
		p.onIdle(due)
		p.spin(due)
	}
}

func (p *pacer) sleep(until int64) {
	p.onIdle(until)
	until = p.ioUntil(until, p.clk.now())
	p.clk.sleep(until)
	if p.io != nil && !p.lastLazy {
		p.ioServed = until // a sleep that would have ended for the loop's events watched it
	}
	p.wakes.Add(1)
}

// spin busy-waits until due, or until something is added or the spin budget runs out.
func (p *pacer) spin(due int64) {
	if p.io != nil {
		p.io.Flush() // the sends just made go out now, not at the next sleep
	}
	start := p.clk.now()
	now := start
	for now < due {
		if p.hasPending() || p.cfg.Mode != PacerSpin && !p.spinAllowed(now) {
			break
		}
		// Without kernel receive times a reply waits no longer than one turn of the spin;
		// with them, no longer than lazyHorizon.
		if p.serveIO(now, !p.ioLazy) {
			start = p.clk.now() // serving I/O is not spinning
		}
		now = p.clk.now()
		p.charge(now - start)
		start = now
	}
}

func (p *pacer) hasPending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) > 0 || p.stopped {
		return true
	}
	select {
	case <-p.drop:
		return true
	default:
		return false
	}
}

// charge counts d ns of spinning against the budget.
func (p *pacer) charge(d int64) {
	p.windowSpin += d
	p.spinNs.Add(d)
}

// spinAllowed reports whether the hybrid pacer may still spin in the current one-second
// window, starting a new window when the last one is over.
func (p *pacer) spinAllowed(now int64) bool {
	if now-p.windowStart >= int64(time.Second) {
		// A schedule denser than one send per two spin windows would have the pacer spin
		// all the time, its budget gone early in every second, while a sleep's wake-up
		// finds the next send due anyway: such a second only sleeps.
		p.denseSecond = p.windowFires > int64(time.Second)/(2*int64(p.cfg.SpinWindow))
		p.windowStart, p.windowSpin, p.windowSpent, p.windowFires = now, 0, false, 0
	}
	if p.denseSecond {
		return false
	}
	if float64(p.windowSpin) < p.cfg.SpinBudget*float64(time.Second) {
		return true
	}
	if !p.windowSpent {
		p.windowSpent = true
		p.budgetSpent.Add(1)
	}
	return false
}

// denseGap: when another entry falls due within this of now, the pacer is in a burst
// (a high rate, or a backlog), and a send should be queued for its connection's writer,
// which batches, rather than written on the pacer's thread.
const denseGap = 50 * time.Microsecond

// dense reports whether an entry other than the one firing (the heap's root) falls due
// within denseGap of now. Called from fire, on the pacer's thread.
func (p *pacer) dense(now int64) bool {
	limit := now + int64(denseGap)
	for i := 1; i <= 2 && i < len(p.h); i++ {
		if p.h[i].At <= limit {
			return true
		}
	}
	return false
}

// dropAll cancels every entry not fired, and refuses later ones.
func (p *pacer) dropAll() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.takePending()
	for _, en := range p.h {
		if en.V.cancel != nil {
			en.V.cancel()
		}
	}
	p.h = nil
}

// stats returns the pacer's figures.
func (p *pacer) stats() PacerStats {
	return PacerStats{
		Mode:        p.cfg.Mode,
		SpinWindow:  p.cfg.SpinWindow,
		SpinBudget:  p.cfg.SpinBudget,
		SpinSeconds: float64(p.spinNs.Load()) / 1e9,
		Wakes:       p.wakes.Load(),
		BudgetSpent: p.budgetSpent.Load(),
		KeepsP:      p.keepsP,
	}
}
