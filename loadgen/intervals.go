package loadgen

import (
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// closer closes one-second intervals: intervalGrace after interval k ends, it asks every
// recorder for its part of k, merges the parts, hands each command's figures to
// Config.Intervals (the warm-up's apart from the stages', in command order, from this
// one goroutine, in time order) and calls Config.Progress. It also samples GC pauses and
// takes the interval's disconnect count.
type closer struct {
	e    *engine
	recs []*recorder
	gc   *gcWatch
	next int64 // the next interval to close

	sinkErr   error
	sinkErrAt time.Time

	disconnectsMax uint64
	errors         uint64 // Counts.Errors of closed intervals, for Progress
	scratch        *hdrhistogram.Histogram
	lastSent       uint64
	lastP99        time.Duration
}

func newCloser(e *engine, recs []*recorder, gc *gcWatch) *closer {
	return &closer{e: e, recs: recs, gc: gc, scratch: NewHistogram()}
}

// closeTime is when interval k closes, in ns since the run's start.
func closeTime(k int64) int64 { return (k+1)*int64(intervalLen) + int64(intervalGrace) }

// run closes intervals until stop is closed, then gathers the recorders' final figures,
// emits the intervals still open and returns the cumulative figures merged. The batch
// channel must be closed before stop.
func (cl *closer) run(stop <-chan struct{}) []bucketRec {
	e := cl.e
	t := time.NewTimer(time.Duration(closeTime(cl.next) - e.now()))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			now := e.now()
			for closeTime(cl.next) <= now {
				cl.closeOne(cl.next)
				cl.next++
			}
			cl.gc.sample()
			cl.progress(now)
			t.Reset(time.Duration(closeTime(cl.next) - e.now()))
		case <-stop:
			// The last intervals close now; the progress line shows the run's final figures.
			cum := cl.final()
			cl.progress(e.now())
			return cum
		}
	}
}

// closeOne closes interval k.
func (cl *closer) closeOne(k int64) {
	reply := make(chan recReply, len(cl.recs))
	for _, r := range cl.recs {
		r.ctl <- recReq{k: k, reply: reply}
	}
	parts := make([]*intervalRec, 0, len(cl.recs))
	for range cl.recs {
		parts = append(parts, (<-reply).iv)
	}
	cl.emit(k, parts)
	cl.disconnectsMax = max(cl.disconnectsMax, cl.e.conn.takeUpTo(k))
}

// final gathers every recorder's remaining figures, emits the open intervals in order and
// returns the merged cumulative figures.
func (cl *closer) final() []bucketRec {
	e := cl.e
	reply := make(chan recReply, len(cl.recs))
	for _, r := range cl.recs {
		r.ctl <- recReq{final: true, reply: reply}
	}
	byK := map[int64][]*intervalRec{}
	var cums [][]bucketRec
	for range cl.recs {
		rep := <-reply
		cums = append(cums, rep.cum)
		for _, iv := range rep.rest {
			byK[iv.k] = append(byK[iv.k], iv)
		}
	}
	ks := make([]int64, 0, len(byK))
	for k := range byK {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	for _, k := range ks {
		cl.emit(k, byK[k])
	}
	cl.disconnectsMax = max(cl.disconnectsMax, e.conn.takeUpTo(1<<62))
	return mergeCumulative(len(e.plan.Stages)+1, len(e.cmds), cums)
}

// emit merges interval k's parts and hands them on: per command, in command order, the
// warm-up's part (when it has events) and then the stages' part.
func (cl *closer) emit(k int64, parts []*intervalRec) {
	e := cl.e
	stages, warmup := mergeIntervals(len(e.cmds), parts)
	start := e.at(k * int64(intervalLen))
	end := start.Add(intervalLen)
	cl.scratch.Reset()
	var sent uint64
	for i, cmd := range e.cmds {
		if warmup != nil {
			sent += cl.hand(Interval{Start: start, End: end, Command: cmd, Warmup: true}, warmup[i])
		}
		sent += cl.hand(Interval{Start: start, End: end, Command: cmd}, stages[i])
	}
	cl.lastSent = sent
	cl.lastP99 = 0
	if cl.scratch.TotalCount() > 0 {
		cl.lastP99 = time.Duration(cl.scratch.ValueAtQuantile(99)) * time.Microsecond
	}
}

// hand adds r's figures to the progress line's and hands them to Config.Intervals as
// iv's, and returns the requests r sent. r is nil when iv's part saw no events: nothing
// is handed on then.
func (cl *closer) hand(iv Interval, r *recorded) uint64 {
	if r == nil {
		return 0
	}
	cl.errors += r.counts.Errors()
	cl.scratch.Merge(r.corrected)
	sink := cl.e.cfg.Intervals
	if sink == nil || cl.sinkErr != nil {
		putHist(r.corrected)
		putHist(r.uncorrected)
		putHist(r.sendDelay)
		return r.counts.Sent
	}
	for _, h := range []*hdrhistogram.Histogram{r.corrected, r.uncorrected, r.sendDelay} {
		h.SetStartTimeMs(iv.Start.UnixMilli())
		h.SetEndTimeMs(iv.End.UnixMilli())
	}
	iv.Corrected, iv.Uncorrected, iv.SendDelay, iv.Counts = r.corrected, r.uncorrected, r.sendDelay, r.counts
	if err := sink.Interval(iv); err != nil {
		cl.sinkErr, cl.sinkErrAt = err, iv.Start
	}
	return r.counts.Sent
}

// progress calls Config.Progress with the last closed interval's figures.
func (cl *closer) progress(now int64) {
	e := cl.e
	if e.cfg.Progress == nil {
		return
	}
	p := Progress{
		Elapsed:      time.Duration(now),
		Total:        e.plannedTotal(),
		AchievedRate: float64(cl.lastSent) / intervalLen.Seconds(),
		InFlight:     e.outstanding(),
		P99:          cl.lastP99,
		Errors:       int64(cl.errors),
		Connected:    int(e.connected.Load()),
	}
	p.Stalls, p.Stalled = e.stalls.found()
	if info := e.stageInfo.Load(); info != nil {
		p.Stage = info.name
		if o := info.st.Open; o != nil {
			p.TargetRate = o.RateAt(time.Duration(now-info.start), info.st.Duration)
		}
	}
	e.cfg.Progress(p)
}

// plannedTotal is the sum of the stages' durations, or 0 when one is bounded by count.
func (e *engine) plannedTotal() time.Duration {
	var t time.Duration
	for s := range e.plan.Stages {
		if e.plan.Stages[s].Duration <= 0 {
			return 0
		}
		t += e.plan.Stages[s].Duration
	}
	return t
}
