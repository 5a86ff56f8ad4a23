package loadgen

import (
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// connTracker gathers the clients' connection figures: connect times, failures, and
// disconnects per one-second interval (by the event's time). Connection events are rare
// next to requests, so a mutex is fine here.
type connTracker struct {
	connects    atomic.Uint64 // successful connections, reconnections included
	failed      atomic.Uint64
	disconnects atomic.Uint64

	mu          sync.Mutex
	connectTime *hdrhistogram.Histogram
	perInterval map[int64]uint64 // disconnects by interval index, until the closer takes them
	last        error
}

// connected records a connection made by Dial in d.
func (t *connTracker) connected(d time.Duration) {
	t.connects.Add(1)
	t.mu.Lock()
	if t.connectTime == nil {
		t.connectTime = NewHistogram()
	}
	recordClamped(t.connectTime, int64(d/time.Microsecond))
	t.mu.Unlock()
}

// fail records a failed dial.
func (t *connTracker) fail(err error) {
	t.failed.Add(1)
	t.mu.Lock()
	t.last = err
	t.mu.Unlock()
}

// lastErr is the most recent dial error, for the error Run returns when nothing connected.
func (t *connTracker) lastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// disconnect records a lost connection at ns since the run's start.
func (t *connTracker) disconnect(at int64) {
	t.disconnects.Add(1)
	t.mu.Lock()
	if t.perInterval == nil {
		t.perInterval = make(map[int64]uint64)
	}
	t.perInterval[at/int64(intervalLen)]++
	t.mu.Unlock()
}

// takeUpTo forgets the disconnect counts of intervals up to k and returns the largest.
func (t *connTracker) takeUpTo(k int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var most uint64
	for i, n := range t.perInterval {
		if i <= k {
			most = max(most, n)
			delete(t.perInterval, i)
		}
	}
	return most
}

// stats returns the run's connection figures.
func (t *connTracker) stats(disconnectsMax uint64) ConnectionStats {
	t.mu.Lock()
	ct := t.connectTime
	t.mu.Unlock()
	if ct == nil {
		ct = NewHistogram()
	}
	return ConnectionStats{
		ConnectTime:    ct,
		Connected:      t.connects.Load(),
		ConnectFailed:  t.failed.Load(),
		Disconnects:    t.disconnects.Load(),
		DisconnectsMax: disconnectsMax,
	}
}
