package report

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/internal/words"
	"github.com/dmbench/dmbench/loadgen"
)

// Progress shows a run's progress live on a terminal: each Update rewrites one line in
// place (carriage return, no newline), and Done ends the line. A disabled Progress prints
// nothing, which is what a log file or CI wants: the summary alone.
type Progress struct {
	w       io.Writer
	enabled bool

	mu      sync.Mutex
	lastLen int // runes in the line on screen, to blank what a shorter line leaves
}

// NewProgress returns a Progress writing to w when enabled. Pass ProgressEnabled(os.Stderr)
// (or whichever file w is) as enabled.
func NewProgress(w io.Writer, enabled bool) *Progress {
	return &Progress{w: w, enabled: enabled}
}

// Update shows p, replacing the line shown before. It is meant to be
// loadgen.Config.Progress, called about once a second.
func (p *Progress) Update(s loadgen.Progress) {
	if !p.enabled {
		return
	}
	line := ProgressLine(s)
	if cols, ok := terminalColumns(p.w); ok && utf8.RuneCountInString(line) >= cols {
		// A line that wraps cannot be rewritten in place: cut it to the terminal.
		line = string([]rune(line)[:cols-1])
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len([]rune(line))
	pad := ""
	if p.lastLen > n {
		pad = strings.Repeat(" ", p.lastLen-n)
	}
	p.lastLen = n
	fmt.Fprint(p.w, "\r"+line+pad) // a lost progress line is no reason to stop a run
}

// Done ends the progress line, so that what follows starts on a line of its own.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.enabled && p.lastLen > 0 {
		fmt.Fprint(p.w, "\n")
		p.lastLen = 0
	}
}

// ProgressLine formats one progress snapshot: elapsed of total time, the stage, the rate
// sent against the target, of all commands together (the summary's TOTAL row), requests
// in flight, the last interval's corrected p99 and the errors so far, e.g.
//
//	12.0s/30.0s steady: 998/s of 1000/s sent (all commands), 8 in flight, p99 1.23ms, 0 errors
func ProgressLine(s loadgen.Progress) string {
	var b strings.Builder
	b.WriteString(fmtDuration(s.Elapsed.Truncate(100 * time.Millisecond)))
	if s.Total > 0 {
		b.WriteString("/" + fmtDuration(s.Total))
	}
	if s.Stage != "" {
		b.WriteString(" " + termtext.Escape(s.Stage)) // the scenario file's: a CR in it would forge the line
	}
	fmt.Fprintf(&b, ": %s/s", fmtRate(s.AchievedRate))
	if s.TargetRate > 0 {
		fmt.Fprintf(&b, " of %s/s", fmtRate(s.TargetRate))
	}
	b.WriteString(" sent (all commands)")
	fmt.Fprintf(&b, ", %d in flight, p99 %s, %s", s.InFlight, fmtMicros(int64(s.P99/time.Microsecond)), words.Plural(max(s.Errors, 0), "error", "errors"))
	return b.String()
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// ProgressEnabled reports whether live progress belongs on f: f is a terminal and the
// CI environment variable is unset (or "false" or "0"), since CI logs want the summary only.
func ProgressEnabled(f *os.File) bool {
	if ci, set := os.LookupEnv("CI"); set && ci != "false" && ci != "0" {
		return false
	}
	return IsTerminal(f)
}

// TerminalWidth returns the width in columns to lay a summary written to w out for: the
// terminal's when w is one, else $COLUMNS when it holds a positive number, else DefaultWidth.
func TerminalWidth(w io.Writer) int {
	if cols, ok := terminalColumns(w); ok {
		return cols
	}
	if cols, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && cols > 0 {
		return cols
	}
	return DefaultWidth
}

// terminalColumns returns the width of the terminal w is, when it is one of known width.
func terminalColumns(w io.Writer) (int, bool) {
	if f, ok := w.(*os.File); ok && IsTerminal(f) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols, true
		}
	}
	return 0, false
}
