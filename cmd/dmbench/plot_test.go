package main

import (
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/resultfmt"
)

// TestPlot runs the tiny scenario against the embedded broker (server view on) and plots
// it: every kind into charts/ beside the run, one kind into a file of each format, and
// compare --chart; then the usage errors (exit 2) and the failures (exit 1).
func TestPlot(t *testing.T) {
	out := t.TempDir()
	if code, _, stderr := captureRun(t, "run", "testdata/tiny.yaml", "-o", out, "--label", "broker=embedded"); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	run := onlyRun(t, out)
	name := filepath.Base(run)

	t.Run("every kind beside the run", func(t *testing.T) {
		code, stdout, stderr := capture(t, "plot", run)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		charts := filepath.Join(out, "charts")
		var want []string
		for _, kind := range []string{"latency", "server", "spectrum", "throughput"} {
			want = append(want, filepath.Join(charts, name+"-"+kind+".svg"))
		}
		if got := strings.Fields(stdout); !slices.Equal(got, want) {
			t.Errorf("plot printed %q, want %q", got, want)
		}
		for _, p := range want {
			data, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(data), "<svg") {
				t.Errorf("%s: %v, want an SVG", p, err)
			}
		}
		entries, _ := os.ReadDir(run)
		for _, e := range entries {
			if e.IsDir() || strings.HasSuffix(e.Name(), ".svg") {
				t.Errorf("plot wrote %s inside the run folder", e.Name())
			}
		}
		// The charts folder beside the runs is no run: the folder still reads as one set.
		if runs, err := resultfmt.ReadSet(out); err != nil || len(runs) != 1 {
			t.Errorf("reading %s as a set after plotting: %d runs, %v", out, len(runs), err)
		}
	})

	t.Run("one kind into a file", func(t *testing.T) {
		dir := t.TempDir()
		pngPath := filepath.Join(dir, "latency.png")
		if code, _, stderr := capture(t, "plot", run, "--kind", "latency", "-o", pngPath, "--command", "GROUPADD", "--size", "800x500"); code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		f, err := os.Open(pngPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", pngPath, err)
		}
		if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 500 {
			t.Errorf("the PNG is %dx%d, want 800x500 (--size)", b.Dx(), b.Dy())
		}
		svgPath := filepath.Join(dir, "spectrum.svg")
		if code, _, stderr := capture(t, "plot", run, "--kind", "spectrum", "--slo", "p99<5ms", "-o", svgPath); code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if data, _ := os.ReadFile(svgPath); !strings.Contains(string(data), "SLO p99&lt;5ms") {
			t.Errorf("%s does not show the SLO", svgPath)
		}
		folder := filepath.Join(dir, "pngs")
		code, stdout, stderr := capture(t, "plot", run, "-o", folder, "--format", "png")
		if code != exitOK || strings.Count(stdout, ".png") != 4 {
			t.Errorf("plot -o FOLDER --format png: exit %d, wrote %q\n%s", code, stdout, stderr)
		}
	})

	t.Run("compare --chart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cmp.svg")
		code, _, stderr := capture(t, "compare", run, run, "--chart", path)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if data, err := os.ReadFile(path); err != nil || !strings.Contains(string(data), "OLD median") {
			t.Errorf("%s: %v, want the comparison chart", path, err)
		}
		if !strings.Contains(stderr, "comparison chart written to "+path) {
			t.Errorf("compare does not say where the chart went:\n%s", stderr)
		}
	})

	// A run with neither interval logs nor a server view: what it can give is drawn, the
	// rest skipped with the reason; asked for alone, it fails.
	bare, err := resultfixture.WriteRun(t.TempDir(), resultfmt.FromLoadgen(resultfixture.MinimalMeta(), resultfixture.MinimalRun()), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("what a bare run gives", func(t *testing.T) {
		code, stdout, stderr := capture(t, "plot", bare, "-o", t.TempDir())
		if code != exitOK || strings.Count(stdout, ".svg") != 2 {
			t.Errorf("exit %d, wrote %q; want the spectrum and throughput charts\n%s", code, stdout, stderr)
		}
		for _, want := range []string{"skipped the latency chart", "no interval log", "skipped the server chart", "no server view"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr)
			}
		}
	})

	tmp := t.TempDir()
	tests := []struct {
		args []string
		want int
		says string
	}{
		{[]string{"plot"}, exitUsage, "give a run folder"},
		{[]string{"plot", run, "--kind", "pie"}, exitUsage, "--kind \"pie\""},
		{[]string{"plot", run, "-o", filepath.Join(tmp, "x.svg")}, exitUsage, "names a file"},
		{[]string{"plot", run, "--kind", "latency", "-o", filepath.Join(tmp, "x.txt")}, exitUsage, "name a .svg or .png file"},
		{[]string{"plot", run, "--kind", "latency", "-o", filepath.Join(tmp, "x.svg"), "--format", "png"}, exitUsage, "leave out --format"},
		{[]string{"plot", run, "--slo", "throughput>5/s"}, exitUsage, "--slo"},
		{[]string{"plot", run, "--slo", "p99>5ms"}, exitUsage, "bounds latency from above"},
		{[]string{"plot", run, "--command", "NOPE"}, exitUsage, "--command: no command NOPE"},
		{[]string{"plot", run, "--size", "10x10"}, exitUsage, "--size"},
		{[]string{"plot", run, bare, "--kind", "latency", "-o", filepath.Join(tmp, "x.svg")}, exitUsage, "draws one run"},
		{[]string{"plot", filepath.Join(tmp, "no-such-run")}, exitFailed, "does not exist"},
		{[]string{"plot", bare, "--kind", "server", "-o", filepath.Join(tmp, "s.svg")}, exitFailed, "no server view"},
		{[]string{"compare", run, run, "--chart", filepath.Join(tmp, "c.txt")}, exitUsage, "--chart"},
	}
	for _, tt := range tests {
		name := strings.NewReplacer(run, "RUN", bare, "BARE", tmp, "TMP").Replace(strings.Join(tt.args, " "))
		t.Run(name, func(t *testing.T) {
			code, _, stderr := capture(t, tt.args...)
			if code != tt.want || !strings.Contains(stderr, tt.says) {
				t.Errorf("exit %d, want %d, saying %q:\n%s", code, tt.want, tt.says, stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("failed plots left files behind: %v", entries)
	}
}
