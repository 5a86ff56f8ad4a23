package loadgen

import (
	"fmt"
	"runtime"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The generator watches itself. Its figures are true only if it sent each request close
// to its intended time; when it could not, the result is marked generator-bound with the
// reasons in plain words. The limits:
const (
	// BoundAchievedRatio: an open loop that sent less than this share of the requests its
	// schedule asked for could not keep up. Sends the transport refused for want of a
	// connection count as sent: the generator was on time and the server was gone, which
	// the connection figures report.
	BoundAchievedRatio = 0.95
	// BoundCPU: a process that used at least this share of its GOMAXPROCS cores over the
	// run had no CPU to spare (an embedded broker counts: it shares the process).
	BoundCPU = 0.90
	// BoundGCPause: a garbage-collection pause this long stopped every sender.
	BoundGCPause = 20 * time.Millisecond
	// BoundSendDelay and BoundSendDelayShare: requests left late when the p99 send delay
	// is above BoundSendDelay and above BoundSendDelayShare of the corrected p99, so that
	// the tail largely measures the generator. The floor is above Go's timer slack on a
	// busy machine (a 5 ms sleep overshoots by up to ~10 ms at p99 on 2 shared cores),
	// which delays a request without the generator being unable to keep up.
	BoundSendDelay      = 5 * time.Millisecond
	BoundSendDelayShare = 0.25
	// BoundSchedWait: when the process's threads waited on average this long for a CPU
	// each time they became runnable (Linux: /proc/self/task/*/schedstat), other
	// processes were starving the generator, and every send and receive took that wait.
	BoundSchedWait = time.Millisecond
	// PacerMissFactor: a p99 send delay above this many spin windows is noted: the pacer
	// did not hold its window (a note, not generator-bound, unless the send-delay rule
	// above also holds).
	PacerMissFactor = 2
)

// cpuWatch takes the process's CPU figures at the start of a run.
type cpuWatch struct {
	cpu     float64
	cpuOK   bool
	wait    time.Duration
	runs    uint64
	schedOK bool
}

func newCPUWatch() cpuWatch {
	var w cpuWatch
	w.cpu, w.cpuOK = cpuTime()
	w.wait, w.runs, w.schedOK = schedWait()
	return w
}

// gcWatch follows the Go runtime's GC pauses from runtime.MemStats. It is sampled about
// once a second, so pauses are missed only beyond 256 collections in a second.
type gcWatch struct {
	ms         runtime.MemStats
	startTotal uint64
	lastNum    uint32
	total, max time.Duration
}

func newGCWatch() *gcWatch {
	w := &gcWatch{}
	runtime.ReadMemStats(&w.ms)
	w.startTotal, w.lastNum = w.ms.PauseTotalNs, w.ms.NumGC
	return w
}

// sample reads the pauses since the last sample. Not safe for concurrent use.
func (w *gcWatch) sample() {
	runtime.ReadMemStats(&w.ms)
	n := w.ms.NumGC
	from := w.lastNum + 1
	if n >= 256 && from < n-255 {
		from = n - 255
	}
	for i := from; i <= n && i > 0; i++ {
		w.max = max(w.max, time.Duration(w.ms.PauseNs[(i+255)%256]))
	}
	w.lastNum = n
	w.total = time.Duration(w.ms.PauseTotalNs - w.startTotal)
}

// selfWatch fills res.Generator from the figures at the start of the run (w0, gc) and
// now.
func (e *engine) selfWatch(res *Result, w0 cpuWatch, gc *gcWatch) {
	g := &res.Generator
	g.GOMAXPROCS = runtime.GOMAXPROCS(0)
	cpu1, cpuOK := cpuTime()
	cpuOK = cpuOK && w0.cpuOK
	cpu := cpu1 - w0.cpu
	g.CPUSeconds = cpu
	g.GCPauseTotal, g.GCPauseMax = gc.total, gc.max
	g.AchievedRatio = 1
	scheduled, sent := e.scheduled.Load(), e.openSent.Load()
	if scheduled > 0 {
		g.AchievedRatio = float64(sent) / float64(scheduled)
	}
	delay := mergedOver(res, func(c *CommandResult) *hdrhistogram.Histogram { return c.SendDelay })
	corrected := mergedOver(res, func(c *CommandResult) *hdrhistogram.Histogram { return c.Corrected })
	var correctedP99 time.Duration
	if delay.TotalCount() > 0 {
		g.SendDelayP99 = time.Duration(delay.ValueAtQuantile(99)) * time.Microsecond
	}
	if corrected.TotalCount() > 0 {
		correctedP99 = time.Duration(corrected.ValueAtQuantile(99)) * time.Microsecond
	}

	if scheduled > 0 && g.AchievedRatio < BoundAchievedRatio {
		g.Reasons = append(g.Reasons, fmt.Sprintf(
			"the generator sent only %.0f%% of the %d requests its schedule asked for: it could not keep up with the rate, so the rate reported is the generator's limit, not the server's",
			100*g.AchievedRatio, scheduled))
	}
	if g.SendDelayP99 > BoundSendDelay && float64(g.SendDelayP99) > BoundSendDelayShare*float64(correctedP99) {
		g.Reasons = append(g.Reasons, fmt.Sprintf(
			"requests left the generator late: p99 send delay %v against a corrected p99 of %v, so the latency tail partly measures the generator, not the server",
			g.SendDelayP99.Round(time.Microsecond), correctedP99.Round(time.Microsecond)))
	}
	if wall := res.End.Sub(res.Start).Seconds(); cpuOK && wall > 0 {
		if share := cpu / (wall * float64(g.GOMAXPROCS)); share >= BoundCPU {
			g.Reasons = append(g.Reasons, fmt.Sprintf(
				"the process used %.0f%% of its %d CPU cores over the run (user + system, an embedded broker included): the generator had no CPU to spare",
				100*share, g.GOMAXPROCS))
		}
	}
	if wait1, runs1, ok := schedWait(); ok && w0.schedOK && runs1 > w0.runs {
		if avg := (wait1 - w0.wait) / time.Duration(runs1-w0.runs); avg > BoundSchedWait {
			g.Reasons = append(g.Reasons, fmt.Sprintf(
				"the machine starved the generator of CPU: its threads waited on average %v for a CPU each time they woke (other processes were using the cores), and every send and receive took that wait",
				avg.Round(time.Microsecond)))
		}
	}
	if g.GCPauseMax > BoundGCPause {
		g.Reasons = append(g.Reasons, fmt.Sprintf(
			"a Go garbage-collection pause of %v stopped the generator", g.GCPauseMax.Round(time.Microsecond)))
	}
	g.Pacer = e.pacer.stats()
	g.Replies = e.replies
	if ps := g.Pacer; ps.Mode != PacerSleep && g.SendDelayP99 > PacerMissFactor*ps.SpinWindow {
		why := "the machine was busy"
		if ps.BudgetSpent > 0 {
			why = fmt.Sprintf("its spin budget of %.2g core ran out in %d second(s)", ps.SpinBudget, ps.BudgetSpent)
		}
		g.PacerNote = fmt.Sprintf("the %s pacer did not hold its %v window: p99 send delay %v (%s); latency still counts from each intended send",
			ps.Mode, ps.SpinWindow, g.SendDelayP99.Round(time.Microsecond), why)
	}
	g.Bound = len(g.Reasons) > 0
}

// mergedOver merges one histogram of every command of every stage (not the warm-up).
func mergedOver(res *Result, pick func(*CommandResult) *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	h := NewHistogram()
	for _, s := range res.Stages {
		for _, c := range s.Commands {
			h.Merge(pick(c))
		}
	}
	return h
}
