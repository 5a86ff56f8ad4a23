package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/metric"
)

// fmtMicros formats a number of microseconds with three significant digits in µs, ms or s.
func fmtMicros(v int64) string {
	switch {
	case v < 1000:
		return fmt.Sprintf("%dµs", v)
	case v < 1_000_000:
		return metric.Significant(float64(v)/1e3, 3) + "ms"
	default:
		return metric.Significant(float64(v)/1e6, 3) + "s"
	}
}

// fmtDuration formats a span of time: like fmtMicros below a second, in tenths of a
// second below a minute, then as 1m30s.
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return fmtMicros(int64(d / time.Microsecond))
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

func fmtRate(f float64) string {
	if f >= 100 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func bracket(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// errWriter keeps the first write error and skips later writes. Its printf wraps what it
// prints to width (0: no wrapping); tables are written with Write and laid out to fit.
type errWriter struct {
	w     io.Writer
	width int
	err   error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("report: printing the summary: %w", err)
	}
	return n, err
}

// printf prints whole lines (the format ends with a newline), each wrapped to e.width.
// Every string argument is escaped first (termtext.Escape): the format is dmbench's own,
// but what fills it may come from a result file, a server's report or a label, and must
// neither drive the terminal nor break or forge a line.
func (e *errWriter) printf(format string, args ...any) {
	safe := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = termtext.Escape(s)
		}
		safe[i] = a
	}
	s := fmt.Sprintf(format, safe...)
	if e.width > 0 {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			lines[i] = strings.Join(wrapLine(l, e.width), "\n")
		}
		s = strings.Join(lines, "\n")
	}
	io.WriteString(e, s)
}

// wrapLine breaks line at spaces into lines of at most width runes, indenting those after
// the first two spaces more than line. A word wider than the room left keeps a line of its
// own, whole, and is the one thing wider than width: a long file path or label is not cut.
func wrapLine(line string, width int) []string {
	if utf8.RuneCountInString(line) <= width {
		return []string{line}
	}
	body := strings.TrimLeft(line, " ")
	hang := line[:len(line)-len(body)] + "  "
	var out []string
	cur, n := line[:len(line)-len(body)], 0 // n: the words on cur
	for _, word := range strings.Fields(body) {
		if n > 0 && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) > width {
			out = append(out, cur)
			cur, n = hang, 0
		}
		if n > 0 {
			cur += " "
		}
		cur += word
		n++
	}
	return append(out, cur)
}

// widest returns the width in runes of text's longest line.
func widest(text string) int {
	w := 0
	for _, l := range strings.Split(text, "\n") {
		w = max(w, utf8.RuneCountInString(l))
	}
	return w
}

// firstFitting returns the first of n layouts, the widest first, whose text as render
// writes it is at most width runes wide; the last (the narrowest) when none is.
func firstFitting(n, width int, render func(w io.Writer, layout int)) int {
	for i := 0; i < n-1; i++ {
		var b strings.Builder
		render(&b, i)
		if widest(b.String()) <= width {
			return i
		}
	}
	return n - 1
}

// newTable returns a writer that right-aligns tab-terminated cells in columns two spaces
// apart: the summary's tables.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
}

// tableRow writes one row of a newTable, leaving out the empty cells at its end so that
// no line ends in spaces, and nothing for a row of empty cells. Each cell is escaped
// (termtext.Escape): a command's name read from a file must not hold a tab or a newline
// that breaks the table, nor drive the terminal.
func tableRow(tw io.Writer, cells ...string) {
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	if len(cells) == 0 {
		return
	}
	safe := make([]string, len(cells))
	for i, c := range cells {
		safe[i] = termtext.Escape(c)
	}
	io.WriteString(tw, strings.Join(safe, "\t")+"\t\n")
}
