package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/internal/resultfixture"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The shared synthetic runs, under the names the tests use.
var (
	t0          = resultfixture.T0
	spread      = resultfixture.Spread
	repeat      = resultfixture.Repeat
	fullRun     = resultfixture.FullRun
	fullMeta    = resultfixture.FullMeta
	minimalRun  = resultfixture.MinimalRun
	minimalMeta = resultfixture.MinimalMeta
	synthMeta   = resultfixture.SynthMeta
	synthRun    = resultfixture.SynthRun
	one         = resultfixture.One
)

type (
	fig        = resultfixture.Fig
	synthStage = resultfixture.SynthStage
	synthCmd   = resultfixture.SynthCmd
)

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run %s -update to create it)", err, t.Name())
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
