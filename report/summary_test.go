package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
)

func TestSummaryGolden(t *testing.T) {
	tests := []struct {
		name   string
		result func() *resultfmt.Result
		opts   SummaryOptions
		want   []string // must appear, besides the golden comparison
	}{
		{
			name:   "full",
			result: func() *resultfmt.Result { return resultfmt.FromLoadgen(fullMeta(), fullRun()) },
			want: []string{
				"INTERRUPTED (interrupt signal)",
				"WARNING: the generator could not keep up: send delay p99 was 81ms",
				"These figures measure dmbench, not the server",
				"(includes the embedded broker)",
				"stalls: 2",
				"warm-up: 5.0s, 4000 sent, 3990 ok: excluded",
				"replies tied to no request: 2 undecodable, 1 with an id never sent",
			},
		},
		{
			name:   "full_warmup",
			result: func() *resultfmt.Result { return resultfmt.FromLoadgen(fullMeta(), fullRun()) },
			opts:   SummaryOptions{Warmup: true},
			want:   []string{"\nwarm-up (excluded): 5.0s from +0s\n"},
		},
		{
			name:   "minimal",
			result: func() *resultfmt.Result { return resultfmt.FromLoadgen(minimalMeta(), minimalRun()) },
			want:   []string{"external server", "stalls: none"},
		},
		{
			name:   "never_ran",
			result: func() *resultfmt.Result { return resultfmt.FromLoadgen(minimalMeta(), nil) },
			want:   []string{"no stage ran"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Summary(&buf, tt.result(), tt.opts); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("summary lacks %q", w)
				}
			}
			golden(t, "summary_"+tt.name+".golden", buf.Bytes())
		})
	}
}

func TestSummaryNoWarningWhenNotBound(t *testing.T) {
	tests := []struct {
		name     string
		bound    bool
		embedded bool
		warn     bool
		broker   bool
	}{
		{"clean external", false, false, false, false},
		{"clean embedded", false, true, false, true},
		{"bound external", true, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := minimalRun()
			lr.Generator.Bound = tt.bound
			m := minimalMeta()
			m.Target.Embedded = tt.embedded
			var buf bytes.Buffer
			if err := Summary(&buf, resultfmt.FromLoadgen(m, lr), SummaryOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(buf.String(), "WARNING: the generator could not keep up"); got != tt.warn {
				t.Errorf("warning shown = %v, want %v", got, tt.warn)
			}
			if got := strings.Contains(buf.String(), "includes the embedded broker"); got != tt.broker {
				t.Errorf("embedded-broker note shown = %v, want %v", got, tt.broker)
			}
		})
	}
}

func TestSummaryJSONGolden(t *testing.T) {
	tests := []struct {
		name   string
		result func() *resultfmt.Result
	}{
		{"full", func() *resultfmt.Result { return resultfmt.FromLoadgen(fullMeta(), fullRun()) }},
		{"minimal", func() *resultfmt.Result { return resultfmt.FromLoadgen(minimalMeta(), minimalRun()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.result()
			var buf bytes.Buffer
			if err := SummaryJSON(&buf, r); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(buf.Bytes(), []byte(`"histogram"`)) {
				t.Error("the JSON summary holds encoded histograms; it should leave them to result.json")
			}
			if r.Stages[0].Commands[0].Corrected.Histogram == "" {
				t.Error("SummaryJSON stripped the histograms of the caller's Result, not of a copy")
			}
			var back resultfmt.Result
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatalf("the JSON summary does not parse as a Result: %v", err)
			}
			if got, want := back.Stages[0].Commands[0].Corrected.P99US, r.Stages[0].Commands[0].Corrected.P99US; got != want {
				t.Errorf("p99 read back = %d, want %d", got, want)
			}
			golden(t, "summary_"+tt.name+".json.golden", buf.Bytes())
		})
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestSummaryWriteError(t *testing.T) {
	for _, after := range []int{0, 3} {
		err := Summary(&failWriter{after: after}, resultfmt.FromLoadgen(fullMeta(), fullRun()), SummaryOptions{})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d writes: err = %v, want the write error", after, err)
		}
	}
}

func TestFmtMicros(t *testing.T) {
	tests := []struct {
		us   int64
		want string
	}{
		{0, "0µs"},
		{999, "999µs"},
		{1000, "1.00ms"},
		{1234, "1.23ms"},
		{9996, "10.0ms"},
		{12345, "12.3ms"},
		{99960, "100ms"},
		{123456, "123ms"},
		{999_999, "1000ms"},
		{1_000_000, "1.00s"},
		{72_000_000, "72.0s"},
		{600_000_000, "600s"},
	}
	for _, tt := range tests {
		if got := fmtMicros(tt.us); got != tt.want {
			t.Errorf("fmtMicros(%d) = %q, want %q", tt.us, got, tt.want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{500 * time.Microsecond, "500µs"},
		{250 * time.Millisecond, "250ms"},
		{0, "0s"},
		{5 * time.Second, "5.0s"},
		{59900 * time.Millisecond, "59.9s"},
		{90 * time.Second, "1m30s"},
		{3*time.Hour + 2*time.Second, "3h0m2s"},
	}
	for _, tt := range tests {
		if got := fmtDuration(tt.d); got != tt.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
