package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the synthetic run's start.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// spread returns a histogram of n values: base + (i*37 mod span) µs, then each of tail
// once. It is deterministic, so the figures printed from it are fixed.
func spread(n int, base, span int64, tail ...int64) *hdrhistogram.Histogram {
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

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// fullRun is a synthetic interrupted run against an embedded broker: a warm-up, two
// stages, timeouts, errors of every kind, a stall, and a generator that fell behind.
func fullRun() *loadgen.Result {
	tail := append(repeat(400_000, 10), repeat(5_000_000, 8)...)
	return &loadgen.Result{
		Start:       t0,
		End:         t0.Add(55*time.Second + 500*time.Millisecond),
		Interrupted: true,
		Warmup: &loadgen.StageResult{
			Name: "warm-up", Start: t0, End: t0.Add(5 * time.Second),
			Measured: loadgen.Window{Start: t0, End: t0.Add(5 * time.Second)},
			Commands: []*loadgen.CommandResult{{
				Command:     protocol.Heartbeat,
				Counts:      loadgen.Counts{Sent: 4000, OK: 3990, Timeouts: 10},
				Corrected:   spread(4000, 300, 900),
				Uncorrected: spread(4000, 250, 800),
				SendDelay:   spread(4000, 1, 40),
			}},
		},
		Stages: []loadgen.StageResult{
			{
				// The warm-up is the first 5 s of the first stage, as loadgen carves it.
				Name: "steady", Start: t0, End: t0.Add(35 * time.Second),
				Measured: loadgen.Window{Start: t0.Add(5 * time.Second), End: t0.Add(35 * time.Second)},
				Commands: []*loadgen.CommandResult{
					{
						Command:     protocol.Heartbeat,
						Counts:      loadgen.Counts{Sent: 30000, OK: 29980, Unexpected: 2, Timeouts: 8, Late: 2, Duplicates: 1},
						Corrected:   spread(29982, 200, 800, tail...),
						Uncorrected: spread(29982, 180, 700, repeat(5_000_000, 8)...),
						SendDelay:   spread(30000, 1, 50, 399_000),
					},
					{
						Command:     protocol.GroupAdd,
						Counts:      loadgen.Counts{Sent: 3000, NoAck: 1000, OK: 1990, Exceptions: 10},
						Corrected:   spread(2000, 400, 1600),
						Uncorrected: spread(2000, 350, 1500),
						SendDelay:   spread(2000, 1, 50),
					},
				},
				Undecodable: 2,
				Unmatched:   1,
			},
			{
				Name: "ramp", Start: t0.Add(35 * time.Second), End: t0.Add(55 * time.Second),
				Measured: loadgen.Window{Start: t0.Add(35 * time.Second), End: t0.Add(55 * time.Second)},
				Commands: []*loadgen.CommandResult{
					{
						Command:     protocol.GroupDiscard,
						Counts:      loadgen.Counts{Sent: 10000, OK: 9992, SendErrors: 5, Abandoned: 3},
						Corrected:   spread(9992, 2_000, 90_000),
						Uncorrected: spread(9992, 300, 2_000),
						SendDelay:   spread(9992, 100, 80_000),
					},
					{
						Command:     protocol.Heartbeat,
						Counts:      loadgen.Counts{Sent: 1000, OK: 1000},
						Corrected:   spread(1000, 150, 300),
						Uncorrected: spread(1000, 140, 300),
						SendDelay:   spread(1000, 1, 10),
					},
				},
			},
		},
		Stalls: []loadgen.Stall{
			{Start: t0.Add(17300 * time.Millisecond), End: t0.Add(25400 * time.Millisecond), Outstanding: 8},
			{Start: t0.Add(40 * time.Second), End: t0.Add(41200 * time.Millisecond), Outstanding: 64},
		},
		Connections: loadgen.ConnectionStats{
			ConnectTime: spread(9, 150, 2000), Connected: 9, ConnectFailed: 1, Disconnects: 2, DisconnectsMax: 1,
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
		},
	}
}

// fullMeta is fullRun's metadata, fixed (NewMeta would read the host).
func fullMeta() Meta {
	m := Meta{
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
		Target: Target{
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

// minimalRun is a short clean run against an external server.
func minimalRun() *loadgen.Result {
	return &loadgen.Result{
		Start: t0,
		End:   t0.Add(10 * time.Second),
		Stages: []loadgen.StageResult{{
			Name: "main", Start: t0, End: t0.Add(10 * time.Second),
			Measured: loadgen.Window{Start: t0, End: t0.Add(10 * time.Second)},
			Commands: []*loadgen.CommandResult{{
				Command:     protocol.Heartbeat,
				Counts:      loadgen.Counts{Sent: 1000, OK: 1000},
				Corrected:   spread(1000, 300, 200),
				Uncorrected: spread(1000, 290, 200),
				SendDelay:   spread(1000, 1, 5),
			}},
		}},
		Connections: loadgen.ConnectionStats{ConnectTime: spread(1, 800, 1), Connected: 1},
		Generator:   loadgen.GeneratorStats{CPUSeconds: 0.4, GOMAXPROCS: 4, AchievedRatio: 1},
	}
}

func minimalMeta() Meta {
	return Meta{
		Tool: "dmbench", ToolVersion: "devel", GoVersion: "go1.26.8", Host: "bench-1",
		OS: "linux", Arch: "arm64", NumCPU: 4, GOMAXPROCS: 4,
		Scenario:  Scenario{Name: "ping"},
		Seed:      1,
		Target:    Target{Address: "tcp://10.0.0.5:5557"},
		Transport: "zmq4",
	}
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run %s -update to create it)", err, t.Name())
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
