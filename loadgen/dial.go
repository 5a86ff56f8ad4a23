package loadgen

import (
	"context"
	"sync"
	"time"

	"github.com/dmbench/dmbench/transport"
)

// Limits of connecting: dials in flight at once, and the backoff between a client's
// attempts with Config.Reconnect.
const (
	maxDialsInFlight = 128
	reconnectMin     = 100 * time.Millisecond
	reconnectMax     = 5 * time.Second
)

// connectPaced starts the dial for each slot's position at start + seq/rate (seq is its
// place in the whole run's dial order, see dialSlots), with at most maxDialsInFlight
// dials at a time; an infinite rate dials them all at once. first is called once per
// slot when its first attempt is over; joined for each client that connects. It returns
// when every dial (with Config.Reconnect, every retry) has ended.
func (e *engine) connectPaced(ctx context.Context, rate float64, start int64, slots []dialSlot, first func(), joined func(*client)) {
	sem := make(chan struct{}, maxDialsInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for i, sl := range slots {
		p := sl.pos
		at := start + int64(float64(sl.seq)/rate*float64(time.Second))
		ready := true
		if d := at - e.now(); d > 0 {
			t.Reset(time.Duration(d))
			select {
			case <-t.C:
			case <-ctx.Done():
				ready = false
			}
		}
		if ready {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ready = false
			}
		}
		if !ready {
			for range slots[i:] {
				first()
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.connect(ctx, p, func() { <-sem; first() }, joined)
		}()
	}
}

// connect dials the client at position p, registers it and starts its receiver. first is
// called once, when the first attempt is over; joined is called with the client once it
// is connected. A failed dial is counted (unless ctx ended) and, with Config.Reconnect,
// retried with backoff until ctx ends.
func (e *engine) connect(ctx context.Context, p int, first func(), joined func(*client)) {
	firstOnce := sync.OnceFunc(first)
	defer firstOnce()
	backoff := reconnectMin
	for {
		c := newClient(e, p)
		opts := transport.DialOptions{OnEvent: c.onEvent, Reconnect: e.cfg.Reconnect, MaxFrameSize: e.cfg.MaxFrame, RecvBudget: e.budget}
		if il := e.loopFor(p / e.sh.shard.count()); il != nil { // a shard's clients spread over every loop
			c.onLoop, c.rb = true, &il.rb
			c.lh = loopHandler{c: c, il: il}
			opts.Loop, opts.Handler = il.l, &c.lh // in the client: a reply reads the client's lines
		}
		t0 := time.Now()
		d, err := e.dial(ctx, e.cfg.Addr, opts)
		if err == nil {
			e.conn.connected(time.Since(t0))
			c.d = d
			c.dialed.Store(true)
			c.isConn.Store(true)
			e.connected.Add(1)
			e.clientsMu.Lock()
			stale := p >= len(e.active) || e.active[p] != nil || e.stopping.Load()
			if !stale {
				e.active[p] = c
			}
			e.all = append(e.all, c)
			e.recvWG.Add(1)
			e.clientsMu.Unlock()
			if !c.onLoop {
				go c.receive()
			}
			firstOnce()
			if stale {
				c.retire()
				return
			}
			joined(c)
			return
		}
		if ctx.Err() != nil {
			return
		}
		e.conn.fail(err)
		firstOnce()
		if !e.cfg.Reconnect {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, reconnectMax)
	}
}
