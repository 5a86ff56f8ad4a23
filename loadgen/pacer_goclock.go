package loadgen

import (
	"math"
	"time"
)

// goClock is the pacer's fallback clock: Go's timers, woken early through a channel.
type goClock struct {
	base  time.Time
	wake  chan struct{}
	timer *time.Timer
}

func newGoClock(base time.Time) *goClock {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &goClock{base: base, wake: make(chan struct{}, 1), timer: t}
}

func (c *goClock) now() int64 { return int64(time.Since(c.base)) }

func (c *goClock) sleep(until int64) {
	if until == math.MaxInt64 {
		<-c.wake
		return
	}
	d := until - c.now()
	if d <= 0 {
		return
	}
	c.timer.Reset(time.Duration(d))
	select {
	case <-c.timer.C:
	case <-c.wake:
		c.timer.Stop()
	}
}

func (c *goClock) interrupt() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *goClock) close() { c.timer.Stop() }
