package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
)

// capture runs the CLI with args and returns its exit code, stdout and stderr.
func capture(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	pipe := func() (*os.File, *os.File, *bytes.Buffer, *sync.WaitGroup) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(&buf, r)
			r.Close()
		}()
		return r, w, &buf, &wg
	}
	_, ow, obuf, owg := pipe()
	_, ew, ebuf, ewg := pipe()
	saveOut, saveErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = ow, ew
	code = run(args)
	os.Stdout, os.Stderr = saveOut, saveErr
	ow.Close()
	ew.Close()
	owg.Wait()
	ewg.Wait()
	return code, obuf.String(), ebuf.String()
}

// writeSyntheticRun writes a run of one HARTBEAT stage whose corrected latencies are
// base + 0..99 µs, 1,000 requests in 10 s, and returns its folder.
func writeSyntheticRun(t *testing.T, dir string, start time.Time, base int64) string {
	t.Helper()
	hist := func(base int64) *loadgen.Result {
		h := loadgen.NewHistogram()
		for i := int64(0); i < 1000; i++ {
			if err := h.RecordValue(base + i%100); err != nil {
				t.Fatal(err)
			}
		}
		sd := loadgen.NewHistogram()
		for i := 0; i < 1000; i++ {
			if err := sd.RecordValue(5); err != nil {
				t.Fatal(err)
			}
		}
		return &loadgen.Result{
			Start: start, End: start.Add(10 * time.Second),
			Stages: []loadgen.StageResult{{
				Name: "steady", Start: start, End: start.Add(10 * time.Second),
				Measured: loadgen.Window{Start: start, End: start.Add(10 * time.Second)},
				Commands: []*loadgen.CommandResult{{
					Command:     protocol.Heartbeat,
					Counts:      loadgen.Counts{Sent: 1000, OK: 1000},
					Corrected:   h,
					Uncorrected: h,
					SendDelay:   sd,
				}},
			}},
			Generator: loadgen.GeneratorStats{GOMAXPROCS: 2, AchievedRatio: 1},
		}
	}
	meta := resultfmt.Meta{Tool: "dmbench", ToolVersion: "devel", GoVersion: "go1.26.8", Host: "test", OS: "linux", Arch: "amd64", NumCPU: 2, GOMAXPROCS: 2, Transport: "native",
		Target: resultfmt.Target{Address: "tcp://127.0.0.1:1", Embedded: true, BrokerMode: "reference"}}
	meta.SetScenario("pipeline", "bundled:pipeline", []byte("name: pipeline\n"))
	w, err := resultfmt.Create(dir, "pipeline")
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Finish(resultfmt.FromLoadgen(meta, hist(base)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// resultSets writes two sets of five runs: old with p50 ≈ 150 µs, new ≈ 3.15 ms.
func resultSets(t *testing.T) (old, new string, oldRuns, newRuns []string) {
	t.Helper()
	root := t.TempDir()
	old, new = filepath.Join(root, "old"), filepath.Join(root, "new")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 5; i++ {
		oldRuns = append(oldRuns, writeSyntheticRun(t, old, t0.Add(time.Duration(i)*time.Minute), 100+int64(i)))
		newRuns = append(newRuns, writeSyntheticRun(t, new, t0.Add(time.Hour+time.Duration(i)*time.Minute), 3100+int64(i)))
	}
	return old, new, oldRuns, newRuns
}

func TestCompareCommand(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	old, new, oldRuns, newRuns := resultSets(t)
	tests := []cliCase{
		{name: "text", args: []string{"compare", old, new}, want: exitOK,
			wantOut: []string{"p50: median of corrected latency", "steady/HARTBEAT", "(p=0.008 n=5)", "~ (p="}},
		{name: "regression", args: []string{"compare", old, new, "--fail-on", "p50:+10%"}, want: exitRegression,
			wantErr: []string{`regression: p50:+10%: stage "steady" HARTBEAT: p50 went from`, "1 regression(s) beyond --fail-on p50:+10%"}},
		{name: "absolute regression", args: []string{"compare", old, new, "--fail-on", "p50:+2ms", "--fail-on", "throughput:-5%"}, want: exitRegression,
			wantErr: []string{"regression: p50:+2ms"}, notWantErr: "regression: throughput"},
		{name: "within the limit", args: []string{"compare", old, new, "--fail-on", "p50:+5ms"}, want: exitOK},
		{name: "not significant", args: []string{"compare", old, new, "--fail-on", "throughput:-5%"}, want: exitOK},
		{name: "an improvement", args: []string{"compare", new, old, "--fail-on", "p50:+10%", "--fail-on", "p99:+10%"}, want: exitOK},
		{name: "rule metric added", args: []string{"compare", old, new, "--fail-on", "max:+10%"}, want: exitRegression,
			wantOut: []string{"max: maximum of corrected latency"}},
		{name: "run folders a side", args: []string{"compare", "--old", oldRuns[0], "--old", oldRuns[1], "--new", newRuns[0], "--new", newRuns[1], "--fail-on", "p50:+10%"},
			want: exitOK, wantOut: []string{"need >= 4 samples to detect a difference"}, wantErr: []string{"no change is significant, so no rule can fail"}},
		{name: "markdown", args: []string{"compare", old, new, "--format", "markdown"}, want: exitOK,
			wantOut: []string{"| stage | command | metric |", "| steady | HARTBEAT | p50 |", "worse"}},
		{name: "json", args: []string{"compare", old, new, "--format", "json"}, want: exitOK, checkOut: func(t *testing.T, out string) {
			var doc struct {
				Rows []struct {
					Metric  string `json:"metric"`
					Verdict string `json:"verdict"`
				} `json:"rows"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			for _, r := range doc.Rows {
				if r.Metric == "p50" && r.Verdict != "worse" {
					t.Errorf("p50 verdict %q, want worse", r.Verdict)
				}
			}
		}},
		{name: "csv", args: []string{"compare", old, new, "--format", "csv", "--metric", "p50", "--metric", "p90"}, want: exitOK, checkOut: func(t *testing.T, out string) {
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatalf("not CSV: %v", err)
			}
			if len(recs) != 3 || recs[1][2] != "p50" || recs[2][2] != "p90" || recs[1][15] != "worse" {
				t.Errorf("CSV %q, want a header, p50 and p90 rows, p50 worse", recs)
			}
		}},
		{name: "csv warnings on stderr", args: []string{"compare", old, oldRuns[0], "--format", "csv"}, want: exitOK,
			wantErr: []string{"dmbench: warning: the run of test started 2026-01-02T03:04:05Z is on both sides"}},
		{name: "bad rule", args: []string{"compare", old, new, "--fail-on", "p50:-10%"}, want: exitUsage, wantErr: []string{"p50 gets worse as it rises"}},
		{name: "bad metric", args: []string{"compare", old, new, "--metric", "p42"}, want: exitUsage, wantErr: []string{`unknown metric "p42"`}},
		{name: "bad format", args: []string{"compare", old, new, "--format", "html"}, want: exitUsage, wantErr: []string{"use text, markdown, json or csv"}},
		{name: "bad alpha", args: []string{"compare", old, new, "--alpha", "5"}, want: exitUsage},
		{name: "one side", args: []string{"compare", old}, want: exitUsage, wantErr: []string{"give OLD and NEW, or --old and --new"}},
		{name: "both ways", args: []string{"compare", old, new, "--old", old}, want: exitUsage},
		{name: "missing", args: []string{"compare", old, filepath.Join(old, "nope")}, want: exitFailed, wantErr: []string{"new side: reading a result set:", "does not exist"}},
		{name: "run on both sides", args: []string{"compare", old, oldRuns[0]}, want: exitOK, wantOut: []string{"is on both sides"}},
	}
	runCLICases(t, tests)
}

func TestReportCommand(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	set, _, runs, _ := resultSets(t)
	runDir := runs[0] // p50 ≈ 150 µs, max 199 µs
	tests := []cliCase{
		{name: "summary", args: []string{"report", runDir}, want: exitOK, wantOut: []string{"scenario pipeline", `stage 1 "steady"`, "HARTBEAT"}},
		{name: "result.json", args: []string{"report", filepath.Join(runDir, resultfmt.ResultFile)}, want: exitOK, wantOut: []string{"HARTBEAT"}},
		{name: "spectrum", args: []string{"report", runDir, "--spectrum"}, want: exitOK,
			wantOut: []string{"HARTBEAT corrected latency (reply - intended send), all stages without warm-up, in milliseconds:", "Percentile", "#[Max     =        0.199"}},
		{name: "json", args: []string{"report", runDir, "--format", "json"}, want: exitOK, checkOut: func(t *testing.T, out string) {
			var r resultfmt.Result
			if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Stages) != 1 {
				t.Fatalf("not the JSON summary (%v):\n%s", err, out)
			}
		}},
		{name: "json spectrum", args: []string{"report", runDir, "--format", "json", "--spectrum"}, want: exitOK, checkOut: func(t *testing.T, out string) {
			var doc struct {
				Result  resultfmt.Result `json:"result"`
				Spectra map[string][]struct {
					ValueUS    int64   `json:"value_us"`
					Percentile float64 `json:"percentile"`
					Count      int64   `json:"count"`
				} `json:"spectra"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			sp := doc.Spectra["HARTBEAT"]
			if len(sp) < 10 || doc.Result.Meta.Scenario.Name != "pipeline" {
				t.Fatalf("spectrum of %d points, scenario %q", len(sp), doc.Result.Meta.Scenario.Name)
			}
			last := sp[len(sp)-1]
			if last.Percentile != 100 || last.Count != 1000 || last.ValueUS != 199 {
				t.Errorf("spectrum ends at %+v, want 100%% of 1000 at 199 µs", last)
			}
		}},
		{name: "thresholds met", args: []string{"report", runDir, "--threshold", "p50<1ms", "--threshold", "errors<0.1%", "--threshold", "throughput>=100/s"}, want: exitOK},
		{name: "threshold missed", args: []string{"report", runDir, "--threshold", "p99<100us", "--threshold", "errors<0.1%"}, want: exitThreshold,
			wantOut: []string{"HARTBEAT"}, wantErr: []string{"threshold not met: p99<100us: HARTBEAT over the whole run: p99 is 198.0µs", "1 threshold violation(s)"}},
		{name: "bad threshold", args: []string{"report", runDir, "--threshold", "p99<5"}, want: exitUsage, wantErr: []string{`threshold "p99<5"`, "has no unit"}},
		{name: "bad format", args: []string{"report", runDir, "--format", "csv"}, want: exitUsage, wantErr: []string{"report prints text or json"}},
		{name: "a set is not a run", args: []string{"report", set}, want: exitFailed, wantErr: []string{"does not exist: give a run's folder"}},
		{name: "no run", args: []string{"report"}, want: exitUsage},
	}
	runCLICases(t, tests)
}

// TestCompareRepeatOutFolders runs `run pipeline --short --repeat 2` into two -o folders
// and compares the folders as given: each holds one result set a folder down, which
// compare reads and names on stderr. The same runs, copied into other layouts, check the
// refusals: several sets in one folder, runs beside a set, and runs whose result.json was
// edited to an older schema version.
func TestCompareRepeatOutFolders(t *testing.T) {
	t.Setenv("CI", "true")
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, out := range []string{a, b} {
		if code := run([]string{"run", "pipeline", "--short", "--repeat", "2", "-o", out}); code != exitOK {
			t.Fatalf("run --repeat 2 -o %s: exit code %d", out, code)
		}
	}
	setA, setB := onlyRun(t, a), onlyRun(t, b)
	if !strings.HasSuffix(setA, "-pipeline-x2") {
		t.Fatalf("run --repeat 2 wrote %s, want a set folder named ...-pipeline-x2", setA)
	}
	runsB := subDirs(t, setB)

	// Several sets in one folder; a run beside a set.
	several := filepath.Join(root, "several")
	copyDir(t, setA, filepath.Join(several, filepath.Base(setA)))
	copyDir(t, setB, filepath.Join(several, filepath.Base(setB)))
	mixed := filepath.Join(root, "mixed")
	copyDir(t, setA, filepath.Join(mixed, filepath.Base(setA)))
	copyDir(t, runsB[0], filepath.Join(mixed, filepath.Base(runsB[0])))
	// b's runs as an older dmbench would have written them (when there is an older).
	older := filepath.Join(root, "older")
	copyDir(t, setB, filepath.Join(older, filepath.Base(setB)))
	setOlder := filepath.Join(older, filepath.Base(setB))
	for _, dir := range subDirs(t, setOlder) {
		if resultfmt.SchemaVersion > 1 {
			setSchemaVersion(t, filepath.Join(dir, resultfmt.ResultFile), resultfmt.SchemaVersion-1)
		}
	}

	tests := []cliCase{
		{name: "the -o folders", args: []string{"compare", a, b}, want: exitOK,
			wantOut: []string{"old: " + a + ", 2 runs of pipeline", "new: " + b + ", 2 runs of pipeline", "pipelined/GROUPADD", "pipelined/GROUPDIS", "throughput:"},
			wantErr: []string{"dmbench: old: read the result set " + setA + " (2 runs)\n", "dmbench: new: read the result set " + setB + " (2 runs)\n"}},
		{name: "the set folders", args: []string{"compare", setA, setB}, want: exitOK, wantOut: []string{"pipelined/GROUPADD"}},
		{name: "several sets", args: []string{"compare", several, b}, want: exitFailed,
			wantErr: []string{"old side: reading a result set: " + several + " holds 2 result sets: " + filepath.Base(setA) + " (2 runs), " + filepath.Base(setB) + " (2 runs): name the one to read"}},
		{name: "a run beside a set", args: []string{"compare", a, mixed}, want: exitFailed,
			wantErr: []string{"new side: reading a result set: " + mixed + " holds both run folders and result sets", "1 run folder " + filepath.Base(runsB[0]), "1 result set " + filepath.Base(setA) + " (2 runs)"}},
		{name: "older schema on one side", args: []string{"compare", a, older}, want: exitFailed,
			wantErr: []string{
				fmt.Sprintf("schema %d: new %s", resultfmt.SchemaVersion-1, filepath.Join(setOlder, filepath.Base(runsB[0]))),
				fmt.Sprintf("schema %d: old %s", resultfmt.SchemaVersion, setA),
				"re-run the new side with this dmbench"}},
		{name: "older schema within a side", args: []string{"compare", "--old", runsB[0], "--old", subDirs(t, setOlder)[1], "--new", a}, want: exitFailed,
			wantErr: []string{fmt.Sprintf("schema %d: old %s", resultfmt.SchemaVersion-1, subDirs(t, setOlder)[1]), "re-run the old side"}},
	}
	runCLICases(t, tests)
}

// cliCase is one CLI invocation in this process and what it must give.
type cliCase struct {
	name       string
	args       []string
	want       int      // exit code
	wantOut    []string // parts of stdout
	wantErr    []string // parts of stderr
	notWantErr string   // not on stderr
	checkOut   func(t *testing.T, out string)
}

// runCLICases runs each case as a subtest.
func runCLICases(t *testing.T, tests []cliCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := capture(t, tt.args...)
			if code != tt.want {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.want, out, errOut)
			}
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
			if tt.notWantErr != "" && strings.Contains(errOut, tt.notWantErr) {
				t.Errorf("stderr has %q:\n%s", tt.notWantErr, errOut)
			}
			if tt.checkOut != nil {
				tt.checkOut(t, out)
			}
		})
	}
}

// subDirs returns the folders inside dir, in name order.
func subDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// copyDir copies the tree src to dst, a folder that does not exist yet.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// setSchemaVersion rewrites meta.schema_version of the result.json file, leaving the rest
// as it was (numbers included).
func setSchemaVersion(t *testing.T, file string, v int) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	meta, ok := doc["meta"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no meta object", file)
	}
	meta["schema_version"] = v
	if data, err = json.MarshalIndent(doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
