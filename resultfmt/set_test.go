package resultfmt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
)

// writeRun writes r as a run folder under dir with a Writer and returns the folder.
func writeRun(t *testing.T, dir string, r *resultfmt.Result) string {
	t.Helper()
	w, err := resultfmt.Create(dir, r.Meta.Scenario.Name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Finish(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadSet(t *testing.T) {
	root := t.TempDir()
	set := filepath.Join(root, "set")
	var runs []string
	for i := 0; i < 3; i++ {
		runs = append(runs, writeRun(t, set, synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{Tput: float64(i), P50: 100}))))
	}
	// A run still being written, and a folder that is no run, are passed over.
	if err := os.MkdirAll(filepath.Join(set, ".pipeline.tmp-123"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(set, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	single := writeRun(t, filepath.Join(root, "single"), synthRun(synthMeta(), t0.Add(time.Hour), one("steady", "HARTBEAT", fig{Tput: 9, P50: 100})))
	empty := filepath.Join(root, "empty")
	if err := os.MkdirAll(filepath.Join(empty, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		paths    []string
		wantTput []float64 // the runs, by throughput
		wantErr  string
	}{
		{"set folder in name order", []string{set}, []float64{0, 1, 2}, ""},
		{"run folders", []string{runs[2], runs[0]}, []float64{2, 0}, ""},
		{"result.json", []string{filepath.Join(single, resultfmt.ResultFile)}, []float64{9}, ""},
		{"set and run", []string{set, single}, []float64{0, 1, 2, 9}, ""},
		{"nothing", nil, nil, "no folders given"},
		{"missing", []string{filepath.Join(root, "nope")}, nil, "does not exist"},
		{"no runs", []string{empty}, nil, "holds no result.json, no run folders (sub-folders with result.json) and no result set"},
		{"a run twice", []string{set, runs[1]}, nil, "is given twice"},
		{"result.json and its folder", []string{single, filepath.Join(single, resultfmt.ResultFile)}, nil, "is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resultfmt.ReadSet(tt.paths...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var tput []float64
			for _, r := range got {
				tput = append(tput, r.Stages[0].Commands[0].ThroughputPerS)
			}
			if !slices.Equal(tput, tt.wantTput) {
				t.Errorf("runs %v, want %v", tput, tt.wantTput)
			}
		})
	}
}

// TestLoadSetFolders checks what LoadSet makes of a folder that is no run and no set: the
// one set inside it is read in its place (as `run --repeat N -o DIR` leaves DIR), while
// several sets, or runs beside a set, are refused with a list of what is there.
func TestLoadSetFolders(t *testing.T) {
	run := func(i int) *resultfmt.Result {
		return synthRun(synthMeta(), t0.Add(time.Duration(i)*time.Minute), one("steady", "HARTBEAT", fig{Tput: float64(i), P50: 100}))
	}
	// set writes a set of n runs into dir/name and returns its folder.
	set := func(t *testing.T, dir, name string, n int) string {
		s := filepath.Join(dir, name)
		for i := 0; i < n; i++ {
			writeRun(t, s, run(i))
		}
		return s
	}
	mkdir := func(t *testing.T, dir string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		layout    func(t *testing.T, out string) (wantSet string) // writes out's contents
		wantRuns  int
		wantErr   []string
		wantNoErr string // a folder the error must not name
	}{
		{name: "one set", wantRuns: 2, layout: func(t *testing.T, out string) string {
			return set(t, out, "20261201T100000Z-pipeline-x2", 2)
		}},
		{name: "one set beside folders that are neither", wantRuns: 3, layout: func(t *testing.T, out string) string {
			mkdir(t, filepath.Join(out, "notes", "drafts"))
			writeRun(t, filepath.Join(out, ".20261201T090000Z-pipeline-x2"), run(9)) // hidden: a set being written
			return set(t, out, "20261201T100000Z-pipeline-x3", 3)
		}},
		{name: "several sets", layout: func(t *testing.T, out string) string {
			set(t, out, "20261201T100000Z-pipeline-x2", 2)
			set(t, out, "20261202T100000Z-pipeline-x3", 3)
			return ""
		}, wantErr: []string{"holds 2 result sets: 20261201T100000Z-pipeline-x2 (2 runs), 20261202T100000Z-pipeline-x3 (3 runs): name the one to read, e.g. ", "20261201T100000Z-pipeline-x2"}},
		{name: "runs beside a set", layout: func(t *testing.T, out string) string {
			writeRun(t, out, run(0))
			set(t, out, "zz-set", 2)
			return ""
		}, wantErr: []string{"holds both run folders and result sets", "1 run folder 20260102T030405", "1 result set zz-set (2 runs)", "name one set (e.g. "}},
		{name: "many sets are listed in part", layout: func(t *testing.T, out string) string {
			for i := 0; i < 10; i++ {
				set(t, out, fmt.Sprintf("set-%02d", i), 1)
			}
			return ""
		}, wantErr: []string{"holds 10 result sets: set-00 (1 run),", "set-07 (1 run) and 2 more"}, wantNoErr: "set-09"},
		{name: "nothing", layout: func(t *testing.T, out string) string {
			mkdir(t, filepath.Join(out, "a", "b"))
			return ""
		}, wantErr: []string{"holds no result.json, no run folders", "and no result set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			mkdir(t, out)
			wantSet := tt.layout(t, out)
			got, err := resultfmt.LoadSet(out)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("LoadSet read %d runs, want an error", len(got.Runs))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				if tt.wantNoErr != "" && strings.Contains(err.Error(), tt.wantNoErr) {
					t.Errorf("error names %q:\n%v", tt.wantNoErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []resultfmt.FoundSet{{Arg: out, Dir: wantSet, Runs: tt.wantRuns}}
			if len(got.Runs) != tt.wantRuns || len(got.Dirs) != tt.wantRuns || !slices.Equal(got.Found, want) {
				t.Fatalf("%d runs from %v, found %+v; want %d runs, found %+v", len(got.Runs), got.Dirs, got.Found, tt.wantRuns, want)
			}
			for _, d := range got.Dirs {
				if filepath.Dir(d) != wantSet {
					t.Errorf("run %s is not in the set %s", d, wantSet)
				}
			}
			// The set folder itself reads the same runs, with nothing found.
			direct, err := resultfmt.LoadSet(wantSet)
			if err != nil || len(direct.Runs) != tt.wantRuns || len(direct.Found) != 0 {
				t.Errorf("LoadSet(the set) = %+v, %v", direct, err)
			}
		})
	}
}
