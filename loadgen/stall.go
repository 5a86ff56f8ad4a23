package loadgen

import (
	"sync"
	"sync/atomic"
	"time"
)

// stallMonitor finds stalls: times of at least the threshold in which requests were
// outstanding and no message arrived (PROTOCOL.md: the 0.2.1 server can sit idle with
// requests outstanding for up to 72 s).
//
// Receivers keep the time of the latest message (engine.lastReply) and report a gap
// between two messages of at least the threshold (gapEnded); each client keeps the time
// its outstanding count last rose from zero. The monitor looks every threshold/4 (at most
// 100 ms) at the requests outstanding across clients. A stall starts at the later of the
// last message and the earliest time since which a client has been waiting without a
// break (both exact); it ends at the first message after it (exact), when nothing is
// outstanding any more (every request timed out; to within the tick), or at the end of
// the run. Outstanding is the most seen at the monitor's looks during the stall. While
// messages keep coming within the threshold no stall can start, and the monitor does
// not look at the clients at all, so its cost does not grow with their number.
type stallMonitor struct {
	e         *engine
	threshold int64

	mu      sync.Mutex
	gapPrev int64 // the last gap of at least the threshold between two messages
	gapEnd  int64

	// The monitor goroutine's own state; count mirrors it for other goroutines.
	count   atomic.Int64 // stalls found, the one in progress included
	stalled atomic.Bool
	inStall bool
	cur     stallRec
	stalls  []stallRec
}

type stallRec struct {
	start, end  int64
	lastSeen    int64 // lastReply when the stall was found
	outstanding int64
}

func newStallMonitor(e *engine) *stallMonitor {
	return &stallMonitor{e: e, threshold: int64(e.cfg.StallThreshold)}
}

// gapEnded is called by a receiver whose message is the first for now − prev ns.
func (m *stallMonitor) gapEnded(prev, now int64) {
	if now-prev < m.threshold {
		return
	}
	m.mu.Lock()
	m.gapPrev, m.gapEnd = prev, now
	m.mu.Unlock()
}

// run looks for stalls until stop is closed.
func (m *stallMonitor) run(stop <-chan struct{}) {
	tick := max(time.Millisecond, min(100*time.Millisecond, time.Duration(m.threshold)/4))
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			now, last := m.e.now(), m.e.lastReply.Load()
			if !m.inStall && now-last < m.threshold {
				// A message came within the threshold, so no stall can have started
				// (check would find none): skip the walk over every client.
				continue
			}
			out, since := m.e.busy()
			m.check(now, out, since, last)
		}
	}
}

// check is one look at the outstanding count, the time since which requests have been
// waiting, and the latest message time.
func (m *stallMonitor) check(now, out, since, last int64) {
	if m.inStall {
		switch {
		case last > m.cur.lastSeen:
			end := last
			m.mu.Lock()
			if m.gapPrev == m.cur.lastSeen && m.gapEnd > m.cur.start {
				end = m.gapEnd
			}
			m.mu.Unlock()
			m.endStall(end)
		case out == 0:
			m.endStall(now)
		default:
			m.cur.outstanding = max(m.cur.outstanding, out)
		}
	}
	if m.inStall {
		return
	}
	if out == 0 {
		return
	}
	from := max(last, since)
	if now-from >= m.threshold {
		m.inStall = true
		m.cur = stallRec{start: from, lastSeen: last, outstanding: out}
		m.count.Add(1)
		m.stalled.Store(true)
	}
}

func (m *stallMonitor) endStall(end int64) {
	m.stalled.Store(false)
	m.cur.end = end
	m.stalls = append(m.stalls, m.cur)
	m.inStall = false
}

// found returns the stalls found so far and whether one is in progress.
func (m *stallMonitor) found() (int, bool) {
	return int(m.count.Load()), m.stalled.Load()
}

// result returns the stalls found, closing one still in progress at end. Call it after
// run has returned.
func (m *stallMonitor) result(end int64) []Stall {
	ongoing := m.inStall
	if ongoing {
		m.endStall(end)
	}
	var out []Stall
	for _, s := range m.stalls {
		out = append(out, Stall{Start: m.e.at(s.start), End: m.e.at(s.end), Outstanding: s.outstanding})
	}
	if ongoing && len(out) > 0 {
		out[len(out)-1].UntilEnd = true
	}
	return out
}
