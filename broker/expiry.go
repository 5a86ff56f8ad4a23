package broker

import (
	mrand "math/rand/v2"
	"time"
)

// Defaults of the expiry goroutine (Config.ExpiryInterval and Config.WalkCost).
const (
	// DefaultSweepInterval is how often the reference mode removes expired memberships
	// while no request arrives (between requests it removes them as they fall due).
	DefaultSweepInterval = time.Second
	// DefaultWalkInterval is DMB 0.2.1's expiry period: a walk of the whole store every
	// 5 s, randomised as tornado's PeriodicCallback with jitter 0.1 does (each period is
	// drawn uniformly from 5 s × [0.95, 1.05], a window of 10 % around 5 s).
	DefaultWalkInterval = 5 * time.Second
	// DefaultWalkCost is the least time the compat walk takes per group: 450 ns, the
	// real server's cost (0.4–0.5 s for 1M groups), whatever the host's speed (see the
	// compatibility mode in the package documentation).
	DefaultWalkCost = 450 * time.Nanosecond
)

// expire is the expiry goroutine: the reference mode's idle sweep of due memberships, or
// the compat mode's periodic walk of the whole store, both under the processing lock.
func (s *Server) expire() {
	defer s.wg.Done()
	every := s.cfg.ExpiryInterval
	rng := mrand.New(mrand.NewPCG(s.cfg.Faults.Seed, 3))
	period := func() time.Duration {
		if !s.compat {
			return every
		}
		return time.Duration(float64(every) * (1 + 0.1*(rng.Float64()-0.5)))
	}
	due := time.Now().Add(period())
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.compat {
			s.walk()
		} else {
			s.store.expire(s.now().UnixNano())
		}
		s.mu.Unlock()
		// Like tornado, keep to the schedule and skip the periods a long walk overran.
		due = due.Add(period())
		for !due.After(time.Now()) {
			due = due.Add(period())
		}
		t.Reset(time.Until(due))
	}
}

// walk is 0.2.1's expiry: visit every group, then, holding the lock, sleep until the walk
// has taken at least WalkCost per group, so that a large store pauses the server as the
// real one does.
func (s *Server) walk() {
	start := time.Now()
	n := s.store.walk(s.now().UnixNano())
	if s.cfg.WalkCost <= 0 {
		return
	}
	if left := time.Duration(n)*s.cfg.WalkCost - time.Since(start); left > 0 {
		t := time.NewTimer(left)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
		}
	}
}
