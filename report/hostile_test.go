package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/serverview"
)

// evil is text from outside that would drive a terminal: it clears the screen (ESC [2J),
// sets the window title (OSC), forges a line of the summary (CR LF), reverses what follows
// (a bidi override), and holds a C1 CSI, a DEL and a byte that is not UTF-8.
const evil = "evil\x1b[2J\x1b]0;pwned\x07\r\nstage 9 \"fake\": 0 errors\u202e\u009b2J\x7f\xff"

// evilShown is evil as printed: every one of those escaped visibly.
const evilShown = `evil\x1b[2J\x1b]0;pwned\x07\r\nstage 9 "fake": 0 errors\u202e\u009b2J\x7f\xff`

// inert fails t when out holds anything but printable text and newlines (a control
// character, a bidi formatting character, or invalid UTF-8), or a line evil forged.
func inert(t *testing.T, what, out string) {
	t.Helper()
	inertPage(t, what, out)
	if strings.Contains(out, "\nstage 9") || strings.Contains(out, "\n  stage 9") {
		t.Errorf("%s: a forged line made it into the output:\n%s", what, out)
	}
}

// inertPage is inert for an HTML page, where a newline from a result's string stays a
// newline: the browser shows it as a space, and it forges nothing.
func inertPage(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: not valid UTF-8:\n%q", what, out)
	}
	for i, r := range out {
		if r == '\n' {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			t.Errorf("%s: raw %U at byte %d: %q", what, r, i, out[max(0, i-40):min(len(out), i+40)])
			return
		}
	}
}

// hostileResult is fullRun with a server view whose reports, and a result whose every
// string from outside, hold evil.
func hostileResult(t *testing.T) *resultfmt.Result {
	t.Helper()
	m := fullMeta()
	m.Host, m.ToolVersion, m.GoVersion, m.OS, m.Arch = evil, evil, evil, evil, evil
	m.Scenario.Name, m.Scenario.File = evil, evil
	m.Target.Address, m.Target.BrokerMode, m.Target.Faults = evil, evil, []string{evil}
	m.Transport, m.InterruptReason = evil, evil
	m.Labels = map[string]string{"broker": evil, evil: "x"}
	lr := fullRun()
	lr.Stages[0].Name = evil
	lr.Generator.Reasons = []string{evil}
	lr.Generator.PacerNote = evil
	lr.Connections.DisconnectCauses = map[string]uint64{evil: 3}
	r := resultfmt.FromLoadgen(m, lr)
	r.Stages[1].Commands[0].Command = evil
	r.Warnings = []string{evil}
	r.SetServerView(fullView(t, func(v *serverview.View) {
		for i := range v.Snapshots {
			rep := v.Snapshots[i].Report
			rep.Server, rep.Version, rep.Mode, rep.Instance = evil, evil, evil, evil
		}
		v.Snapshots[2].Label = evil
		p := v.Snapshots[2].Report
		p.Extra = map[string]any{evil: evil}
		p.Missing = []string{evil}
	}))
	r.ServerView.Total.Problem = evil
	r.ServerView.Total.Others = map[string]uint64{evil: 2}
	r.ServerView.Stages[0].Commands[0].Note = evil
	return r
}

// TestSummaryEscapesHostileText prints a result whose strings from outside (the server's
// report: server, version, mode; labels; names, notes and causes read from result.json)
// would drive a terminal: the summary must show them escaped, at every width, and hold no
// raw control character or forged line.
func TestSummaryEscapesHostileText(t *testing.T) {
	r := hostileResult(t)
	tests := []struct {
		name string
		opts SummaryOptions
		want []string // flat (whitespace collapsed), as the text wraps
	}{
		{"default width", SummaryOptions{}, nil},
		{"80 columns", SummaryOptions{Width: 80}, nil},
		{"wide, warm-up", SummaryOptions{Width: 250, Warmup: true}, nil},
	}
	want := []string{
		"server view: " + evilShown + " (version " + evilShown + ", mode " + evilShown + ", instance " + evilShown + ")",
		"labels broker=" + evilShown + " " + evilShown + "=x",
		"scenario " + evilShown + " (file " + evilShown,
		"target " + evilShown + " (embedded broker; mode " + evilShown + "; faults " + evilShown + "), transport " + evilShown,
		"INTERRUPTED (" + evilShown + ")",
		`stage 1 "` + evilShown + `"`,
		"warning: " + evilShown,
		"note: " + evilShown,
		"lost: " + evilShown + " 3",
		"server side absent: " + evilShown,
		"report fields dmbench does not read (kept raw in result.json): " + evilShown + "=",
		"absent from the server's reports (shown as absent, not zero): " + evilShown,
		"(other clients?): " + evilShown + " 2",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Summary(&b, r, tt.opts); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			inert(t, "summary", out)
			for _, w := range want {
				if !strings.Contains(flat(out), flat(w)) {
					t.Errorf("the summary lacks %q", w)
				}
			}
			if !strings.Contains(out, "  "+evilShown) {
				t.Errorf("the command's row lacks its escaped name %q", evilShown)
			}
		})
	}
}

// TestSummaryJSONEscapesHostileText checks that the JSON summary carries the hostile
// strings as JSON escapes only, and that they decode back to what the result held.
func TestSummaryJSONEscapesHostileText(t *testing.T) {
	var b bytes.Buffer
	if err := SummaryJSON(&b, hostileResult(t)); err != nil {
		t.Fatal(err)
	}
	inert(t, "JSON summary", b.String())
	var back resultfmt.Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	valid := strings.ToValidUTF8(evil, "\uFFFD") // encoding/json's way with invalid UTF-8
	for _, got := range []string{back.Meta.Host, back.Meta.Labels["broker"], back.ServerView.Snapshots[0].Report.Server, back.Stages[1].Commands[0].Command} {
		if got != valid {
			t.Errorf("decoded %q, want %q", got, valid)
		}
	}
}

// TestProgressLineEscapesStage checks the live progress line, which rewrites itself with
// a carriage return: a stage name's CR or ESC must not reach the terminal.
func TestProgressLineEscapesStage(t *testing.T) {
	line := ProgressLine(loadgen.Progress{Elapsed: 2 * time.Second, Total: 10 * time.Second, Stage: evil, AchievedRate: 100, TargetRate: 100})
	inert(t, "progress line", line)
	if strings.Contains(line, "\n") || !strings.Contains(line, " "+evilShown+": ") {
		t.Errorf("progress line %q, want the stage escaped on one line", line)
	}
}

// TestComparisonEscapesHostileText compares results whose stage and command names,
// scenario, labels and hosts hold evil, in every format: nothing raw may be printed, the
// text table must stay aligned, and CSV and JSON must still parse.
func TestComparisonEscapesHostileText(t *testing.T) {
	old, new := resultfixture.GoldenSides()
	for i, r := range append(old, new...) {
		r.Meta.Scenario.Name = evil
		r.Meta.Host = fmt.Sprintf("%s%d", evil, i%2)
		r.Meta.Labels[evil] = evil
		r.Stages[0].Name = evil
		r.Stages[0].Commands[0].Command = evil
	}
	c, err := comparison.Compare(old, new, comparison.CompareOptions{OldName: "old" + evil, NewName: "new"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{FormatText, FormatMarkdown, FormatCSV, FormatJSON} {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteComparison(&b, c, f); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			inert(t, string(f), out)
			switch f {
			case FormatText, FormatMarkdown:
				if !strings.Contains(out, evilShown) {
					t.Errorf("the comparison lacks the escaped name %q:\n%s", evilShown, out)
				}
			case FormatCSV:
				recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if err != nil {
					t.Fatalf("not CSV: %v", err)
				}
				if recs[1][0] != evilShown || recs[1][1] != evilShown {
					t.Errorf("CSV row %q, want the stage and command escaped", recs[1])
				}
			case FormatJSON:
				var doc struct {
					Rows []struct {
						Stage string `json:"stage"`
					} `json:"rows"`
				}
				if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc.Rows[0].Stage != strings.ToValidUTF8(evil, "\uFFFD") {
					t.Errorf("JSON rows %+v (%v), want the stage decoded whole", doc.Rows, err)
				}
			}
			if f == FormatText {
				// Each table's rows line up: the change column starts at one offset.
				for _, block := range strings.Split(out, "\n\n")[1:] {
					col := -1
					for _, l := range strings.Split(block, "\n") {
						i := strings.Index(l, "(p=")
						if i < 0 {
							continue
						}
						if n := utf8.RuneCountInString(l[:i]); col >= 0 && n != col {
							t.Errorf("misaligned row %q (column %d, want %d)", l, n, col)
						} else {
							col = n
						}
					}
				}
			}
		})
	}
}

// TestHTMLEscapesHostileText checks the HTML pages: markup is html/template's to escape;
// control characters and bidi overrides, which it leaves, must not be in the page raw.
func TestHTMLEscapesHostileText(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, hostileResult(t), nil); err != nil {
		t.Fatal(err)
	}
	inertPage(t, "run page", b.String())
	if !strings.Contains(b.String(), `evil\x1b[2J`) {
		t.Error("the run page lacks the escaped text")
	}
	old, new := resultfixture.GoldenSides()
	old[0].Stages[0].Name = evil
	c, err := comparison.Compare(old, new, comparison.CompareOptions{OldName: evil, NewName: "new"})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := ComparisonHTML(&b, c, nil); err != nil {
		t.Fatal(err)
	}
	inertPage(t, "comparison page", b.String())
}
