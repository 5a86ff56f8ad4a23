package loadgen

import "math"

// assemble builds the stage results from the merged cumulative figures.
//
// Each stage's Measured window leaves out the warm-up where it overlaps the stage, so
// that its rates divide its counts by the time they cover.
func (e *engine) assemble(res *Result, cum []bucketRec, times []stageSpan, stagesEnd int64) {
	warmEnd := int64(math.MinInt64)
	if len(times) > 0 && e.plan.Warmup > 0 {
		warmEnd = times[0].start + int64(e.plan.Warmup)
	}
	result := func(name string, b int, order []uint8, start, end, sendEnd int64) StageResult {
		mStart := min(max(start, warmEnd), sendEnd)
		if b == 0 {
			mStart = start
		}
		sr := StageResult{Name: name, Start: e.at(start), End: e.at(end), Measured: Window{e.at(mStart), e.at(sendEnd)}}
		if b < len(cum) {
			sr.Undecodable, sr.Unmatched = cum[b].undecodable, cum[b].unmatched
		}
		for _, i := range order {
			cr := &CommandResult{Command: e.cmds[i]}
			var r *recorded
			if b < len(cum) && cum[b].cmds != nil {
				r = cum[b].cmds[i]
			}
			if r != nil {
				cr.Counts, cr.Corrected, cr.Uncorrected, cr.SendDelay = r.counts, r.corrected, r.uncorrected, r.sendDelay
			} else {
				cr.Corrected, cr.Uncorrected, cr.SendDelay = NewHistogram(), NewHistogram(), NewHistogram()
			}
			sr.Commands = append(sr.Commands, cr)
		}
		return sr
	}
	for s, t := range times {
		res.Stages = append(res.Stages, result(e.plan.Stages[s].Name, s+1, e.stageCmds[s], t.start, t.end, t.sendEnd))
	}
	if e.plan.Warmup > 0 && len(times) > 0 {
		var order []uint8
		for i := range e.cmds {
			if cum[0].cmds != nil && cum[0].cmds[i] != nil {
				order = append(order, uint8(i))
			}
		}
		ws := times[0].start
		we := min(warmEnd, stagesEnd)
		wr := result("warm-up", 0, order, ws, we, we)
		res.Warmup = &wr
	}
}
