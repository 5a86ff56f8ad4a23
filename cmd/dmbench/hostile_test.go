package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/resultfmt"
)

// hostile is text from outside that would drive a terminal: it clears the screen, sets
// the window title (OSC), forges a line (CR LF), reverses what follows (a bidi override)
// and holds a C1 CSI.
const hostile = "srv\x1b[2J\x1b]0;pwned\x07\r\nFORGED\u202e\u009b2J"

// hostileShown is hostile as dmbench must print it.
const hostileShown = `srv\x1b[2J\x1b]0;pwned\x07\r\nFORGED\u202e\u009b2J`

// inertOutput fails t when out holds a raw control character (but the newline, and the
// tab that hdrhistogram's percentile spectrum lays its columns out with), a bidi
// formatting character or invalid UTF-8, or a line hostile forged.
func inertOutput(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s is not valid UTF-8: %q", what, out)
	}
	for i, r := range out {
		if r != '\n' && r != '\t' && (r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)) {
			t.Errorf("%s holds a raw %U at byte %d: %q", what, r, i, out[max(0, i-40):min(len(out), i+40)])
			return
		}
	}
	if strings.Contains(out, "\nFORGED") {
		t.Errorf("%s holds a forged line:\n%s", what, out)
	}
}

// firstCommand returns stage 0's first command of a result document.
func firstCommand(doc map[string]any) map[string]any {
	return doc["stages"].([]any)[0].(map[string]any)["commands"].([]any)[0].(map[string]any)
}

// makeHostile makes a run's result.json someone else's: a server whose PERFRPRT named
// itself, its version and mode with hostile, a label, a stage and a command too, and the
// host when host is true.
func makeHostile(t *testing.T, dir string, host bool) {
	t.Helper()
	resultfixture.EditResultJSON(t, dir, func(doc map[string]any) {
		meta := doc["meta"].(map[string]any)
		meta["labels"] = map[string]any{"broker": hostile}
		if host {
			meta["host"] = hostile
		}
		doc["stages"].([]any)[0].(map[string]any)["name"] = hostile
		firstCommand(doc)["command"] = "HART" + hostile
		doc["server_view"] = map[string]any{
			"available": true, "sent": 1, "poll_every_us": 0, "timeout_us": 2000000,
			"snapshots": []any{map[string]any{"label": "start", "polls": 1, "reply": "PERFRPRT", "report": map[string]any{
				"schema": 1, "server": hostile, "version": hostile, "mode": hostile, "instance": "1",
				"extra": map[string]any{hostile: hostile},
			}}},
			"over_run": map[string]any{},
		}
	})
}

// TestReportEscapesHostileResult reports someone else's result.json whose server report,
// label, host, stage and command would drive the terminal: every output of report must
// show them escaped and hold nothing raw; its JSON must still parse.
func TestReportEscapesHostileResult(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	_, _, runs, _ := resultSets(t)
	dir := runs[0]
	makeHostile(t, dir, true)
	tests := []struct {
		name    string
		args    []string
		want    int
		wantOut []string
		wantErr []string
	}{
		{"summary", []string{"report", dir, "--width", "400"}, exitOK, []string{ // wide: no line wraps
			"server view: " + hostileShown + " (version " + hostileShown + ", mode " + hostileShown + ", instance 1)",
			"labels broker=" + hostileShown,
			"stage 1 \"" + hostileShown + "\"",
			"HART" + hostileShown,
		}, nil},
		{"spectrum", []string{"report", dir, "--spectrum"}, exitOK, []string{"\nHART" + hostileShown + " corrected latency"}, nil},
		{"json", []string{"report", dir, "--format", "json", "--spectrum"}, exitOK, nil, nil},
		{"threshold", []string{"report", dir, "--threshold", "p99<1us"}, exitThreshold, nil,
			[]string{"threshold not met: p99<1us: HART" + hostileShown + " over the whole run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := capture(t, tt.args...)
			if code != tt.want {
				t.Fatalf("exit code %d, want %d\n%s", code, tt.want, errOut)
			}
			inertOutput(t, "stdout", out)
			inertOutput(t, "stderr", errOut)
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tt.name == "json" {
				var doc map[string]any
				if err := json.Unmarshal([]byte(out), &doc); err != nil {
					t.Errorf("not JSON: %v", err)
				}
			}
		})
	}
}

// TestCompareEscapesHostileResults compares sets of someone else's runs, with a hostile
// stage and command, and a hostile host on the new side: the table, the warnings and the
// regressions must show them escaped.
func TestCompareEscapesHostileResults(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	old, new, oldRuns, newRuns := resultSets(t)
	for _, dir := range oldRuns {
		makeHostile(t, dir, false)
	}
	for _, dir := range newRuns {
		makeHostile(t, dir, true)
	}
	for _, format := range []string{"text", "markdown", "csv", "json"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := capture(t, "compare", old, new, "--format", format, "--fail-on", "p50:+10%")
			if code != exitRegression {
				t.Fatalf("exit code %d, want %d\n%s", code, exitRegression, errOut)
			}
			inertOutput(t, "stdout", out)
			inertOutput(t, "stderr", errOut)
			regression := "\" HART" + hostileShown + ": p50 went from" // the stage as comparison quotes it (%q)
			if !strings.Contains(errOut, regression) {
				t.Errorf("stderr lacks %q:\n%s", regression, errOut)
			}
			if format == "csv" && !strings.Contains(errOut, "warning: host differs: old test, new "+hostileShown) {
				t.Errorf("stderr lacks the escaped host in the warning:\n%s", errOut)
			}
		})
	}
}

// TestRunEscapesLabel runs a scenario with a --label that would drive the terminal: the
// summary shows it escaped.
func TestRunEscapesLabel(t *testing.T) {
	t.Setenv("CI", "true")
	code, out, errOut := capture(t, "run", "testdata/tiny.yaml", "--short", "-o", t.TempDir(), "--label", "broker="+hostile)
	if code != exitOK {
		t.Fatalf("exit code %d\n%s", code, errOut)
	}
	inertOutput(t, "stdout", out)
	if !strings.Contains(out, "labels broker="+hostileShown) {
		t.Errorf("the summary lacks the escaped label:\n%s", out)
	}
}

// TestResultFilesBounded gives report and compare result files that are too large or
// damaged: each is refused, exit 1, naming the file and what is wrong, and the too large
// ones quickly (a file's size is checked before it is read; /dev/zero, which never ends,
// is no JSON from its first byte).
func TestResultFilesBounded(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	old, new, oldRuns, _ := resultSets(t)
	huge := filepath.Join(t.TempDir(), "huge")
	if err := os.MkdirAll(huge, 0o755); err != nil {
		t.Fatal(err)
	}
	hugeFile := filepath.Join(huge, resultfmt.ResultFile)
	f, err := os.Create(hugeFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(resultfmt.MaxResultSize + 1); err != nil { // sparse: no disk taken
		t.Fatal(err)
	}
	f.Close()
	damaged := oldRuns[2]
	damagedFile := filepath.Join(damaged, resultfmt.ResultFile)
	resultfixture.EditResultJSON(t, damaged, func(doc map[string]any) {
		firstCommand(doc)["corrected"].(map[string]any)["histogram"] = "HISTogramNOTbase64!!"
	})
	tooLarge := "reading results " + hugeFile + ": larger than 128 MiB, the most dmbench reads"
	corrupt := "reading results " + damagedFile + `: stage 1 "steady" HARTBEAT corrected latency: decoding a histogram: illegal base64 data`
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"report, too large", []string{"report", huge}, tooLarge},
		{"compare, too large", []string{"compare", huge, new}, "old side: " + tooLarge},
		{"report /dev/zero", []string{"report", "/dev/zero"}, "reading results /dev/zero: not valid JSON"},
		{"report, damaged", []string{"report", damaged}, corrupt},
		{"report --threshold, damaged", []string{"report", damaged, "--threshold", "p99<1s"}, corrupt},
		{"report --format json, damaged", []string{"report", damaged, "--format", "json"}, corrupt},
		{"compare, damaged", []string{"compare", old, new}, "old side: " + corrupt},
		{"compare --fail-on, damaged", []string{"compare", new, damaged, "--fail-on", "p99:+10%"}, "new side: " + corrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, _, errOut := capture(t, tt.args...)
			if code != exitFailed {
				t.Fatalf("exit code %d, want %d\n%s", code, exitFailed, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("refusing took %v", d)
			}
		})
	}
}
