package loadgen

import (
	"maps"
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

	mu           sync.Mutex
	connectTime  *hdrhistogram.Histogram
	perInterval  map[int64]uint64 // disconnects by interval index, until the closer takes them
	last         error
	lostBy       map[string]uint64 // disconnects by cause
	failedBy     map[string]uint64 // failed connection attempts by cause
	atEnd, ofEnd int               // connected clients when the stages ended, of the last stage's clients
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

// fail records a failed connection attempt: a dial, or a reconnection.
func (t *connTracker) fail(err error) {
	t.failed.Add(1)
	t.mu.Lock()
	t.last = err
	t.failedBy = addCause(t.failedBy, err)
	t.mu.Unlock()
}

func addCause(m map[string]uint64, err error) map[string]uint64 {
	if m == nil {
		m = make(map[string]uint64)
	}
	m[causeOf(err)]++
	return m
}

// stagesEnded records how many of the last stage's clients were connected as the
// stages ended.
func (t *connTracker) stagesEnded(connected, clients int) {
	t.mu.Lock()
	t.atEnd, t.ofEnd = connected, clients
	t.mu.Unlock()
}

// lastErr is the most recent dial error, for the error Run returns when nothing connected.
func (t *connTracker) lastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// disconnect records a connection lost for err at ns since the run's start.
func (t *connTracker) disconnect(at int64, err error) {
	t.disconnects.Add(1)
	t.mu.Lock()
	t.lostBy = addCause(t.lostBy, err)
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
	defer t.mu.Unlock()
	ct := t.connectTime
	if ct == nil {
		ct = NewHistogram()
	}
	return ConnectionStats{
		ConnectTime:       ct,
		Connected:         t.connects.Load(),
		ConnectFailed:     t.failed.Load(),
		Disconnects:       t.disconnects.Load(),
		DisconnectsMax:    disconnectsMax,
		DisconnectCauses:  maps.Clone(t.lostBy),
		ConnectFailCauses: maps.Clone(t.failedBy),
		ConnectedAtEnd:    t.atEnd,
		ClientsAtEnd:      t.ofEnd,
	}
}
