package resultfmt_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
)

// sentInterval is what a test handed to Writer.Interval, to check the logs against.
type sentInterval struct {
	start, end         time.Time
	corrected, uncorr  int64
	correctedMaxMicros int64
}

// feedIntervals sends n one-second intervals per command, starting at start (mid-second,
// as a real run's are), with i+1 and 2i+1 values, and returns what was sent per command.
func feedIntervals(t *testing.T, w *resultfmt.Writer, start time.Time, n int, cmds ...protocol.Command) map[protocol.Command][]sentInterval {
	t.Helper()
	sent := map[protocol.Command][]sentInterval{}
	for i := 0; i < n; i++ {
		for ci, cmd := range cmds {
			if cmd == protocol.GroupAdd && i == 0 {
				continue // a command that first shows up later, in a log opened later
			}
			c, u := loadgen.NewHistogram(), loadgen.NewHistogram()
			for v := 0; v <= i; v++ {
				if err := c.RecordValue(int64(1000*(v+1) + ci)); err != nil {
					t.Fatal(err)
				}
			}
			for v := 0; v < 2*i+1; v++ {
				if err := u.RecordValue(int64(100 + v)); err != nil {
					t.Fatal(err)
				}
			}
			iv := loadgen.Interval{
				Start:       start.Add(time.Duration(i) * time.Second),
				End:         start.Add(time.Duration(i+1) * time.Second),
				Command:     cmd,
				Corrected:   c,
				Uncorrected: u,
				Counts:      loadgen.Counts{Sent: uint64(i + 1), OK: uint64(i + 1)},
			}
			sent[cmd] = append(sent[cmd], sentInterval{iv.Start, iv.End, c.TotalCount(), u.TotalCount(), c.Max()})
			if err := w.Interval(iv); err != nil {
				t.Fatal(err)
			}
		}
	}
	return sent
}

// readLog reads every interval of an .hlog with HdrHistogram's own reader.
func readLog(t *testing.T, path string) []*hdrhistogram.Histogram {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := hdrhistogram.NewHistogramLogReader(f)
	var hs []*hdrhistogram.Histogram
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h == nil {
			return hs
		}
		hs = append(hs, h)
	}
}

// spectrum is a parsed .hgrm: its data rows and footer figures.
type spectrum struct {
	comment    string
	rows       int
	lastValue  float64 // ms
	lastCount  int64
	footerMax  float64
	footerTotl int64
}

func parseSpectrum(t *testing.T, path string) spectrum {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s spectrum
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		text := sc.Text()
		fields := strings.Fields(text)
		switch {
		case line == 0:
			s.comment = text
		case strings.HasPrefix(text, "#[Max"):
			// #[Max     =        2.001, Total count    =          3]
			parts := strings.FieldsFunc(text, func(r rune) bool { return r == '=' || r == ',' || r == ']' })
			max, err1 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
			total, err2 := strconv.ParseInt(strings.TrimSpace(parts[3]), 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: footer %q does not parse: %v %v", path, text, err1, err2)
			}
			s.footerMax, s.footerTotl = max, total
		case strings.HasPrefix(text, "#") || len(fields) != 4 || fields[0] == "Value":
		default:
			v, err1 := strconv.ParseFloat(fields[0], 64)
			c, err2 := strconv.ParseInt(fields[2], 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: row %q does not parse: %v %v", path, text, err1, err2)
			}
			s.rows++
			s.lastValue, s.lastCount = v, c
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestWriterRun(t *testing.T) {
	tests := []struct {
		name           string
		runName        string
		uncorrected    bool
		interrupted    bool
		intervals      int
		wantDir        string
		wantFiles      []string
		wantNoSpectrum bool
	}{
		{
			name: "complete", runName: "keepalive-storm", uncorrected: true, intervals: 4,
			wantDir: "20260102T030405Z-keepalive-storm",
			wantFiles: []string{"GROUPADD.hgrm", "GROUPADD.hlog", "GROUPADD.uncorrected.hlog", "GROUPDIS.hgrm",
				"HARTBEAT.hgrm", "HARTBEAT.hlog", "HARTBEAT.uncorrected.hlog", "result.json"},
		},
		{
			name: "interrupted, odd name", runName: "../my scenario/1", interrupted: true, intervals: 2,
			wantDir:   "20260102T030405Z-my-scenario-1",
			wantFiles: []string{"GROUPADD.hgrm", "GROUPADD.hlog", "GROUPDIS.hgrm", "HARTBEAT.hgrm", "HARTBEAT.hlog", "result.json"},
		},
		{
			name: "no intervals", runName: "short", intervals: 0,
			wantDir:   "20260102T030405Z-short",
			wantFiles: []string{"GROUPADD.hgrm", "GROUPDIS.hgrm", "HARTBEAT.hgrm", "result.json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results") // Create makes it
			w, err := resultfmt.Create(out, tt.runName)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			w.LogUncorrected = tt.uncorrected
			if !strings.HasPrefix(filepath.Base(w.TempDir()), ".") {
				t.Errorf("temporary folder %s is not hidden", w.TempDir())
			}
			ivStart := t0.Add(5*time.Second + 250*time.Millisecond)
			sent := feedIntervals(t, w, ivStart, tt.intervals, protocol.Heartbeat, protocol.GroupAdd)

			lr := fullRun()
			lr.Interrupted = tt.interrupted
			meta := fullMeta()
			meta.Interrupted = false
			res := resultfmt.FromLoadgen(meta, lr)
			dir, err := w.Finish(res)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := dir, filepath.Join(out, tt.wantDir); got != want {
				t.Errorf("Finish put the run in %s, want %s", got, want)
			}
			if got := listDir(t, out); !reflect.DeepEqual(got, []string{tt.wantDir}) {
				t.Errorf("results folder holds %v, want only %s (the temporary folder must be gone)", got, tt.wantDir)
			}
			if got := listDir(t, dir); !reflect.DeepEqual(got, tt.wantFiles) {
				t.Errorf("run folder holds %v, want %v", got, tt.wantFiles)
			}

			// result.json round-trips.
			back, err := resultfmt.Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, res) {
				t.Errorf("result.json read back differs from what was written:\ngot  %+v\nwant %+v", back.Meta, res.Meta)
			}
			if back.Meta.Interrupted != tt.interrupted {
				t.Errorf("interrupted = %v, want %v", back.Meta.Interrupted, tt.interrupted)
			}
			// Its histograms decode to the ones recorded.
			h, err := back.Stages[0].Commands[0].Corrected.Decode()
			if err != nil {
				t.Fatal(err)
			}
			if orig := lr.Stages[0].Commands[0].Corrected; !h.Equals(orig) {
				t.Errorf("decoded histogram (count %d, max %d) differs from the recorded one (count %d, max %d)",
					h.TotalCount(), h.Max(), orig.TotalCount(), orig.Max())
			}

			// The interval logs hold the intervals written, in order, with their times.
			for cmd, ivs := range sent {
				for _, kind := range []string{"", ".uncorrected"} {
					path := filepath.Join(dir, string(cmd)+kind+".hlog")
					if kind != "" && !tt.uncorrected {
						if _, err := os.Stat(path); !os.IsNotExist(err) {
							t.Errorf("%s exists without LogUncorrected", path)
						}
						continue
					}
					hs := readLog(t, path)
					if len(hs) != len(ivs) {
						t.Fatalf("%s: %d intervals read, %d written", path, len(hs), len(ivs))
					}
					for i, h := range hs {
						want := ivs[i].corrected
						if kind != "" {
							want = ivs[i].uncorr
						}
						if h.TotalCount() != want {
							t.Errorf("%s interval %d: %d values read, %d written", path, i, h.TotalCount(), want)
						}
						if d := h.StartTimeMs() - ivs[i].start.UnixMilli(); d < -1 || d > 1 {
							t.Errorf("%s interval %d: starts at %d ms, want %d", path, i, h.StartTimeMs(), ivs[i].start.UnixMilli())
						}
						if d := h.EndTimeMs() - ivs[i].end.UnixMilli(); d < -1 || d > 1 {
							t.Errorf("%s interval %d: ends at %d ms, want %d", path, i, h.EndTimeMs(), ivs[i].end.UnixMilli())
						}
						if kind == "" && h.Max() != ivs[i].correctedMaxMicros {
							t.Errorf("%s interval %d: max %d, want %d", path, i, h.Max(), ivs[i].correctedMaxMicros)
						}
					}
				}
			}

			// The spectra parse, and match the merged corrected histograms.
			for _, cmd := range res.Commands() {
				merged, counts, err := res.Merged(cmd, resultfmt.Corrected)
				if err != nil {
					t.Fatal(err)
				}
				if counts.Sent == 0 {
					t.Errorf("%s: merged counts are empty", cmd)
				}
				s := parseSpectrum(t, filepath.Join(dir, cmd+".hgrm"))
				if !strings.Contains(s.comment, "milliseconds") || !strings.Contains(s.comment, cmd) {
					t.Errorf("%s.hgrm: first line %q does not say the command and unit", cmd, s.comment)
				}
				if s.rows < 10 || s.lastCount != merged.TotalCount() || s.footerTotl != merged.TotalCount() {
					t.Errorf("%s.hgrm: %d rows, last count %d, footer total %d; want ≥10 rows and %d values",
						cmd, s.rows, s.lastCount, s.footerTotl, merged.TotalCount())
				}
				if want := float64(merged.Max()) / 1000; s.footerMax < want-0.001 || s.footerMax > want+0.001 {
					t.Errorf("%s.hgrm: max %.3f ms, want %.3f", cmd, s.footerMax, want)
				}
			}

			// Finish is final: Abort keeps the results, and nothing more can be written.
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after Finish: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, resultfmt.ResultFile)); err != nil {
				t.Errorf("Abort after Finish removed the results: %v", err)
			}
			if err := w.Interval(loadgen.Interval{Command: protocol.Heartbeat}); err == nil {
				t.Error("Interval after Finish succeeded")
			}
			if _, err := w.Finish(res); err == nil {
				t.Error("a second Finish succeeded")
			}
		})
	}
}

func TestWriterAbort(t *testing.T) {
	tests := []struct {
		name      string
		intervals int
	}{
		{"empty", 0},
		{"with open logs", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			w, err := resultfmt.Create(out, "aborted")
			if err != nil {
				t.Fatal(err)
			}
			w.LogUncorrected = true
			feedIntervals(t, w, t0, tt.intervals, protocol.Heartbeat)
			if got := listDir(t, out); len(got) != 1 {
				t.Fatalf("results folder holds %v before Abort, want the temporary folder", got)
			}
			for i := 0; i < 2; i++ {
				if err := w.Abort(); err != nil {
					t.Fatalf("Abort #%d: %v", i+1, err)
				}
			}
			if got := listDir(t, out); len(got) != 0 {
				t.Errorf("results folder holds %v after Abort, want nothing", got)
			}
			if _, err := w.Finish(resultfmt.FromLoadgen(minimalMeta(), minimalRun())); err == nil {
				t.Error("Finish after Abort succeeded")
			}
			if err := w.Interval(loadgen.Interval{Command: protocol.Heartbeat}); err == nil {
				t.Error("Interval after Abort succeeded")
			}
		})
	}
}

// TestWriterInterrupted is a run stopped in its first stage: Run returns what it gathered,
// with commands that never replied, and Finish must still give a complete, readable folder.
func TestWriterInterrupted(t *testing.T) {
	out := t.TempDir()
	w, err := resultfmt.Create(out, "cut-short")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	feedIntervals(t, w, t0, 2, protocol.Heartbeat)
	lr := &loadgen.Result{
		Start: t0, End: t0.Add(2500 * time.Millisecond), Interrupted: true,
		Stages: []loadgen.StageResult{{
			Name: "first", Start: t0, End: t0.Add(2500 * time.Millisecond),
			Measured: loadgen.Window{Start: t0, End: t0.Add(2500 * time.Millisecond)},
			Commands: []*loadgen.CommandResult{
				{Command: protocol.Heartbeat, Counts: loadgen.Counts{Sent: 3, OK: 3},
					Corrected: spread(3, 1000, 10), Uncorrected: spread(3, 900, 10), SendDelay: spread(3, 1, 2)},
				// Nothing answered yet: nil histograms, all abandoned.
				{Command: protocol.GroupDiscard, Counts: loadgen.Counts{Sent: 5, Abandoned: 5}},
			},
		}},
		Stalls: []loadgen.Stall{{Start: t0.Add(time.Second), End: t0.Add(2500 * time.Millisecond), Outstanding: 5}},
	}
	res := resultfmt.FromLoadgen(minimalMeta(), lr)
	dir, err := w.Finish(res)
	if err != nil {
		t.Fatal(err)
	}
	back, err := resultfmt.Read(filepath.Join(dir, resultfmt.ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Meta.Interrupted {
		t.Error("the result read back is not marked interrupted")
	}
	if got := back.Stages[0].Commands[1].Counts.Abandoned; got != 5 {
		t.Errorf("abandoned = %d, want 5", got)
	}
	if got := back.Stalls[0].DurationUS; got != 1_500_000 {
		t.Errorf("stall duration = %d µs, want 1500000", got)
	}
	h, err := back.Stages[0].Commands[1].Corrected.Decode()
	if err != nil || h.TotalCount() != 0 {
		t.Errorf("the unanswered command's histogram decodes to %v, %v; want an empty one", h, err)
	}
	s := parseSpectrum(t, filepath.Join(dir, "GROUPDIS.hgrm"))
	// PercentilesPrint of an empty histogram gives one row at 0 with a count of 0.
	if s.rows > 1 || s.lastCount != 0 || s.footerTotl != 0 {
		t.Errorf("GROUPDIS.hgrm of no replies has %d rows, last count %d, total %d; want no values", s.rows, s.lastCount, s.footerTotl)
	}
	var sum strings.Builder
	if err := report.Summary(&sum, back, report.SummaryOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.String(), "INTERRUPTED") || !strings.Contains(sum.String(), "GROUPDIS") {
		t.Errorf("summary of the interrupted run lacks the interruption or a command:\n%s", sum.String())
	}
}

func TestWriterSameSecondRuns(t *testing.T) {
	out := t.TempDir()
	var dirs []string
	for i := 0; i < 3; i++ {
		w, err := resultfmt.Create(out, "twice")
		if err != nil {
			t.Fatal(err)
		}
		dir, err := w.Finish(resultfmt.FromLoadgen(minimalMeta(), minimalRun()))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, filepath.Base(dir))
	}
	want := []string{"20260102T030405Z-twice", "20260102T030405Z-twice-2", "20260102T030405Z-twice-3"}
	if !reflect.DeepEqual(dirs, want) {
		t.Errorf("runs started in the same second went to %v, want %v", dirs, want)
	}
}

func TestCreateErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, outDir string
	}{
		{"out is a file", file},
		{"out is below a file", filepath.Join(file, "sub")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := resultfmt.Create(tt.outDir, "x")
			if err == nil {
				w.Abort()
				t.Fatal("Create succeeded")
			}
			if !strings.Contains(err.Error(), "-o") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"keepalive-storm", "keepalive-storm"},
		{"my scenario", "my-scenario"},
		{"../etc/passwd", "etc-passwd"},
		{"-rf", "rf"},
		{"a//b--c/", "a-b-c"},
		{"...", "run"},
		{"", "run"},
		{"v1.2_x", "v1.2_x"},
		{"ümlaut", "mlaut"},
	}
	for _, tt := range tests {
		if got := resultfmt.SafeName(tt.in); got != tt.want {
			t.Errorf("safeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWriterFailedWrites makes files of the run fail to write, as on a full disk
// (/dev/full answers every write with ENOSPC), and checks that nothing that could be kept
// is lost: result.json is written first and the folder kept, and the error names a folder
// that exists.
func TestWriterFailedWrites(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(path string) bool // files that land on a full disk
		wantDir   bool                   // Finish moves the folder into place
		wantFiles []string               // what the kept folder holds (file names)
		wantErr   string
	}{
		{
			name:    "interval log",
			fail:    func(p string) bool { return strings.HasSuffix(p, "HARTBEAT.hlog") },
			wantDir: true,
			// The interval logs stop at the first failure (loadgen stops handing them on).
			wantFiles: []string{"GROUPADD.hgrm", "GROUPDIS.hgrm", "HARTBEAT.hgrm", "result.json"},
			wantErr:   "HARTBEAT.hlog",
		},
		{
			name:      "spectrum",
			fail:      func(p string) bool { return strings.HasSuffix(p, "GROUPDIS.hgrm") },
			wantDir:   true,
			wantFiles: []string{"GROUPADD.hgrm", "GROUPADD.hlog", "HARTBEAT.hgrm", "HARTBEAT.hlog", "result.json"},
			wantErr:   "GROUPDIS.hgrm",
		},
		{
			name:      "result.json",
			fail:      func(p string) bool { return strings.HasSuffix(p, resultfmt.ResultFile) },
			wantFiles: []string{"GROUPADD.hlog", "HARTBEAT.hlog"},
			wantErr:   resultfmt.ResultFile,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			w, err := resultfmt.Create(out, "full-disk")
			if err != nil {
				t.Fatal(err)
			}
			resultfmt.SetCreate(w, func(path string) (*os.File, error) {
				if tt.fail(path) {
					// Make the file, so the folder shows it was begun, but write to /dev/full.
					if f, err := resultfmt.CreateFile(path); err == nil {
						f.Close()
					}
					return os.OpenFile("/dev/full", os.O_WRONLY, 0)
				}
				return resultfmt.CreateFile(path)
			})
			var failed error
			for i := 0; i < 3; i++ {
				for _, cmd := range []protocol.Command{protocol.Heartbeat, protocol.GroupAdd} {
					start := t0.Add(time.Duration(i) * time.Second)
					iv := loadgen.Interval{Start: start, End: start.Add(time.Second), Command: cmd, Corrected: spread(10, 100, 50)}
					if err := w.Interval(iv); err != nil && failed == nil {
						failed = err
					}
				}
			}
			res := resultfmt.FromLoadgen(fullMeta(), fullRun())
			dir, err := w.Finish(res)
			if err == nil {
				t.Fatal("Finish succeeded with a file on a full disk")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not name %s", err, tt.wantErr)
			}
			kept := dir
			if tt.wantDir {
				if dir == "" {
					t.Fatalf("Finish did not move the folder into place: %v", err)
				}
				if _, rerr := resultfmt.Read(dir); rerr != nil {
					t.Errorf("result.json of the kept run does not read back: %v", rerr)
				}
			} else {
				if dir != "" {
					t.Errorf("Finish returned %s without a result.json", dir)
				}
				kept = w.TempDir()
			}
			if !strings.Contains(err.Error(), kept) {
				t.Errorf("error %q does not name the kept folder %s", err, kept)
			}
			var nonEmpty []string
			for _, name := range listDir(t, kept) {
				if fi, err := os.Stat(filepath.Join(kept, name)); err == nil && fi.Size() > 0 {
					nonEmpty = append(nonEmpty, name)
				}
			}
			if !reflect.DeepEqual(nonEmpty, tt.wantFiles) {
				t.Errorf("kept folder holds %v (non-empty), want %v", nonEmpty, tt.wantFiles)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after Finish: %v", err)
			}
			if _, err := os.Stat(kept); err != nil {
				t.Errorf("Abort after a failed Finish removed what was kept: %v", err)
			}
		})
	}
}

// TestWriterIntervalLogsWithWarmup makes a real short run with a warm-up against the
// embedded broker, writes it, and reads HARTBEAT.hlog back with HdrHistogram's log
// reader: the intervals tagged HARTBEAT, merged, are result.json's corrected histogram
// merged over the stages (count, p50, p99, max: the summary's figures), and those tagged
// HARTBEAT.warmup hold the warm-up's. So HistogramLogProcessor -tag HARTBEAT reproduces
// the summary. The warm-up ends mid-second, so one interval is written under both tags.
func TestWriterIntervalLogsWithWarmup(t *testing.T) {
	srv, err := broker.Start(broker.Config{Addr: "tcp://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hb := []loadgen.Request{{Command: protocol.Heartbeat, Weight: 1, Ack: true}}
	plan := loadgen.Plan{Name: "warm", Seed: 1, Warmup: 700 * time.Millisecond, Timeout: 2 * time.Second, Stages: []loadgen.Stage{
		{Name: "first", Duration: 1200 * time.Millisecond, Clients: 2, Open: &loadgen.Open{Rate: 300}, Mix: hb},
		{Name: "second", Duration: 600 * time.Millisecond, Clients: 2, Open: &loadgen.Open{Rate: 500}, Mix: hb},
	}}

	out := t.TempDir()
	w, err := resultfmt.Create(out, plan.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.LogUncorrected = true
	lr, err := loadgen.Run(context.Background(), loadgen.Config{Plan: plan, Addr: srv.Addr(), Intervals: w})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	meta := resultfmt.NewMeta()
	meta.Start, meta.End = lr.Start, lr.End
	dir, err := w.Finish(resultfmt.FromLoadgen(meta, lr))
	if err != nil {
		t.Fatal(err)
	}
	res, err := resultfmt.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := string(protocol.Heartbeat)
	summary, _, err := res.Merged(cmd, resultfmt.Corrected)
	if err != nil {
		t.Fatal(err)
	}
	summaryUncorr, _, err := res.Merged(cmd, resultfmt.Uncorrected)
	if err != nil {
		t.Fatal(err)
	}
	if res.Warmup == nil || len(res.Warmup.Commands) != 1 || res.Warmup.Commands[0].Corrected.Count == 0 || summary.TotalCount() == 0 {
		t.Fatalf("the run has no warm-up or no stage figures to check against: warm-up %+v, stages %d values", res.Warmup, summary.TotalCount())
	}
	warm := res.Warmup.Commands[0]

	for _, tc := range []struct {
		file               string
		stages             *hdrhistogram.Histogram
		warmCount, warmMax int64
	}{
		{cmd + ".hlog", summary, warm.Corrected.Count, warm.Corrected.MaxUS},
		{cmd + ".uncorrected.hlog", summaryUncorr, warm.Uncorrected.Count, warm.Uncorrected.MaxUS},
	} {
		path := filepath.Join(dir, tc.file)
		byTag := map[string]*hdrhistogram.Histogram{}
		spans := map[string]map[int64]bool{} // tag → interval starts, ms
		for _, h := range readLog(t, path) {
			tag := h.Tag()
			if byTag[tag] == nil {
				byTag[tag] = loadgen.NewHistogram()
				spans[tag] = map[int64]bool{}
			}
			if dropped := byTag[tag].Merge(h); dropped > 0 {
				t.Fatalf("%s: %d values dropped merging tag %q", path, dropped, tag)
			}
			if spans[tag][h.StartTimeMs()] {
				t.Errorf("%s: tag %q has two intervals starting at %d ms", path, tag, h.StartTimeMs())
			}
			spans[tag][h.StartTimeMs()] = true
		}
		wantTags := []string{cmd, cmd + ".warmup"}
		var tags []string
		for tag := range byTag {
			tags = append(tags, tag)
		}
		sort.Strings(tags)
		if !reflect.DeepEqual(tags, wantTags) {
			t.Fatalf("%s: tags %q, want %q", path, tags, wantTags)
		}
		if got, want := resultfmt.LogTag(cmd, true), cmd+".warmup"; got != want {
			t.Errorf("LogTag(%s, true) = %q, want %q", cmd, got, want)
		}

		got := byTag[cmd]
		for _, f := range []struct {
			name      string
			got, want int64
		}{
			{"count", got.TotalCount(), tc.stages.TotalCount()},
			{"p50 µs", got.ValueAtQuantile(50), tc.stages.ValueAtQuantile(50)},
			{"p99 µs", got.ValueAtQuantile(99), tc.stages.ValueAtQuantile(99)},
			{"max µs", got.Max(), tc.stages.Max()},
		} {
			if f.got != f.want {
				t.Errorf("%s: tag %s merged: %s %d, result.json's stages merged %d", path, cmd, f.name, f.got, f.want)
			}
		}
		if !got.Equals(tc.stages) {
			t.Errorf("%s: tag %s merged differs from result.json's stages merged", path, cmd)
		}
		wg := byTag[cmd+".warmup"]
		if wg.TotalCount() != tc.warmCount || wg.Max() != tc.warmMax {
			t.Errorf("%s: tag %s.warmup merged: %d values, max %d µs; the warm-up's %d, max %d", path, cmd, wg.TotalCount(), wg.Max(), tc.warmCount, tc.warmMax)
		}
		// The warm-up ends at 0.7 s: its interval is written under both tags.
		both := 0
		for start := range spans[cmd] {
			if spans[cmd+".warmup"][start] {
				both++
			}
		}
		if both == 0 {
			t.Errorf("%s: no interval under both tags; the one the warm-up ends in should be", path)
		}
	}
}
