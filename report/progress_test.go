package report

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/loadgen"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name string
		p    loadgen.Progress
		want string
	}{
		{
			name: "open loop",
			p: loadgen.Progress{Elapsed: 12340 * time.Millisecond, Total: 30 * time.Second, Stage: "steady",
				TargetRate: 1000, AchievedRate: 998.4, InFlight: 8, P99: 1234 * time.Microsecond, Errors: 0},
			want: "12.3s/30.0s steady: 998/s of 1000/s sent (all commands), 8 in flight, p99 1.23ms, 0 errors",
		},
		{
			name: "closed loop, counted stage",
			p:    loadgen.Progress{Elapsed: 1500 * time.Millisecond, Stage: "burst", AchievedRate: 17.5, InFlight: 64, P99: 72 * time.Second, Errors: 1},
			want: "1.5s burst: 17.5/s sent (all commands), 64 in flight, p99 72.0s, 1 error",
		},
	}
	for _, tt := range tests {
		if got := ProgressLine(tt.p); got != tt.want {
			t.Errorf("%s: ProgressLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	long := loadgen.Progress{Elapsed: 2 * time.Second, Total: 30 * time.Second, Stage: "a-long-stage-name", TargetRate: 1000, AchievedRate: 1000, InFlight: 100, P99: time.Millisecond, Errors: 12}
	short := loadgen.Progress{Elapsed: 3 * time.Second, Total: 30 * time.Second, Stage: "s", AchievedRate: 1, P99: time.Millisecond}
	tests := []struct {
		name    string
		enabled bool
		updates []loadgen.Progress
		want    string
	}{
		{"disabled prints nothing", false, []loadgen.Progress{long, short}, ""},
		{"nothing to end", true, nil, ""},
		{
			name: "rewrites one line", enabled: true, updates: []loadgen.Progress{long, short},
			want: "\r" + ProgressLine(long) +
				"\r" + ProgressLine(short) + strings.Repeat(" ", len([]rune(ProgressLine(long)))-len([]rune(ProgressLine(short)))) +
				"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := NewProgress(&buf, tt.enabled)
			for _, u := range tt.updates {
				p.Update(u)
			}
			p.Done()
			p.Done() // a second Done adds nothing
			if got := buf.String(); got != tt.want {
				t.Errorf("wrote %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	regular, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	type file struct {
		name string
		f    *os.File
		tty  bool
	}
	files := []file{{"regular file", regular, false}, {"pipe", pw, false}, {"nil", nil, false}}
	if runtime.GOOS == "linux" {
		// The master side of a pseudo-terminal is a terminal too.
		ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("opening a pseudo-terminal to test with: %v", err)
		}
		defer ptmx.Close()
		files = append(files, file{"pseudo-terminal", ptmx, true})
	}
	for _, f := range files {
		for _, ci := range []struct {
			value string
			set   bool
			quiet bool
		}{{"", false, false}, {"true", true, true}, {"1", true, true}, {"false", true, false}} {
			t.Run(f.name+"/CI="+ci.value, func(t *testing.T) {
				if ci.set {
					t.Setenv("CI", ci.value)
				} else {
					t.Setenv("CI", "")
					os.Unsetenv("CI")
				}
				if got := IsTerminal(f.f); got != f.tty {
					t.Errorf("IsTerminal = %v, want %v", got, f.tty)
				}
				if got, want := ProgressEnabled(f.f), f.tty && !ci.quiet; got != want {
					t.Errorf("ProgressEnabled = %v, want %v", got, want)
				}
			})
		}
	}
}

func TestTerminalWidth(t *testing.T) {
	regular, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	tests := []struct {
		name    string
		columns string // "" unsets COLUMNS
		want    int
	}{
		{"no COLUMNS", "", DefaultWidth},
		{"COLUMNS", "95", 95},
		{"COLUMNS not a number", "wide", DefaultWidth},
		{"COLUMNS zero", "0", DefaultWidth},
		{"COLUMNS negative", "-80", DefaultWidth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("COLUMNS", tt.columns)
			if tt.columns == "" {
				os.Unsetenv("COLUMNS")
			}
			// Neither is a terminal: COLUMNS, else the default.
			for _, w := range []io.Writer{regular, &bytes.Buffer{}} {
				if got := TerminalWidth(w); got != tt.want {
					t.Errorf("TerminalWidth(%T) = %d, want %d", w, got, tt.want)
				}
			}
		})
	}
}
