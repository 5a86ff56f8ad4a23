package resultfmt_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
)

func TestFromLoadgen(t *testing.T) {
	lr := fullRun()
	meta := fullMeta()
	meta.Interrupted = false
	r := resultfmt.FromLoadgen(meta, lr)

	tests := []struct {
		name      string
		got, want any
	}{
		{"schema", r.Meta.SchemaVersion, resultfmt.SchemaVersion},
		{"start from the run", r.Meta.Start, t0},
		{"end from the run", r.Meta.End, t0.Add(55500 * time.Millisecond)},
		{"interrupted from the run", r.Meta.Interrupted, true},
		{"stages", len(r.Stages), 2},
		{"warm-up apart", r.Warmup.Commands[0].Counts.Sent, uint64(4000)},
		{"stage duration, warm-up included", r.Stages[0].DurationUS, int64(35_000_000)},
		{"measured window, warm-up excluded", r.Stages[0].MeasuredUS, int64(30_000_000)},
		{"measured from the warm-up's end", r.Stages[0].MeasuredStart, t0.Add(5 * time.Second)},
		{"throughput is ok/s over the measured window", r.Stages[0].Commands[0].ThroughputPerS, 29980.0 / 30},
		{"sent rate over the measured window", r.Stages[0].Commands[0].SentPerS, 1000.0},
		{"a stage after the warm-up is measured whole", r.Stages[1].MeasuredUS, r.Stages[1].DurationUS},
		{"counts", r.Stages[0].Commands[1].Counts, resultfmt.Counts{Sent: 3000, NoAck: 1000, OK: 1990, Exceptions: 10}},
		{"errors", r.Stages[1].Commands[0].Counts.Errors(), uint64(8)},
		{"corrected count", r.Stages[0].Commands[0].Corrected.Count, int64(30000)},
		{"corrected max is the timeout", r.Stages[0].Commands[0].Corrected.MaxUS, lr.Stages[0].Commands[0].Corrected.Max()},
		{"p99", r.Stages[0].Commands[0].Corrected.P99US, lr.Stages[0].Commands[0].Corrected.ValueAtQuantile(99)},
		{"p99.9", r.Stages[1].Commands[0].Corrected.P999US, lr.Stages[1].Commands[0].Corrected.ValueAtQuantile(99.9)},
		{"p50 uncorrected", r.Stages[1].Commands[0].Uncorrected.P50US, lr.Stages[1].Commands[0].Uncorrected.ValueAtQuantile(50)},
		{"send delay max", r.Stages[0].Commands[0].SendDelay.MaxUS, lr.Stages[0].Commands[0].SendDelay.Max()},
		{"stall offset", r.Stalls[0].OffsetUS, int64(17_300_000)},
		{"stall duration", r.Stalls[0].DurationUS, int64(8_100_000)},
		{"stage-level unmatched", r.Stages[0].Unmatched, uint64(1)},
		{"connect failures", r.Connections.ConnectFailed, uint64(1)},
		{"connect time", r.Connections.ConnectTime.Count, int64(9)},
		{"bound", r.Generator.Bound, true},
		{"reasons", len(r.Generator.Reasons), 2},
		{"gc pause max", r.Generator.GCPauseMaxUS, int64(450)},
		{"send delay p99", r.Generator.SendDelayP99US, int64(81_000)},
		{"commands in order of first use", r.Commands(), []string{"HARTBEAT", "GROUPADD", "GROUPDIS"}},
		{"no warnings", len(r.Warnings), 0},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestFromLoadgenEdges(t *testing.T) {
	tests := []struct {
		name  string
		lr    *loadgen.Result
		check func(t *testing.T, r *resultfmt.Result)
	}{
		{
			name: "never ran",
			lr:   nil,
			check: func(t *testing.T, r *resultfmt.Result) {
				if r.Meta.SchemaVersion != resultfmt.SchemaVersion || r.Stages == nil || len(r.Stages) != 0 {
					t.Errorf("got schema %d and stages %v, want %d and an empty list", r.Meta.SchemaVersion, r.Stages, resultfmt.SchemaVersion)
				}
			},
		},
		{
			name: "zero-length stage and nil histograms",
			lr: &loadgen.Result{Start: t0, End: t0, Stages: []loadgen.StageResult{{
				Name: "s", Start: t0, End: t0,
				Commands: []*loadgen.CommandResult{nil, {Command: protocol.Flush, Counts: loadgen.Counts{Sent: 1, NoAck: 1}}},
			}}},
			check: func(t *testing.T, r *resultfmt.Result) {
				c := r.Stages[0].Commands
				if len(c) != 1 || c[0].ThroughputPerS != 0 || c[0].Corrected != (resultfmt.Latency{}) {
					t.Errorf("got %+v, want one command with no rate and an empty latency", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, resultfmt.FromLoadgen(minimalMeta(), tt.lr)) })
	}
}

func TestMerged(t *testing.T) {
	lr := fullRun()
	r := resultfmt.FromLoadgen(fullMeta(), lr)
	tests := []struct {
		cmd     string
		kind    resultfmt.HistogramKind
		sources []*hdrhistogram.Histogram
		sent    uint64
	}{
		{"HARTBEAT", resultfmt.Corrected, []*hdrhistogram.Histogram{lr.Stages[0].Commands[0].Corrected, lr.Stages[1].Commands[1].Corrected}, 31000},
		{"HARTBEAT", resultfmt.Uncorrected, []*hdrhistogram.Histogram{lr.Stages[0].Commands[0].Uncorrected, lr.Stages[1].Commands[1].Uncorrected}, 31000},
		{"GROUPDIS", resultfmt.SendDelay, []*hdrhistogram.Histogram{lr.Stages[1].Commands[0].SendDelay}, 10000},
		{"PRINTXXX", resultfmt.Corrected, nil, 0},
	}
	for _, tt := range tests {
		want := loadgen.NewHistogram()
		for _, h := range tt.sources {
			want.Merge(h)
		}
		got, counts, err := r.Merged(tt.cmd, tt.kind)
		if err != nil {
			t.Fatalf("%s %d: %v", tt.cmd, tt.kind, err)
		}
		if !got.Equals(want) {
			t.Errorf("%s %d: merged histogram has %d values (max %d), want %d (max %d)", tt.cmd, tt.kind, got.TotalCount(), got.Max(), want.TotalCount(), want.Max())
		}
		if counts.Sent != tt.sent {
			t.Errorf("%s %d: merged sent = %d, want %d (the warm-up must be left out)", tt.cmd, tt.kind, counts.Sent, tt.sent)
		}
	}
}

func TestLatencyDecodeErrors(t *testing.T) {
	good, err := resultfmt.NewLatency(spread(10, 100, 10))
	if err != nil {
		t.Fatal(err)
	}
	miscounted := good
	miscounted.Count = 11
	tests := []struct {
		name string
		l    resultfmt.Latency
		want string
	}{
		{"not base64", resultfmt.Latency{Count: 1, Histogram: "!!!"}, "damaged"},
		{"not a histogram", resultfmt.Latency{Count: 1, Histogram: "aGVsbG8gd29ybGQ="}, "damaged"},
		{"count disagrees", miscounted, "inconsistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.l.Decode()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, resultfmt.ResultFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := json.Marshal(resultfmt.FromLoadgen(minimalMeta(), minimalRun()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"folder", write("good", string(good)), ""},
		{"file", filepath.Join(write("good2", string(good)), resultfmt.ResultFile), ""},
		{"newer field is ignored", write("newer-field", strings.Replace(string(good), `"meta":{`, `"meta":{"future":1,`, 1)), ""},
		{"missing", filepath.Join(dir, "nope"), "does not exist"},
		{"not JSON", write("bad", "{"), "not valid JSON"},
		{"no schema", write("noschema", `{"meta":{}}`), "not a dmbench result"},
		{"newer schema", write("newer", `{"meta":{"schema_version":99}}`), "upgrade dmbench"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resultfmt.Read(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r.Stages[0].Commands[0].Counts.OK != 1000 {
					t.Errorf("read %+v, want the minimal run", r.Stages[0].Commands[0].Counts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Read error = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	tests := []struct {
		args    []string
		want    map[string]string
		wantErr string
	}{
		{nil, nil, ""},
		{[]string{"broker=0.2.1", "host=a=b", "empty="}, map[string]string{"broker": "0.2.1", "host": "a=b", "empty": ""}, ""},
		{[]string{"broker"}, nil, "want key=value"},
		{[]string{"=x"}, nil, "non-empty"},
		{[]string{"a b=x"}, nil, "without spaces"},
		{[]string{"a=1", "a=2"}, nil, "given twice"},
	}
	for _, tt := range tests {
		got, err := resultfmt.ParseLabels(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseLabels(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLabels(%q) = %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}

func TestNewMeta(t *testing.T) {
	m := resultfmt.NewMeta()
	m.SetScenario("s", "s.yaml", []byte("abc"))
	host, _ := os.Hostname()
	tests := []struct {
		name      string
		got, want any
	}{
		{"schema", m.SchemaVersion, resultfmt.SchemaVersion},
		{"tool", m.Tool, "dmbench"},
		{"host", m.Host, host},
		{"os", m.OS, runtime.GOOS},
		{"gomaxprocs", m.GOMAXPROCS, runtime.GOMAXPROCS(0)},
		{"sha256 of abc", m.Scenario.SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"text kept", m.Scenario.Text, "abc"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestNewLatencyMeanRounded(t *testing.T) {
	l, err := resultfmt.NewLatency(spread(3, 100, 7))
	if err != nil {
		t.Fatal(err)
	}
	if l.MeanUS*1000 != math.Round(l.MeanUS*1000) {
		t.Errorf("mean %v is not rounded to the nanosecond", l.MeanUS)
	}
}
