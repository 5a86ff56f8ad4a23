package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dmbench/dmbench/resultfmt"
)

// summaryCase is a result whose text summary is compared with golden files: at the
// default width (testdata/summary_NAME.golden) and at 80 columns (summary_NAME_80.golden),
// or at opts.Width alone when it is set.
type summaryCase struct {
	name   string
	result func(t *testing.T) *resultfmt.Result
	opts   SummaryOptions
	want   []string // must appear, wherever the lines break, besides the golden comparison
	not    []string // must not appear
}

func summaryCases() []summaryCase {
	full := func(*testing.T) *resultfmt.Result { return resultfmt.FromLoadgen(fullMeta(), fullRun()) }
	return []summaryCase{
		{
			name:   "full",
			result: full,
			want: []string{
				"INTERRUPTED (interrupt signal)",
				"WARNING: the generator could not keep up: send delay p99 was 81ms",
				"These figures measure dmbench, not the server",
				"(includes the embedded broker)",
				"stalls: 2",
				"warm-up: 5.0s, 4000 sent, 3990 ok: excluded",
				"replies tied to no request: 2 undecodable, 1 with an id never sent",
				"HARTBEAT: 10 errors (2 unexpected replies, 8 timeouts); 2 late replies",
				"GROUPDIS: 8 errors (5 send errors, 3 abandoned)",
				"TOTAL 33000 31970 20 1066",
				"TOTAL 11000 10992 8 550",
			},
			not: []string{"EXCEPTIONS", "HARTBEAT: 0 errors"},
		},
		{
			name:   "full_wide",
			result: full,
			opts:   SummaryOptions{Width: 250},
			want: []string{
				"COMMAND SENT OK EXCEPTIONS UNEXPECTED TIMEOUTS SEND ERRORS ABANDONED OK/S P50 P90 P99 P99.9 MAX",
				"TOTAL 33000 31970 10 2 8 0 0 1066",
				"in brackets)",
			},
			not: []string{"errors ("},
		},
		{
			name:   "full_warmup",
			result: full,
			opts:   SummaryOptions{Warmup: true},
			want:   []string{"\nwarm-up (excluded): 5.0s from +0s\n"},
		},
		{
			name:   "minimal",
			result: func(*testing.T) *resultfmt.Result { return resultfmt.FromLoadgen(minimalMeta(), minimalRun()) },
			want:   []string{"external server", "stalls: none"},
			not:    []string{"TOTAL"},
		},
		{
			name:   "never_ran",
			result: func(*testing.T) *resultfmt.Result { return resultfmt.FromLoadgen(minimalMeta(), nil) },
			want:   []string{"no stage ran"},
		},
	}
}

func TestSummaryGolden(t *testing.T) { testSummaries(t, summaryCases()) }

// testSummaries checks each case's text summary against its golden files.
func testSummaries(t *testing.T, cases []summaryCase) {
	for _, tt := range cases {
		widths := []int{0, 80}
		if tt.opts.Width != 0 {
			widths = []int{tt.opts.Width}
		}
		for _, width := range widths {
			name := "summary_" + tt.name
			if width == 80 {
				name += "_80"
			}
			t.Run(name, func(t *testing.T) {
				opts := tt.opts
				opts.Width = width
				out := summaryText(t, tt.result(t), opts)
				for _, w := range tt.want {
					if !strings.Contains(flat(out), flat(w)) {
						t.Errorf("summary lacks %q", w)
					}
				}
				for _, w := range tt.not {
					if strings.Contains(flat(out), flat(w)) {
						t.Errorf("summary has %q", w)
					}
				}
				golden(t, name+".golden", []byte(out))
			})
		}
	}
}

func summaryText(t *testing.T, r *resultfmt.Result, opts SummaryOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Summary(&buf, r, opts); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// flat is s with every run of spaces and line breaks made one space: the text
// whatever the width it was wrapped to.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestSummaryFitsWidth checks that at each width no line of any fixture's summary is
// wider, but for a line of a single word (none of the fixtures has one).
func TestSummaryFitsWidth(t *testing.T) {
	for _, tt := range append(summaryCases(), serverViewCases()...) {
		for _, width := range []int{80, 100, 120, 160} {
			opts := tt.opts
			opts.Width = width
			out := summaryText(t, tt.result(t), opts)
			for i, line := range strings.Split(out, "\n") {
				if n := utf8.RuneCountInString(line); n > width {
					t.Errorf("%s at %d columns: line %d is %d wide:\n%s", tt.name, width, i+1, n, line)
				}
			}
		}
	}
}

// TestSummaryDefaultWidth checks that Width 0 lays the summary out for DefaultWidth.
func TestSummaryDefaultWidth(t *testing.T) {
	for _, tt := range append(summaryCases(), serverViewCases()...) {
		if tt.opts.Width != 0 {
			continue
		}
		opts := tt.opts
		got := summaryText(t, tt.result(t), opts)
		opts.Width = DefaultWidth
		if want := summaryText(t, tt.result(t), opts); got != want {
			t.Errorf("%s: the summary at width 0 differs from the one at %d:\n%s\n---\n%s", tt.name, DefaultWidth, got, want)
		}
	}
}

// TestStageTableLayouts checks every layout of a stage table: the counts, the TOTAL row
// of a stage with more commands, and the percentiles it shows.
func TestStageTableLayouts(t *testing.T) {
	r := resultfmt.FromLoadgen(fullMeta(), fullRun())
	for i, l := range stageLayouts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var two, one strings.Builder
			stageTable(&two, &r.Stages[0], l)
			single := r.Stages[1]
			single.Commands = single.Commands[1:]
			stageTable(&one, &single, l)
			lines := strings.Split(strings.TrimSuffix(two.String(), "\n"), "\n")
			errs := "20"
			if l.byKind {
				errs = "10 2 8 0 0"
			}
			if got, want := flat(lines[len(lines)-1]), "TOTAL 33000 31970 "+errs+" 1066"; got != want {
				t.Errorf("total row %q, want %q", got, want)
			}
			head := flat(lines[0])
			for _, p := range l.percentiles {
				if !strings.Contains(head, " "+p.name) {
					t.Errorf("header %q lacks %s", head, p.name)
				}
			}
			if want := 1 + 2*(1+b2i(l.uncorrectedBelow)) + 1; len(lines) != want {
				t.Errorf("%d lines, want %d:\n%s", len(lines), want, two.String())
			}
			if strings.Contains(one.String(), "TOTAL") {
				t.Errorf("a stage of one command has a total row:\n%s", one.String())
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestWrapLine(t *testing.T) {
	long := "/home/someone/" + strings.Repeat("scenarios/", 4) + "churn.yaml"
	tests := []struct {
		line  string
		width int
		want  []string
	}{
		{"short enough", 20, []string{"short enough"}},
		{"", 5, []string{""}},
		{"one two three four", 9, []string{"one two", "  three", "  four"}},
		{"  lost: a b c d e", 10, []string{"  lost: a", "    b c d", "    e"}},
		{"µs µs µs µs", 5, []string{"µs µs", "  µs", "  µs"}},
		// A word wider than the width keeps a line of its own, whole.
		{"scenario x (file " + long + ", sha256 0123)", 30, []string{"scenario x (file", "  " + long + ",", "  sha256 0123)"}},
	}
	for _, tt := range tests {
		if got := wrapLine(tt.line, tt.width); !slices.Equal(got, tt.want) {
			t.Errorf("wrapLine(%q, %d) = %q, want %q", tt.line, tt.width, got, tt.want)
		}
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
