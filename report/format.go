package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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

// errWriter keeps the first write error and skips later writes.
type errWriter struct {
	w   io.Writer
	err error
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

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

// printable returns s with control characters and invalid UTF-8 escaped as Go escapes
// them, so that text read from a file cannot drive the terminal.
func printable(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// newTable returns a writer that right-aligns tab-terminated cells in columns two spaces
// apart: the summary's tables.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
}
