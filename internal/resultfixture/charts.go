package resultfixture

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
)

// ChartScenario is the scenario ChartRun ran: a 5 s warm-up carved from a steady stage
// at 1000/s, then a ramp from 1000/s to 3000/s, HARTBEAT and GROUPADD in a 3:1 mix.
const ChartScenario = `name: chart-demo
description: a steady stage and a ramp, for the charts' tests
seed: 1
warmup: 5s
timeout: 2s
stages:
  - name: steady
    duration: 20s
    clients: 4
    rate: 1000/s
    mix: &mix
      - command: HARTBEAT
        weight: 3
      - command: GROUPADD
        group: {uniform: 10}
        channel: {uniform: 10}
  - name: ramp
    duration: 20s
    rate: 1000/s
    ramp_to: 3000/s
    mix: *mix
`

// ChartStall is ChartRun's stall, in seconds since its start: no reply from 12.4 s to
// 13.6 s, after which the requests held answer at once, up to 1.2 s late.
var ChartStall = [2]float64{12.4, 13.6}

// chartRate is the rate ChartRun achieved in second k: the schedule, except that in the
// ramp the generator could not send more than 2000/s.
func chartRate(k int) int {
	switch {
	case k < 20:
		return 1000
	case k < 40:
		return min(1000+100*(k-20)+50, 2000)
	}
	return 40 // the drain's last replies
}

// ChartRun is a synthetic 40 s run of ChartScenario against an embedded broker that
// stalled once, with its 1 s intervals (41: the last holds the drain's replies), per
// command, as loadgen hands them to resultfmt.Writer. Latency grows with the ramp's
// rate and is multiplied by scale (1 for the baseline), so that two runs differ;
// broker labels the run (meta.labels["broker"]). The figures are fixed: charts drawn
// from it can be checked against golden files.
func ChartRun(broker string, scale float64) (*resultfmt.Result, []loadgen.Interval) {
	us := func(v float64) int64 { return int64(v * scale) }
	var ivs []loadgen.Interval
	stage := func(k int) int { // 0: warm-up, 1: steady, 2: ramp
		switch {
		case k < 5:
			return 0
		case k < 20:
			return 1
		}
		return 2
	}
	cmds := []protocol.Command{protocol.Heartbeat, protocol.GroupAdd}
	type acc struct{ corrected, uncorrected *hdrhistogram.Histogram }
	sums := [3][2]acc{}
	counts := [3][2]loadgen.Counts{}
	for s := range sums {
		for c := range sums[s] {
			sums[s][c] = acc{loadgen.NewHistogram(), loadgen.NewHistogram()}
		}
	}
	for k := 0; k <= 40; k++ {
		rate := chartRate(k)
		load := 0.0
		if k >= 20 {
			load = float64(k - 20)
		}
		for c, cmd := range cmds {
			n := rate * 3 / 4
			base := 250.0
			if c == 1 {
				n, base = rate-n, 420
			}
			base += 35 * load
			var tail []int64
			if k == 13 { // the stall's held requests, answered at 13.6 s
				for j := int64(0); j < int64(n)/3; j++ {
					tail = append(tail, us(1_200_000-float64(j)*3000))
				}
			}
			if k >= 30 { // queueing past what the generator could keep up with
				tail = append(tail, Repeat(us(20_000+2000*load), n/50)...)
			}
			cor := Spread(n-len(tail), us(base), max(us(base*1.5), 1), tail...)
			unc := Spread(n-len(tail), us(base*0.9), max(us(base*1.2), 1), halve(tail)...)
			start := T0.Add(time.Duration(k) * time.Second)
			ivs = append(ivs, loadgen.Interval{
				Start: start, End: start.Add(time.Second), Command: cmd,
				Warmup: stage(k) == 0, Corrected: cor, Uncorrected: unc,
				Counts: loadgen.Counts{Sent: uint64(n), OK: uint64(n)},
			})
			s := stage(min(k, 39))
			sums[s][c].corrected.Merge(cor)
			sums[s][c].uncorrected.Merge(unc)
			counts[s][c].Add(loadgen.Counts{Sent: uint64(n), OK: uint64(n)})
		}
	}
	result := func(s int, name string, from, to, measured time.Duration) loadgen.StageResult {
		sr := loadgen.StageResult{
			Name: name, Start: T0.Add(from), End: T0.Add(to),
			Measured: loadgen.Window{Start: T0.Add(measured), End: T0.Add(to)},
		}
		for c, cmd := range cmds {
			sr.Commands = append(sr.Commands, &loadgen.CommandResult{
				Command: cmd, Counts: counts[s][c],
				Corrected: sums[s][c].corrected, Uncorrected: sums[s][c].uncorrected,
				SendDelay: Spread(int(counts[s][c].Sent), 1, 40),
			})
		}
		return sr
	}
	warm := result(0, "warm-up", 0, 5*time.Second, 0)
	lr := &loadgen.Result{
		Start: T0, End: T0.Add(41 * time.Second),
		Warmup: &warm,
		Stages: []loadgen.StageResult{
			result(1, "steady", 0, 20*time.Second, 5*time.Second),
			result(2, "ramp", 20*time.Second, 40*time.Second, 20*time.Second),
		},
		Stalls: []loadgen.Stall{{
			Start:       T0.Add(time.Duration(ChartStall[0] * float64(time.Second))),
			End:         T0.Add(time.Duration(ChartStall[1] * float64(time.Second))),
			Outstanding: 300,
		}},
		Connections: loadgen.ConnectionStats{ConnectTime: Spread(4, 150, 100), Connected: 4, ClientsAtEnd: 4, ConnectedAtEnd: 4},
		Generator: loadgen.GeneratorStats{
			CPUSeconds: 12.5, GOMAXPROCS: 2, SendDelayP99: 150 * time.Microsecond, AchievedRatio: 0.91,
			Pacer: loadgen.PacerStats{Mode: loadgen.PacerHybrid, SpinWindow: 200 * time.Microsecond, SpinBudget: 0.3},
		},
	}
	meta := SynthMeta()
	meta.SetScenario("chart-demo", "chart-demo.yaml", []byte(ChartScenario))
	meta.Target = resultfmt.Target{Address: "tcp://127.0.0.1:40001", Embedded: true, BrokerMode: "reference"}
	meta.Labels = map[string]string{"broker": broker}
	r := resultfmt.FromLoadgen(meta, lr)
	r.ServerView = chartServerView(r, scale)
	return r, ivs
}

// halve returns the values of vs halved.
func halve(vs []int64) []int64 {
	out := make([]int64, len(vs))
	for i, v := range vs {
		out[i] = max(v/2, 1)
	}
	return out
}

// chartServerView is ChartRun's server view: per stage and command, the client's round
// trips joined with service times a tenth of them.
func chartServerView(r *resultfmt.Result, scale float64) *resultfmt.ServerView {
	sv := &resultfmt.ServerView{Addr: r.Meta.Target.Address, Available: true, Sent: 4, Snapshots: []resultfmt.ServerSnapshot{}}
	var total resultfmt.ServerJoin
	for si, s := range r.Stages {
		j := resultfmt.ServerJoin{Name: s.Name, From: "start", To: "end", FromSnapshot: si, ToSnapshot: si + 1}
		for ci, c := range s.Commands {
			h, err := c.Uncorrected.Decode()
			if err != nil {
				panic(err)
			}
			service, err := resultfmt.NewLatency(Spread(int(h.TotalCount()), int64(30*scale)+int64(ci*15), int64(60*scale)+1, Repeat(int64(900*scale), int(h.TotalCount())/80)...))
			if err != nil {
				panic(err)
			}
			p := h.ValueAtPercentilesSlice([]float64{50, 99})
			j.Commands = append(j.Commands, resultfmt.ServerCommandJoin{
				Command: c.Command, ClientSent: c.Counts.Sent, ClientOK: c.Counts.OK, ClientReplies: c.Counts.OK,
				ClientRTTCount: h.TotalCount(), ClientRTTP50US: p[0], ClientRTTP99US: p[1],
				ServiceTime: service,
			})
		}
		sv.Stages = append(sv.Stages, j)
	}
	total = sv.Stages[0]
	total.Name = "whole run"
	sv.Total = &total
	return sv
}

// WriteRun writes r and its intervals into a new run folder under outDir with
// resultfmt's Writer, as dmbench run does, and returns the folder.
func WriteRun(outDir string, r *resultfmt.Result, ivs []loadgen.Interval) (string, error) {
	w, err := resultfmt.Create(outDir, r.Meta.Scenario.Name)
	if err != nil {
		return "", err
	}
	defer w.Abort()
	for _, iv := range ivs {
		if err := w.Interval(iv); err != nil {
			return "", err
		}
	}
	return w.Finish(r)
}
