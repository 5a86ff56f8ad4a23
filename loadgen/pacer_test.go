package loadgen

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a pacer clock in which time moves only as the pacer looks at it: each now()
// advances by step (the cost of one look while spinning) and a sleep wakes overshoot after
// its target (the machine's wake-up latency).
type fakeClock struct {
	t, step, overshoot int64
	sleeps             []int64 // the targets the pacer slept until
	nows               int
	idle               func() // called when the pacer blocks with nothing scheduled
}

func (f *fakeClock) now() int64 { f.nows++; f.t += f.step; return f.t }
func (f *fakeClock) sleep(until int64) {
	if until == math.MaxInt64 {
		f.idle()
		return
	}
	f.sleeps = append(f.sleeps, until)
	f.t = max(f.t, until) + f.overshoot
}
func (f *fakeClock) interrupt() {}
func (f *fakeClock) close()     {}

// firing is what a test entry saw: when it fired, against when it was due.
type firing struct{ due, at int64 }

// runPacer runs a pacer with cfg over the fake clock until every entry due at the given
// times has fired, and returns the firings in order.
func runPacer(t *testing.T, cfg PacerConfig, clk *fakeClock, dues ...int64) (*pacer, []firing) {
	t.Helper()
	p := newPacer(cfg, clk, nil, nil)
	clk.idle = func() { close(p.stop) }
	var fired []firing
	for _, d := range dues {
		e := &timed{due: d}
		e.f = fireFunc(func(now int64) (int64, bool) {
			fired = append(fired, firing{e.due, now})
			return 0, false
		})
		p.add(e)
	}
	p.loop()
	if len(fired) != len(dues) {
		t.Fatalf("%d of %d entries fired", len(fired), len(dues))
	}
	return p, fired
}

const us = int64(time.Microsecond)

// TestPacerHybrid: the hybrid pacer sleeps until the spin window before each due time,
// spins only inside it, and fires each entry on time (within one look at the clock).
func TestPacerHybrid(t *testing.T) {
	clk := &fakeClock{step: 1 * us, overshoot: 80 * us}
	cfg := PacerConfig{Mode: PacerHybrid, SpinWindow: 200 * time.Microsecond, SpinBudget: 0.5}
	dues := []int64{1000 * us, 2000 * us, 3000 * us}
	p, fired := runPacer(t, cfg, clk, dues...)
	for i, f := range fired {
		if late := f.at - f.due; late < 0 || late > 2*us {
			t.Errorf("entry %d fired %d ns after its due time, want 0–2 µs", i, late)
		}
	}
	for i, s := range clk.sleeps {
		if want := dues[i] - 200*us; s != want {
			t.Errorf("sleep %d until %d µs, want %d µs (the due time less the spin window)", i, s/us, want/us)
		}
	}
	// Each wait spins from the wake (target + overshoot) to the due time: 120 µs, never
	// the whole gap between entries.
	if spun := p.spinNs.Load(); spun > 3*(120+3)*us || spun < 3*(120-3)*us {
		t.Errorf("spun %d µs in all, want about 3 × 120 µs: only inside the window", spun/us)
	}
}

// TestPacerSleep: the sleeping pacer never spins; each entry fires a wake-up latency late.
func TestPacerSleep(t *testing.T) {
	clk := &fakeClock{step: 1 * us, overshoot: 80 * us}
	p, fired := runPacer(t, PacerConfig{Mode: PacerSleep}, clk, 1000*us, 2000*us)
	if p.spinNs.Load() != 0 {
		t.Errorf("spun %d ns in sleep mode", p.spinNs.Load())
	}
	for i, f := range fired {
		if late := f.at - f.due; late < 80*us || late > 82*us {
			t.Errorf("entry %d fired %d µs late, want the 80 µs wake-up latency", i, late/us)
		}
	}
}

// TestPacerBatches: sends due closer together than the wake-up latency fire together
// after one wake-up, not one wake-up each.
func TestPacerBatches(t *testing.T) {
	clk := &fakeClock{step: 1 * us, overshoot: 80 * us}
	_, fired := runPacer(t, PacerConfig{Mode: PacerSleep}, clk, 1000*us, 1010*us, 1020*us, 1070*us)
	if len(clk.sleeps) != 1 {
		t.Errorf("%d sleeps (%v), want one: the four entries fall due within one wake-up", len(clk.sleeps), clk.sleeps)
	}
	for i, f := range fired {
		if f.at < f.due {
			t.Errorf("entry %d fired %d µs early", i, (f.due-f.at)/us)
		}
		if f.at > 1085*us {
			t.Errorf("entry %d fired at %d µs, want all in the wake-up at ~1080 µs", i, f.at/us)
		}
	}
}

// TestPacerSpinBudget: once the hybrid pacer has spun its budget within a second, it
// only sleeps until the next second.
func TestPacerSpinBudget(t *testing.T) {
	clk := &fakeClock{step: 1 * us, overshoot: 20 * us}
	cfg := PacerConfig{Mode: PacerHybrid, SpinWindow: 200 * time.Microsecond, SpinBudget: 0.001} // 1 ms a second
	var dues []int64
	for i := int64(1); i <= 1000; i++ { // every 500 µs for 0.5 s: each wait would spin 180 µs
		dues = append(dues, i*500*us)
	}
	p, _ := runPacer(t, cfg, clk, dues...)
	if got := p.budgetSpent.Load(); got != 1 {
		t.Errorf("budget ran out in %d windows, want 1", got)
	}
	// The budget, plus at most the one spin that crossed it.
	if spun := p.spinNs.Load(); spun > int64(time.Millisecond)+200*us {
		t.Errorf("spun %d µs in half a second, want at most the 1 ms budget", spun/us)
	}
	if n := len(clk.sleeps); n < 990 {
		t.Errorf("%d sleeps, want one per entry", n)
	}
}

// TestPacerSpinMode: the spinning pacer never sleeps and fires on time.
func TestPacerSpinMode(t *testing.T) {
	clk := &fakeClock{step: 1 * us, overshoot: 80 * us}
	_, fired := runPacer(t, PacerConfig{Mode: PacerSpin}, clk, 1000*us, 2000*us)
	if len(clk.sleeps) != 0 {
		t.Errorf("spin mode slept %d times", len(clk.sleeps))
	}
	for i, f := range fired {
		if late := f.at - f.due; late < 0 || late > 2*us {
			t.Errorf("entry %d fired %d ns late, want 0–2 µs", i, late)
		}
	}
}

// TestOnePacerPerRun: one timing thread however many clients send.
func TestOnePacerPerRun(t *testing.T) {
	for _, clients := range []int{1, 64} {
		var most atomic.Int64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					most.Store(max(most.Load(), pacersRunning.Load()))
				}
			}
		}()
		plan := Plan{Timeout: time.Second, Stages: []Stage{{Duration: 500 * time.Millisecond, Clients: clients, Open: &Open{Rate: 500}, Mix: heartbeat()}}}
		srv := &fakeServer{handle: echoHandler}
		res, err := run(context.Background(), Config{Plan: plan, Addr: "fake"}, srv.dial)
		close(stop)
		<-sampled
		if err != nil {
			t.Fatal(err)
		}
		if got := most.Load(); got != 1 {
			t.Errorf("%d clients: %d pacers running at most, want 1", clients, got)
		}
		if c := sumCounts(&res.Stages[0]); c.OK < 200 {
			t.Errorf("%d clients: %d OK, want the ~250 the schedule asked for", clients, c.OK)
		}
	}
}

// TestPacerDenseSleeps: a schedule denser than one send per two spin windows (here one
// every 100 µs, 10,000/s, against a 200 µs window) spins in its first second only, until
// the pacer has seen the density; from the next second it only sleeps, its budget unused.
func TestPacerDenseSleeps(t *testing.T) {
	clk := &fakeClock{step: 1 * us, overshoot: 20 * us}
	cfg := PacerConfig{Mode: PacerHybrid, SpinWindow: 200 * time.Microsecond, SpinBudget: 0.3}
	var dues []int64
	for i := int64(1); i <= 25000; i++ { // 2.5 s
		dues = append(dues, i*100*us)
	}
	p, fired := runPacer(t, cfg, clk, dues...)
	if got := p.budgetSpent.Load(); got != 1 {
		t.Errorf("the spin budget ran out in %d seconds, want only the first", got)
	}
	if spun := p.spinNs.Load(); spun > int64(300*time.Millisecond)+200*us {
		t.Errorf("spun %d ms in 2.5 s, want at most the first second's budget (300 ms)", spun/int64(time.Millisecond))
	}
	var lateAfter int64
	for _, f := range fired {
		if f.due > int64(1100*time.Millisecond) {
			lateAfter = max(lateAfter, f.at-f.due)
		}
	}
	if lateAfter > 40*us {
		t.Errorf("after the first second, sends fired up to %d µs late: want the sleep's overshoot (20 µs) and a look", lateAfter/us)
	}
}

// fakeIOClock is a fakeClock that watches an I/O loop: it keeps whether each sleep was
// lazy, and reports the loop's descriptor readable after none of them.
type fakeIOClock struct {
	fakeClock
	lazy    bool
	lazies  []bool // per sleep
	watched bool
}

func (f *fakeIOClock) sleep(until int64) {
	if until != math.MaxInt64 {
		f.lazies = append(f.lazies, f.lazy)
	}
	f.fakeClock.sleep(until)
}
func (f *fakeIOClock) watch(int, int, bool) bool { f.watched = true; return false }
func (f *fakeIOClock) setLazy(lazy bool)         { f.lazy = lazy }
func (f *fakeIOClock) pollIO(bool) bool          { return false }
func (f *fakeIOClock) attachRing(pacedIO) bool   { return false }

// fakeIO is a pacedIO that counts its polls.
type fakeIO struct {
	clk     *fakeIOClock
	stamped bool
	polls   []int64 // the clock's time at each Poll
	started bool
}

func (f *fakeIO) EventsFd() int                          { return -1 }
func (f *fakeIO) WakeFd() int                            { return -1 }
func (f *fakeIO) Stamped() bool                          { return f.stamped }
func (f *fakeIO) Start()                                 { f.started = true }
func (f *fakeIO) Poll() time.Time                        { f.polls = append(f.polls, f.clk.t); return time.Time{} }
func (f *fakeIO) AttachRing(int, bool) bool              { return false }
func (f *fakeIO) Sleep(time.Duration, bool) (bool, bool) { return false, false }
func (f *fakeIO) Flush()                                 {}

// TestPacerServesIO: a pacer serving an I/O loop whose replies carry kernel receive
// times sleeps lazily (not woken by replies) when it wakes again within lazyHorizon, and
// polls the loop after each such sleep; a longer sleep, or any without kernel times,
// wakes for replies and polls only when the loop has work. The loop gets a goroutine of
// its own when the pacer ends.
func TestPacerServesIO(t *testing.T) {
	dues := []int64{100 * us, 400 * us, 5000 * us, 5300 * us}
	for _, tc := range []struct {
		name       string
		stamped    bool
		wantLazies []bool
		wantPolls  int
	}{
		// Sleeps toward 100 µs, 400 µs (lazy: within 1 ms), 5 ms (prompt), 5.3 ms (lazy).
		{"kernel receive times", true, []bool{true, true, false, true}, 1 + 3},
		{"read times", false, []bool{false, false, false, false}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeIOClock{fakeClock: fakeClock{step: us, overshoot: 20 * us}}
			io := &fakeIO{clk: clk, stamped: tc.stamped}
			p := newPacer(PacerConfig{Mode: PacerSleep}, clk, nil, nil)
			if !p.withIO(io, time.Now(), false, false) || !clk.watched {
				t.Fatal("the pacer did not take the loop")
			}
			clk.idle = func() { close(p.stop) }
			fired := 0
			for _, d := range dues {
				p.add(&timed{due: d, f: fireFunc(func(int64) (int64, bool) { fired++; return 0, false })})
			}
			p.loop()
			if fired != len(dues) {
				t.Fatalf("%d of %d sends fired", fired, len(dues))
			}
			if len(clk.lazies) != len(tc.wantLazies) {
				t.Fatalf("%d sleeps (%v), want %d", len(clk.lazies), clk.lazies, len(tc.wantLazies))
			}
			for i, want := range tc.wantLazies {
				if clk.lazies[i] != want {
					t.Errorf("sleep %d toward %v: lazy %v, want %v", i, time.Duration(dues[i]), clk.lazies[i], want)
				}
			}
			// The first poll is at the start (the loop's own time, 0); then one after each lazy sleep.
			if len(io.polls) != tc.wantPolls {
				t.Errorf("%d polls at %v, want %d", len(io.polls), io.polls, tc.wantPolls)
			}
			if !io.started {
				t.Error("the loop was not handed a goroutine when the pacer ended")
			}
		})
	}
}
