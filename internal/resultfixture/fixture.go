// Package resultfixture builds the synthetic runs and results that the tests of the
// result, comparison and presentation packages share: fixed figures, so that printed
// output can be checked against golden files.
package resultfixture

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
)

// T0 is the synthetic run's start.
var T0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Spread returns a histogram of n values: base + (i*37 mod span) µs, then each of tail
// once. It is deterministic, so the figures printed from it are fixed.
func Spread(n int, base, span int64, tail ...int64) *hdrhistogram.Histogram {
	h := loadgen.NewHistogram()
	for i := 0; i < n; i++ {
		if err := h.RecordValue(base + int64(i)*37%span); err != nil {
			panic(err)
		}
	}
	for _, v := range tail {
		if err := h.RecordValue(v); err != nil {
			panic(err)
		}
	}
	return h
}

// Repeat returns n copies of v.
func Repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// FullRun is a synthetic interrupted run against an embedded broker: a warm-up, two
// stages, timeouts, errors of every kind, a stall, and a generator that fell behind.
func FullRun() *loadgen.Result {
	tail := append(Repeat(400_000, 10), Repeat(5_000_000, 8)...)
	return &loadgen.Result{
		Start:       T0,
		End:         T0.Add(55*time.Second + 500*time.Millisecond),
		Interrupted: true,
		Warmup: &loadgen.StageResult{
			Name: "warm-up", Start: T0, End: T0.Add(5 * time.Second),
			Measured: loadgen.Window{Start: T0, End: T0.Add(5 * time.Second)},
			Commands: []*loadgen.CommandResult{{
				Command:     protocol.Heartbeat,
				Counts:      loadgen.Counts{Sent: 4000, OK: 3990, Timeouts: 10},
				Corrected:   Spread(4000, 300, 900),
				Uncorrected: Spread(4000, 250, 800),
				SendDelay:   Spread(4000, 1, 40),
			}},
		},
		Stages: []loadgen.StageResult{
			{
				// The warm-up is the first 5 s of the first stage, as loadgen carves it.
				Name: "steady", Start: T0, End: T0.Add(35 * time.Second),
				Measured: loadgen.Window{Start: T0.Add(5 * time.Second), End: T0.Add(35 * time.Second)},
				Commands: []*loadgen.CommandResult{
					{
						Command:     protocol.Heartbeat,
						Counts:      loadgen.Counts{Sent: 30000, OK: 29980, Unexpected: 2, Timeouts: 8, Late: 2, Duplicates: 1},
						Corrected:   Spread(29982, 200, 800, tail...),
						Uncorrected: Spread(29982, 180, 700, Repeat(5_000_000, 8)...),
						SendDelay:   Spread(30000, 1, 50, 399_000),
					},
					{
						Command:     protocol.GroupAdd,
						Counts:      loadgen.Counts{Sent: 3000, NoAck: 1000, OK: 1990, Exceptions: 10},
						Corrected:   Spread(2000, 400, 1600),
						Uncorrected: Spread(2000, 350, 1500),
						SendDelay:   Spread(2000, 1, 50),
					},
				},
				Undecodable: 2,
				Unmatched:   1,
			},
			{
				Name: "ramp", Start: T0.Add(35 * time.Second), End: T0.Add(55 * time.Second),
				Measured: loadgen.Window{Start: T0.Add(35 * time.Second), End: T0.Add(55 * time.Second)},
				Commands: []*loadgen.CommandResult{
					{
						Command:     protocol.GroupDiscard,
						Counts:      loadgen.Counts{Sent: 10000, OK: 9992, SendErrors: 5, Abandoned: 3},
						Corrected:   Spread(9992, 2_000, 90_000),
						Uncorrected: Spread(9992, 300, 2_000),
						SendDelay:   Spread(9992, 100, 80_000),
					},
					{
						Command:     protocol.Heartbeat,
						Counts:      loadgen.Counts{Sent: 1000, OK: 1000},
						Corrected:   Spread(1000, 150, 300),
						Uncorrected: Spread(1000, 140, 300),
						SendDelay:   Spread(1000, 1, 10),
					},
				},
			},
		},
		Stalls: []loadgen.Stall{
			{Start: T0.Add(17300 * time.Millisecond), End: T0.Add(25400 * time.Millisecond), Outstanding: 8},
			{Start: T0.Add(40 * time.Second), End: T0.Add(41200 * time.Millisecond), Outstanding: 64},
		},
		Connections: loadgen.ConnectionStats{
			ConnectTime: Spread(9, 150, 2000), Connected: 9, ConnectFailed: 1, Disconnects: 2, DisconnectsMax: 1,
			DisconnectCauses:  map[string]uint64{loadgen.CauseReset: 1, loadgen.CauseClosed: 1},
			ConnectFailCauses: map[string]uint64{loadgen.CauseRefused: 1},
			ClientsAtEnd:      8, ConnectedAtEnd: 7,
		},
		Drain: loadgen.DrainStats{Limit: 2 * time.Second, Waited: 2 * time.Second, Outstanding: 3},
		Generator: loadgen.GeneratorStats{
			Bound:         true,
			Reasons:       []string{"send delay p99 was 81ms against a 1ms schedule", "CPU was saturated (1.98 of 2 cores)"},
			CPUSeconds:    21.73,
			GOMAXPROCS:    2,
			GCPauseTotal:  3200 * time.Microsecond,
			GCPauseMax:    450 * time.Microsecond,
			SendDelayP99:  81 * time.Millisecond,
			AchievedRatio: 0.912,
			Pacer: loadgen.PacerStats{Mode: loadgen.PacerHybrid, SpinWindow: 200 * time.Microsecond, SpinBudget: 0.3,
				SpinSeconds: 5.55, Wakes: 41000, BudgetSpent: 3},
			PacerNote: "the hybrid pacer did not hold its 200µs window: p99 send delay 81ms (its spin budget of 0.3 core ran out in 3 second(s)); latency still counts from each intended send",
		},
	}
}

// FullMeta is FullRun's metadata, fixed (NewMeta would read the host).
func FullMeta() resultfmt.Meta {
	m := resultfmt.Meta{
		Tool:        "dmbench",
		ToolVersion: "v0.1.0",
		GitSHA:      "0123456789abcdef0123456789abcdef01234567",
		GitModified: true,
		GoVersion:   "go1.26.8",
		Host:        "bench-1",
		OS:          "linux",
		Arch:        "amd64",
		NumCPU:      2,
		GOMAXPROCS:  2,
		Seed:        42,
		Target: resultfmt.Target{
			Address: "tcp://127.0.0.1:40001", Embedded: true, BrokerMode: "dmb-0.2.1",
			Faults: []string{"pause 400ms every 5s"},
		},
		Transport:       "native",
		Labels:          map[string]string{"broker": "0.2.1", "box": "ci"},
		Flags:           map[string]string{"rate": "1000"},
		Args:            []string{"dmbench", "run", "--label", "broker=0.2.1", "keepalive-storm"},
		InterruptReason: "interrupt signal",
	}
	m.SetScenario("keepalive-storm", "bundled:keepalive-storm", []byte("name: keepalive-storm\n"))
	return m
}

// MinimalRun is a short clean run against an external server.
func MinimalRun() *loadgen.Result {
	return &loadgen.Result{
		Start: T0,
		End:   T0.Add(10 * time.Second),
		Stages: []loadgen.StageResult{{
			Name: "main", Start: T0, End: T0.Add(10 * time.Second),
			Measured: loadgen.Window{Start: T0, End: T0.Add(10 * time.Second)},
			Commands: []*loadgen.CommandResult{{
				Command:     protocol.Heartbeat,
				Counts:      loadgen.Counts{Sent: 1000, OK: 1000},
				Corrected:   Spread(1000, 300, 200),
				Uncorrected: Spread(1000, 290, 200),
				SendDelay:   Spread(1000, 1, 5),
			}},
		}},
		Connections: loadgen.ConnectionStats{ConnectTime: Spread(1, 800, 1), Connected: 1},
		Generator:   loadgen.GeneratorStats{CPUSeconds: 0.4, GOMAXPROCS: 4, AchievedRatio: 1},
	}
}

// MinimalMeta is MinimalRun's metadata.
func MinimalMeta() resultfmt.Meta {
	return resultfmt.Meta{
		Tool: "dmbench", ToolVersion: "devel", GoVersion: "go1.26.8", Host: "bench-1",
		OS: "linux", Arch: "arm64", NumCPU: 4, GOMAXPROCS: 4,
		Scenario:  resultfmt.Scenario{Name: "ping"},
		Seed:      1,
		Target:    resultfmt.Target{Address: "tcp://10.0.0.5:5557"},
		Transport: "zmq4",
	}
}

// SynthMeta is the metadata of the synthetic runs that comparison tests build.
func SynthMeta() resultfmt.Meta {
	m := resultfmt.Meta{
		Tool: "dmbench", ToolVersion: "v0.1.0", GoVersion: "go1.26.8", Host: "bench-1",
		OS: "linux", Arch: "amd64", NumCPU: 2, GOMAXPROCS: 2, Transport: "native",
		Target: resultfmt.Target{Address: "tcp://127.0.0.1:40001", Embedded: true, BrokerMode: "reference"},
	}
	m.SetScenario("pipeline", "bundled:pipeline", []byte("name: pipeline\n"))
	return m
}

// Fig is one run's figures of one command.
type Fig struct {
	Tput      float64 // OK/s
	P50       int64   // µs; p99 is 3×, p99.9 10×
	Sent, Err uint64
	Untimed   bool // sent without ack: no latency
}

// SynthRun builds a result with one stage per entry of stages, each holding commands.
func SynthRun(meta resultfmt.Meta, start time.Time, stages ...SynthStage) *resultfmt.Result {
	r := &resultfmt.Result{Meta: meta, Stages: []resultfmt.StageResult{}, Stalls: []resultfmt.Stall{}}
	r.Meta.SchemaVersion = resultfmt.SchemaVersion
	r.Meta.Start, r.Meta.End = start, start.Add(10*time.Second)
	for _, s := range stages {
		sr := resultfmt.StageResult{Name: s.Name, DurationUS: 10_000_000, MeasuredStart: start, MeasuredUS: 10_000_000}
		for _, c := range s.Cmds {
			sent := c.F.Sent
			if sent == 0 {
				sent = 10_000
			}
			cr := resultfmt.CommandResult{
				Command:        c.Cmd,
				Counts:         resultfmt.Counts{Sent: sent, OK: sent - c.F.Err, Timeouts: c.F.Err},
				ThroughputPerS: c.F.Tput,
			}
			if c.F.Untimed {
				cr.Counts = resultfmt.Counts{Sent: sent, NoAck: sent}
			} else {
				cr.Corrected = resultfmt.Latency{Count: int64(sent), P50US: c.F.P50, P90US: 2 * c.F.P50, P99US: 3 * c.F.P50, P999US: 10 * c.F.P50, MaxUS: 20 * c.F.P50, MeanUS: float64(c.F.P50)}
			}
			sr.Commands = append(sr.Commands, cr)
		}
		r.Stages = append(r.Stages, sr)
	}
	return r
}

// SynthStage is one stage of a SynthRun.
type SynthStage struct {
	Name string
	Cmds []SynthCmd
}

// SynthCmd is one command of a SynthStage.
type SynthCmd struct {
	Cmd string
	F   Fig
}

// One is a SynthStage of one command.
func One(stage, cmd string, f Fig) SynthStage {
	return SynthStage{stage, []SynthCmd{{cmd, f}}}
}

// GoldenSides are two sides to compare holding every kind of row: a significant
// regression, a change that is not significant, all-equal values, a command without
// latency, a stage on one side only, and a setup difference.
func GoldenSides() (old, new []*resultfmt.Result) {
	oldP50 := []int64{100, 102, 98, 101, 99, 103}
	newP50 := []int64{130, 128, 133, 131, 129, 127}
	oldTput := []float64{1000, 1001, 999, 1000, 1002, 998}
	newTput := []float64{1000, 999, 1001, 1000, 1003, 998}
	for i := range oldP50 {
		m := SynthMeta()
		m.Labels = map[string]string{"broker": "0.2.1", "run": string(rune('a' + i))}
		old = append(old, SynthRun(m, T0.Add(time.Duration(i)*time.Minute),
			SynthStage{"steady", []SynthCmd{
				{"HARTBEAT", Fig{Tput: oldTput[i], P50: oldP50[i]}},
				{"GROUPADD", Fig{Tput: 50, Sent: 500, Untimed: true}},
			}},
			One("ramp", "GROUPDIS", Fig{Tput: 200, P50: 2000 + int64(i)*10})))
		m = SynthMeta()
		m.Labels = map[string]string{"broker": "0.3.0"}
		m.Transport = "zmq4"
		new = append(new, SynthRun(m, T0.Add(time.Hour+time.Duration(i)*time.Minute),
			SynthStage{"steady", []SynthCmd{
				{"HARTBEAT", Fig{Tput: newTput[i], P50: newP50[i], Err: uint64(i % 2)}},
				{"GROUPADD", Fig{Tput: 50, Sent: 500, Untimed: true}},
			}}))
	}
	return old, new
}
