package resultfmt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmbench/dmbench/resultfmt"
)

// TestFinishAt: the folder is written whole under the name given, or not at all: an
// existing folder (even an empty one) is never replaced, and a failed FinishAt leaves
// no temporary folder behind.
func TestFinishAt(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) // before FinishAt
		where func(out string) string
		want  string // part of the error; "" for success
	}{
		{"new folder", nil, func(out string) string { return filepath.Join(out, "merged") }, ""},
		{"existing empty folder", func(dir string) { _ = os.Mkdir(dir, 0o755) }, func(out string) string { return filepath.Join(out, "merged") }, "already exists"},
		{"elsewhere", nil, func(out string) string { return filepath.Join(out, "sub", "merged") }, "is not in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			dir := tt.where(out)
			if tt.setup != nil {
				tt.setup(dir)
			}
			w, err := resultfmt.Create(out, "merged")
			if err != nil {
				t.Fatal(err)
			}
			r := resultfmt.FromLoadgen(minimalMeta(), minimalRun())
			err = w.FinishAt(r, dir)
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("left %s behind", e.Name())
				}
			}
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := resultfmt.Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "HARTBEAT.hgrm")); err != nil || back.Meta.Scenario.Name != "ping" {
				t.Errorf("written folder: %v, scenario %q", err, back.Meta.Scenario.Name)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after FinishAt: %v", err)
			}
		})
	}
}
