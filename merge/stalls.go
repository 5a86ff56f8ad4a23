package merge

import (
	"slices"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
)

// stalls unions the shards' stalls: stalls that overlap (or touch) become one, from the
// earliest start to the latest end, outstanding the sum over the shards in it of each
// one's most, until the end when any was. Offsets are from the merged run's start.
func (m *merger) stalls(runStart time.Time) []resultfmt.Stall {
	type shardStall struct {
		shard int
		s     resultfmt.Stall
	}
	var all []shardStall
	for _, in := range m.in {
		for _, s := range in.Result.Stalls {
			all = append(all, shardStall{in.Result.Meta.Shard.Index, s})
		}
	}
	slices.SortStableFunc(all, func(a, b shardStall) int { return a.s.Start.Compare(b.s.Start) })
	out := []resultfmt.Stall{}
	var most map[int]int64 // of the stall being built, each shard's most outstanding
	flush := func() {
		if len(out) == 0 {
			return
		}
		last := &out[len(out)-1]
		last.Outstanding = 0
		for _, n := range most {
			last.Outstanding += n
		}
		last.OffsetUS = last.Start.Sub(runStart).Microseconds()
		last.DurationUS = last.End.Sub(last.Start).Microseconds()
	}
	for _, x := range all {
		if n := len(out); n > 0 && !x.s.Start.After(out[n-1].End) {
			last := &out[n-1]
			last.End = maxTime(last.End, x.s.End)
			last.UntilEnd = last.UntilEnd || x.s.UntilEnd
			most[x.shard] = max(most[x.shard], x.s.Outstanding)
			continue
		}
		flush()
		out = append(out, resultfmt.Stall{Start: x.s.Start, End: x.s.End, UntilEnd: x.s.UntilEnd})
		most = map[int]int64{x.shard: x.s.Outstanding}
	}
	flush()
	return out
}
