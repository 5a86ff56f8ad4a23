package comparison

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/resultfmt"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in      string
		metric  string
		op      Op
		limit   float64
		command string
		stage   string
	}{
		{"p99<5ms", "p99", Less, 5000, "", ""},
		{"p50<=2ms", "p50", LessEqual, 2000, "", ""},
		{" p99.9 < 1.5s ", "p99.9", Less, 1_500_000, "", ""},
		{"p999<500us", "p99.9", Less, 500, "", ""},
		{"max<500µs", "max", Less, 500, "", ""},
		{"mean<=250us", "mean", LessEqual, 250, "", ""},
		{"errors<0.1%", "errors", Less, 0.1, "", ""},
		{"errors <= 0 %", "errors", LessEqual, 0, "", ""},
		{"throughput>=1000/s", "throughput", GreaterEqual, 1000, "", ""},
		{"throughput>999.5", "throughput", Greater, 999.5, "", ""},
		{"p99{command=groupadd}<10ms", "p99", Less, 10_000, "GROUPADD", ""},
		{"p99{stage=*,command=HARTBEAT}<10ms", "p99", Less, 10_000, "HARTBEAT", "*"},
		{"p90{stage: steady}<1ms", "p90", Less, 1000, "", "steady"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			th, err := ParseThreshold(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if th.Metric.Name != tt.metric || th.Op != tt.op || math.Abs(th.Limit-tt.limit) > 1e-9 || th.Command != tt.command || th.Stage != tt.stage {
				t.Errorf("got %s %s %v command %q stage %q; want %s %s %v command %q stage %q",
					th.Metric.Name, th.Op, th.Limit, th.Command, th.Stage, tt.metric, tt.op, tt.limit, tt.command, tt.stage)
			}
			if th.String() != strings.TrimSpace(tt.in) {
				t.Errorf("String() = %q, want the text as written", th.String())
			}
			// The canonical form reads back to the same threshold.
			th.text = ""
			back, err := ParseThreshold(th.String())
			if err != nil {
				t.Fatalf("canonical form %q does not parse: %v", th.String(), err)
			}
			if back.Metric != th.Metric || back.Op != th.Op || math.Abs(back.Limit-th.Limit) > 1e-9 || back.Command != th.Command || back.Stage != th.Stage {
				t.Errorf("canonical form %q reads back as %+v", th.String(), back)
			}
		})
	}
}

func TestParseThresholdErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"p99", "no comparison"},
		{"p99=5ms", "no comparison"},
		{"<5ms", "no metric before <"},
		{"p42<5ms", `unknown metric "p42": use one of throughput, p50, p90, p99, p99.9, max, mean, errors`},
		{"p99<", "no value after <"},
		{"p99<5", `"5" has no unit: write a duration such as 500us`},
		{"p99<fast", `"fast" is not a duration`},
		{"p99<-5ms", "is not a duration"},
		{"errors<0.1", `"0.1" is not a percentage: write one from 0% to 100% with its % sign`},
		{"errors<150%", "is not a percentage"},
		{"throughput>=lots/s", "is not a rate"},
		{"p99<5ms<6ms", "more than one comparison"},
		{"p99{command=X<5ms", "must end with }"},
		{"p99{host=a}<5ms", `selector key "host": the keys are command and stage`},
		{"p99{command}<5ms", `selector part "command": want key=value`},
		{"p99{stage=a,stage=b}<5ms", `selector key "stage" given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseThreshold(tt.in)
			if err == nil {
				t.Fatal("parsed; want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			if !strings.Contains(msg, "e.g. p99<5ms") {
				t.Errorf("error %q does not say what is allowed", msg)
			}
		})
	}
}

func TestParseThresholds(t *testing.T) {
	ts, err := ParseThresholds([]string{"p99<5ms", "bad", "errors<0.1%", "p99<"})
	if err == nil {
		t.Fatal("no error for two malformed thresholds")
	}
	for _, want := range []string{`threshold "bad"`, `threshold "p99<"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if len(ts) != 2 {
		t.Errorf("%d thresholds parsed, want the 2 good ones", len(ts))
	}
}

// TestThresholdCheck checks thresholds against the full fixture run: HARTBEAT in stages
// "steady" (p99 ≈ 1 ms with tail: timeouts at 5 s) and "ramp"; GROUPADD in "steady"
// (half without ack); GROUPDIS in "ramp" (p50 ≈ 47 ms).
func TestThresholdCheck(t *testing.T) {
	r := resultfmt.FromLoadgen(fullMeta(), fullRun())
	groupdis, err := r.WholeRun("GROUPDIS")
	if err != nil {
		t.Fatal(err)
	}
	hb, err := r.WholeRun("HARTBEAT")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		threshold string
		want      []string // one substring per violation, in order
	}{
		{"p50<1s", nil},
		{"p50<10ms", []string{`GROUPDIS over the whole run: p50 is `}},
		{"p50{stage=*}<10ms", []string{`stage "ramp" GROUPDIS: p50 is `}},
		{"p50{stage=steady}<10ms", nil},
		{"p50{command=GROUPDIS}<1s", nil},
		{"p99.9{command=HARTBEAT}<500us", []string{"HARTBEAT over the whole run: p99.9 is "}},
		{"max{command=HARTBEAT}<1s", []string{"HARTBEAT over the whole run: max is 5.0"}},
		{"max<6s", nil},
		{"errors<0.1%", []string{"GROUPADD over the whole run: errors is 0.333%"}},
		{"errors{stage=*}<=0.1%", []string{`stage "steady" GROUPADD: errors is 0.333%`}},
		{"errors<1%", nil},
		{"throughput>=30/s", nil},
		{"throughput>=1000/s", []string{"HARTBEAT over the whole run: throughput is", "GROUPADD", "GROUPDIS"}},
		{"throughput{stage=*}>=1000/s", []string{`stage "steady" HARTBEAT: throughput is 999.3/s`, `stage "steady" GROUPADD`, `stage "ramp" GROUPDIS`, `stage "ramp" HARTBEAT`}},
		{"p99{command=NOSUCH}<1s", []string{"nothing to check: no command with a p99 in the selected stages"}},
		{"p99{stage=nosuch}<1s", []string{`nothing to check: no command with a p99 in the selected stages (stages "steady", "ramp"`}},
	}
	for _, tt := range tests {
		t.Run(tt.threshold, func(t *testing.T) {
			th, err := ParseThreshold(tt.threshold)
			if err != nil {
				t.Fatal(err)
			}
			vs := th.Check(r)
			if len(vs) != len(tt.want) {
				t.Fatalf("%d violations %q, want %d", len(vs), vs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(vs[i].Message, w) || !strings.HasPrefix(vs[i].Message, tt.threshold+": ") {
					t.Errorf("violation %d: %q, want it to start with the threshold and contain %q", i, vs[i].Message, w)
				}
				if vs[i].Threshold != tt.threshold {
					t.Errorf("violation %d names threshold %q", i, vs[i].Threshold)
				}
			}
		})
	}
	// The whole run merges the stages: HARTBEAT's counts add up, throughput is over 50 s.
	if hb.Counts.Sent != 31000 || math.Abs(hb.ThroughputPerS-30980.0/50) > 1e-9 {
		t.Errorf("HARTBEAT whole run: %d sent, %.3f/s; want 31000 and %.3f/s", hb.Counts.Sent, hb.ThroughputPerS, 30980.0/50)
	}
	if groupdis.Corrected != r.Stages[1].Commands[0].Corrected {
		t.Error("a command in one stage only should keep that stage's figures over the whole run")
	}
}

// TestThresholdCheckUntimed: a latency threshold passes over commands sent without ack,
// unless it names one, and a run with nothing timed at all fails it.
func TestThresholdCheckUntimed(t *testing.T) {
	r := synthRun(synthMeta(), t0,
		synthStage{Name: "steady", Cmds: []synthCmd{{Cmd: "HARTBEAT", F: fig{Tput: 100, P50: 100}}, {Cmd: "GROUPADD", F: fig{Tput: 10, Untimed: true}}}})
	untimed := synthRun(synthMeta(), t0, one("steady", "GROUPADD", fig{Tput: 10, Untimed: true}))
	tests := []struct {
		name      string
		r         *resultfmt.Result
		threshold string
		want      string // "" for no violation
	}{
		{"unnamed untimed command passed over", r, "p99<1ms", ""},
		{"named untimed command", r, "p99{command=GROUPADD}<1ms", "GROUPADD over the whole run: nothing to measure (10000 sent, 0 timed)"},
		{"nothing timed at all", untimed, "p99<1ms", "nothing to check"},
		{"errors of untimed requests", untimed, "errors<0.1%", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, err := ParseThreshold(tt.threshold)
			if err != nil {
				t.Fatal(err)
			}
			vs := th.Check(tt.r)
			switch {
			case tt.want == "" && len(vs) > 0:
				t.Errorf("violations %q, want none", vs)
			case tt.want != "" && (len(vs) != 1 || !strings.Contains(vs[0].Message, tt.want)):
				t.Errorf("violations %q, want one containing %q", vs, tt.want)
			}
		})
	}
	if vs := CheckThresholds(untimed, mustThresholds(t, "p99<1ms", "errors<0.1%", "throughput>=1000/s")); len(vs) != 2 {
		t.Errorf("CheckThresholds: %q, want 2 violations (nothing timed; throughput)", vs)
	}
}

func mustThresholds(t *testing.T, args ...string) []Threshold {
	t.Helper()
	ts, err := ParseThresholds(args)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestParseFailOn(t *testing.T) {
	tests := []struct {
		in       string
		metric   string
		relative bool
		limit    float64
		wantErr  string
	}{
		{in: "p99:+10%", metric: "p99", relative: true, limit: 10},
		{in: "p99:10%", metric: "p99", relative: true, limit: 10},
		{in: "throughput:-5%", metric: "throughput", relative: true, limit: 5},
		{in: "p50:+2ms", metric: "p50", limit: 2000},
		{in: "throughput:-100/s", metric: "throughput", limit: 100},
		{in: "errors:+0.1", metric: "errors", limit: 0.1},
		{in: "errors:+0.1pp", metric: "errors", limit: 0.1},
		{in: "errors:+50%", metric: "errors", relative: true, limit: 50},
		{in: "p99.9: +0%", metric: "p99.9", relative: true, limit: 0},
		{in: "p99:-10%", wantErr: "p99 gets worse as it rises: write p99:+10%"},
		{in: "throughput:+5%", wantErr: "throughput gets worse as it falls: write throughput:-5%"},
		{in: "p99+10%", wantErr: "no ':' between the metric and the change"},
		{in: "p42:+10%", wantErr: `unknown metric "p42"`},
		{in: "p99:+", wantErr: "no change after ':'"},
		{in: "p99:+ten%", wantErr: `"ten%" is not a percentage`},
		{in: "p99:+2", wantErr: `"2" has no unit`},
		{in: "errors:+lots", wantErr: `"lots" is not a number of percentage points`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFailOn(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "e.g. p99:+10%") {
					t.Fatalf("error %v, want one containing %q and the syntax", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Metric.Name != tt.metric || f.Relative != tt.relative || math.Abs(f.Limit-tt.limit) > 1e-9 {
				t.Errorf("got %s relative %v limit %v; want %s %v %v", f.Metric.Name, f.Relative, f.Limit, tt.metric, tt.relative, tt.limit)
			}
			f.text = ""
			back, err := ParseFailOn(f.String())
			if err != nil || back.Metric != f.Metric || back.Relative != f.Relative || math.Abs(back.Limit-f.Limit) > 1e-9 {
				t.Errorf("canonical form %q reads back as %+v, %v", f.String(), back, err)
			}
		})
	}
}

// TestFailOnCheck applies rules to the golden comparison: p50 rose significantly by
// 28.86% (from 100.5 to 129.5 µs), throughput and errors did not change significantly.
func TestFailOnCheck(t *testing.T) {
	old, new := resultfixture.GoldenSides()
	c, err := Compare(old, new, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule    string
		want    int
		wantErr string
	}{
		{rule: "p50:+10%", want: 1},
		{rule: "p50:+28%", want: 1},
		{rule: "p50:+29%", want: 0},
		{rule: "p50:+28us", want: 1},
		{rule: "p50:+29us", want: 0},
		{rule: "p99:+10%", want: 1},
		{rule: "throughput:-0%", want: 0}, // not significant
		{rule: "errors:+0", want: 0},      // not significant
		{rule: "max:+10%", wantErr: "has no max with figures on both sides"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			f, err := ParseFailOn(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			regs, err := f.Check(c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(regs) != tt.want {
				t.Fatalf("%d regressions %q, want %d", len(regs), regs, tt.want)
			}
			for _, r := range regs {
				if r.Stage != "steady" || r.Command != "HARTBEAT" || !strings.Contains(r.Message, `stage "steady" HARTBEAT: `+f.Metric.Name+" went from") {
					t.Errorf("regression %+v", r)
				}
			}
		})
	}
}

// TestFailOnFromZero: a relative rule on a metric whose old median is 0 fails on any
// significant worsening (the change is infinite).
func TestFailOnFromZero(t *testing.T) {
	var old, new []*resultfmt.Result
	for i := 0; i < 6; i++ {
		old = append(old, synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{Tput: 100, P50: 100})))
		new = append(new, synthRun(synthMeta(), t0.Add(time.Hour+time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{Tput: 100, P50: 100, Err: uint64(10 + i)})))
	}
	c, err := Compare(old, new, CompareOptions{Metrics: []string{"errors"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule string
		want int
	}{
		{"errors:+1000%", 1},
		{"errors:+0.1", 1},
		{"errors:+0.2", 0}, // at most 15/10000 = 0.15 points
	}
	for _, tt := range tests {
		f, err := ParseFailOn(tt.rule)
		if err != nil {
			t.Fatal(err)
		}
		regs, err := f.Check(c)
		if err != nil || len(regs) != tt.want {
			t.Errorf("%s: %q, %v; want %d regressions", tt.rule, regs, err, tt.want)
		}
		if len(regs) > 0 && tt.rule == "errors:+1000%" && !math.IsInf(regs[0].Change, 1) {
			t.Errorf("%s: change %v, want +Inf from 0", tt.rule, regs[0].Change)
		}
	}
}

// FuzzParseThreshold: any input either fails with the syntax help or gives a threshold
// whose canonical form reads back to the same threshold.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p99<5ms", "errors<0.1%", "p50<=2ms", "throughput>=1000/s", "p99{command=GROUPADD,stage=*}<10ms", "p99<<", "{}<1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			if !strings.Contains(err.Error(), "e.g. p99<5ms") {
				t.Errorf("error without the syntax help: %v", err)
			}
			return
		}
		th.text = ""
		back, err := ParseThreshold(th.String())
		if err != nil {
			t.Fatalf("%q parsed, but its canonical form %q does not: %v", s, th.String(), err)
		}
		if back.Metric != th.Metric || back.Op != th.Op || back.Command != th.Command || back.Stage != th.Stage ||
			math.Abs(back.Limit-th.Limit) > 1e-9*math.Max(1, math.Abs(th.Limit)) {
			t.Errorf("%q → %q reads back as %+v, want %+v", s, th.String(), back, th)
		}
	})
}
