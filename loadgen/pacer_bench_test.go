package loadgen

import (
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// BenchmarkPacer runs the pacer alone at 1,000 due times a second (one client's open loop
// at 1,000/s; b.N due times, so each op is 1 ms) and reports, for benchstat, its lateness
// p50 and p99 (fire time − due time) and the CPU the process spent per second of it, in
// cores: the pacer's own cost, spinning included.
func BenchmarkPacer(b *testing.B) {
	for _, mode := range PacerModes {
		b.Run(string(mode), func(b *testing.B) {
			base := time.Now()
			clk, runLoop := newPacerClock(base)
			p := newPacer(PacerConfig{Mode: mode}, clk, nil, nil)
			late := hdrhistogram.New(1, int64(time.Second), 3)
			done := make(chan struct{})
			const every = int64(time.Millisecond)
			n := 0
			cpu0, _ := cpuTime()
			b.ResetTimer()
			e := &timed{due: clk.now() + every}
			e.f = fireFunc(func(now int64) (int64, bool) {
				_ = late.RecordValue(max(1, now-e.due))
				if n++; n >= b.N {
					close(done)
					return 0, false
				}
				return e.due + every, true
			})
			p.start(runLoop)
			p.add(e)
			<-done
			b.StopTimer()
			cpu1, _ := cpuTime()
			wall := time.Since(base).Seconds()
			p.shutdown()
			b.ReportMetric(float64(late.ValueAtQuantile(50)), "late-p50-ns")
			b.ReportMetric(float64(late.ValueAtQuantile(99)), "late-p99-ns")
			b.ReportMetric((cpu1-cpu0)/wall, "cpu-cores")
		})
	}
}
