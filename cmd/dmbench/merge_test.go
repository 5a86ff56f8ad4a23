package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/resultfmt"
)

// shardRuns runs the tiny scenario n times against the embedded broker and marks each
// result as shard i of n of one run (as run --shard i/n will), returning the run folders.
func shardRuns(t *testing.T, n int) []string {
	t.Helper()
	startAt := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	dirs := make([]string, n)
	for i := range dirs {
		out := t.TempDir()
		if code, _, stderr := captureRun(t, "run", "testdata/tiny.yaml", "--short", "-o", out); code != exitOK {
			t.Fatalf("run: exit %d\n%s", code, stderr)
		}
		dirs[i] = onlyRun(t, out)
		setShard(t, dirs[i], &resultfmt.Shard{Index: i, Count: n, StartAt: startAt})
	}
	return dirs
}

// setShard rewrites a run's result.json with meta.shard set to s (nil: removed).
func setShard(t *testing.T, dir string, s *resultfmt.Shard) {
	t.Helper()
	r, err := resultfmt.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Meta.Shard = s
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, resultfmt.ResultFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMergeCommand merges two real runs marked as shards and reads the merged folder with
// report (thresholds too), plot and compare; then the refusals: exit 2 for bad usage,
// exit 1 with a message for results that are not one run's shards.
func TestMergeCommand(t *testing.T) {
	shards := shardRuns(t, 2)
	merged := filepath.Join(t.TempDir(), "merged")
	code, stdout, stderr := capture(t, "merge", shards[0], shards[1], "-o", merged)
	if code != exitOK {
		t.Fatalf("merge: exit %d\n%s", code, stderr)
	}
	if strings.TrimSpace(stdout) != merged || !strings.Contains(stderr, "merged 2 of 2 shards of tiny into") {
		t.Errorf("merge printed %q and\n%s", stdout, stderr)
	}
	r, err := resultfmt.Read(merged)
	if err != nil {
		t.Fatal(err)
	}
	var sent uint64
	for _, dir := range shards {
		s, err := resultfmt.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Stages[0].Commands {
			sent += c.Counts.Sent
		}
	}
	var got uint64
	for _, c := range r.Stages[0].Commands {
		got += c.Counts.Sent
	}
	if r.Meta.Merge == nil || len(r.Meta.Merge.Shards) != 2 || got != sent {
		t.Fatalf("merged result: merge %+v, %d sent, want the shards' %d", r.Meta.Merge, got, sent)
	}

	t.Run("read by the other commands", func(t *testing.T) {
		charts := t.TempDir()
		for _, args := range [][]string{
			{"report", merged, "--spectrum"},
			{"report", merged, "--format", "json"},
			{"report", merged, "--threshold", "p99<60s", "--threshold", "errors<50%"},
			{"report", merged, "--html", filepath.Join(charts, "merged.html")},
			{"plot", merged, "-o", charts},
			{"compare", shards[0], merged},
		} {
			if code, _, stderr := capture(t, args...); code != exitOK {
				t.Errorf("%s: exit %d\n%s", strings.Join(args, " "), code, stderr)
			}
		}
		for _, kind := range []string{"latency", "spectrum", "throughput"} {
			if _, err := os.Stat(filepath.Join(charts, "merged-"+kind+".svg")); err != nil {
				t.Errorf("plot: %v", err)
			}
		}
		if code, _, _ := capture(t, "report", merged, "--threshold", "p99<1ns"); code != exitThreshold {
			t.Errorf("report --threshold p99<1ns on the merged run: exit %d, want %d", code, exitThreshold)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		notShard := filepath.Join(t.TempDir(), "plain")
		if err := os.Mkdir(notShard, 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(shards[1], resultfmt.ResultFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(notShard, resultfmt.ResultFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		setShard(t, notShard, nil)
		out := func() string { return filepath.Join(t.TempDir(), "m") }
		tests := []struct {
			name string
			args []string
			code int
			want string // part of stderr
		}{
			{"no -o", []string{"merge", shards[0], shards[1]}, exitUsage, "-o: name the merged run's folder"},
			{"no shards", []string{"merge", "-o", out()}, exitUsage, "give the shards' run folders"},
			{"existing folder", []string{"merge", shards[0], shards[1], "-o", merged}, exitFailed, "already exists"},
			{"not a shard", []string{"merge", shards[0], notShard, "-o", out()}, exitFailed, "is no shard of a sharded run"},
			{"a merge", []string{"merge", merged, "-o", out()}, exitFailed, "already merged"},
			{"missing", []string{"merge", shards[0], "-o", out()}, exitFailed, "shard 2/2 of 2 is missing"},
			{"twice", []string{"merge", shards[0], shards[0], shards[1], "-o", out()}, exitFailed, "is given twice"},
			{"missing allowed", []string{"merge", shards[1], "--allow-missing", "-o", out()}, exitOK, "merged without shard 1/2"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, _, stderr := capture(t, tt.args...)
				if code != tt.code || !strings.Contains(stderr, tt.want) {
					t.Errorf("exit %d, want %d; stderr:\n%s\nwant it to contain %q", code, tt.code, stderr, tt.want)
				}
			})
		}
	})
}
