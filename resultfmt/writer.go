package resultfmt

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
)

// DefaultOutDir is where runs are written unless told otherwise. It is meant to be ignored
// by git; the repository's results/ holds committed baselines only.
const DefaultOutDir = "dmbench-results"

// RunDirTimeFormat is the UTC time prefix of a run's folder name.
const RunDirTimeFormat = "20060102T150405Z"

// hgrmTicks is the percentile spectrum's resolution: ticks per half distance to 100%, as
// in HdrHistogram's own tools.
const hgrmTicks = 5

// Writer writes one run to disk. Create makes a hidden temporary folder; Interval (the
// loadgen.IntervalSink) appends each second's histograms to a log per command (tagged
// with the command, the warm-up's with WarmupTagSuffix added: see LogTag); Finish
// writes result.json and the percentile spectra and renames the folder into place; Abort
// removes it. After Finish succeeds Abort does nothing, so
//
//	w, err := report.Create(dir, name)
//	...
//	defer w.Abort()
//
// cleans up on every early return. A Writer is safe for use by several goroutines.
type Writer struct {
	// LogUncorrected also writes uncorrected interval histograms, to
	// <COMMAND>.uncorrected.hlog. Set it before the first Interval.
	LogUncorrected bool

	outDir, name, tmp string
	created           time.Time

	mu          sync.Mutex
	baseMs      int64 // whole second of the first interval's start, in ms since the epoch
	logs        map[string]*hlogFile
	intervalErr error // the first interval that could not be written
	done        bool  // Finish succeeded or Abort ran

	// create makes a new file in the run's folder; tests replace it to fail writes.
	create func(path string) (*os.File, error)
}

// createFile makes a new file for writing, failing if it exists.
func createFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

var _ loadgen.IntervalSink = (*Writer)(nil)

// WarmupTagSuffix ends the tag of the warm-up's intervals in a command's interval log:
// HARTBEAT.hlog holds the stages' intervals tagged HARTBEAT and the warm-up's tagged
// HARTBEAT.warmup. An interval in which both had events is written twice, once under each
// tag, for the same time span. So the command's tag alone, merged over the log (as
// HdrHistogram's HistogramLogProcessor does with -tag HARTBEAT), gives the figures of
// result.json's stages merged, warm-up excluded, as the summary and the .hgrm show them.
const WarmupTagSuffix = ".warmup"

// LogTag is the tag of a command's intervals in its interval logs: the command's name as
// in the log's file name, with WarmupTagSuffix for the warm-up's. Tags hold letters,
// digits, '.', '_' and '-' only, never the commas or spaces the log format forbids.
func LogTag(command string, warmup bool) string {
	tag := safeName(command)
	if warmup {
		tag += WarmupTagSuffix
	}
	return tag
}

// hlogFile is one open interval log.
type hlogFile struct {
	f  *os.File
	bw *bufio.Writer
	lw *hdrhistogram.HistogramLogWriter
}

// Create prepares a run's folder: it makes outDir if needed and a temporary folder
// <outDir>/.<runName>.tmp-XXXX inside it. runName is normally the scenario's name.
func Create(outDir, runName string) (*Writer, error) {
	if outDir == "" {
		outDir = DefaultOutDir
	}
	name := safeName(runName)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the results folder: %w (choose another with -o)", err)
	}
	tmp, err := os.MkdirTemp(outDir, "."+name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary folder in %s: %w (check it is writable, or choose another with -o)", outDir, err)
	}
	return &Writer{outDir: outDir, name: name, tmp: tmp, created: time.Now(), logs: map[string]*hlogFile{}, create: createFile}, nil
}

// TempDir returns the temporary folder the run is being written to.
func (w *Writer) TempDir() string { return w.tmp }

// Interval appends iv's corrected histogram (and uncorrected one, if LogUncorrected) to
// its command's interval logs, opening them on first use, tagged LogTag(iv.Command,
// iv.Warmup). Every interval is written, even an empty one, so a time with no replies
// shows as such.
func (w *Writer) Interval(iv loadgen.Interval) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errors.New("report: interval after the run's results were finished or aborted; this is a bug in the caller")
	}
	if w.baseMs == 0 {
		start := iv.Start
		if start.IsZero() {
			start = w.created
		}
		w.baseMs = start.Truncate(time.Second).UnixMilli()
	}
	if w.intervalErr != nil {
		return w.intervalErr
	}
	cmd := safeName(string(iv.Command))
	tag := LogTag(cmd, iv.Warmup)
	err := w.logInterval(cmd+".hlog", cmd, tag, "corrected latency (reply - intended send)", iv, iv.Corrected)
	if err == nil && w.LogUncorrected {
		err = w.logInterval(cmd+".uncorrected.hlog", cmd, tag, "uncorrected latency (reply - actual send)", iv, iv.Uncorrected)
	}
	if err != nil {
		w.intervalErr = fmt.Errorf("%w (the interval logs stop at %s)", err, iv.Start.UTC().Format(time.RFC3339))
	}
	return w.intervalErr
}

func (w *Writer) logInterval(file, cmd, tag, what string, iv loadgen.Interval, h *hdrhistogram.Histogram) error {
	if h == nil {
		h = loadgen.NewHistogram()
	}
	lf, err := w.openLog(file, cmd, what)
	if err != nil {
		return err
	}
	h.SetStartTimeMs(iv.Start.UnixMilli())
	h.SetEndTimeMs(iv.End.UnixMilli())
	h.SetTag(tag)
	if err := lf.lw.OutputIntervalHistogram(h); err != nil {
		return fmt.Errorf("report: writing %s: %w", filepath.Join(w.tmp, file), err)
	}
	// Flush each second so that a crash leaves what was measured in the temporary folder.
	if err := lf.bw.Flush(); err != nil {
		return fmt.Errorf("report: writing %s: %w (is the disk full?)", filepath.Join(w.tmp, file), err)
	}
	return nil
}

func (w *Writer) openLog(file, cmd, what string) (*hlogFile, error) {
	if lf := w.logs[file]; lf != nil {
		return lf, nil
	}
	path := filepath.Join(w.tmp, file)
	f, err := w.create(path)
	if err != nil {
		return nil, fmt.Errorf("report: creating interval log: %w", err)
	}
	bw := bufio.NewWriter(f)
	lw := hdrhistogram.NewHistogramLogWriter(bw)
	lw.SetBaseTime(w.baseMs)
	for _, step := range []func() error{
		func() error {
			return lw.OutputComment(fmt.Sprintf("[dmbench %s %s in microseconds; Interval_Max is in seconds (microseconds / 1e6); tag %s: the stages, tag %s: the warm-up]",
				cmd, what, LogTag(cmd, false), LogTag(cmd, true)))
		},
		lw.OutputLogFormatVersion,
		func() error { return lw.OutputStartTime(w.baseMs) },
		func() error { return lw.OutputBaseTime(w.baseMs) },
		lw.OutputLegend,
	} {
		if err := step(); err != nil {
			f.Close()
			return nil, fmt.Errorf("report: writing %s: %w", path, err)
		}
	}
	lf := &hlogFile{f: f, bw: bw, lw: lw}
	w.logs[file] = lf
	return lf, nil
}

// closeLogs flushes, syncs and closes every interval log, returning the first error.
func (w *Writer) closeLogs() error {
	var first error
	for name, lf := range w.logs {
		err := lf.bw.Flush()
		if err == nil {
			err = lf.f.Sync()
		}
		if cerr := lf.f.Close(); err == nil {
			err = cerr
		}
		if err != nil && first == nil {
			first = fmt.Errorf("report: closing %s: %w", filepath.Join(w.tmp, name), err)
		}
		delete(w.logs, name)
	}
	return first
}

// Finish completes the run's folder: it writes result.json first (the source of truth),
// then closes the interval logs and writes one <COMMAND>.hgrm per command (the percentile
// spectrum of its corrected latency over all stages, warm-up excluded, in milliseconds),
// syncs everything to disk and renames the folder to <outDir>/<UTC start time>-<runName>,
// adding -2, -3... if that name is taken. It is meant for interrupted runs too: r then has
// Meta.Interrupted set and holds what was gathered.
//
// Nothing that could be written is thrown away. When result.json was written but
// something else failed (an interval log, a spectrum), the folder is still moved into
// place and Finish returns it with the error. When result.json itself could not be
// written, the temporary folder stays with what it holds, Finish returns "" and the error
// names that folder. Abort does nothing after Finish, whatever it returned.
func (w *Writer) Finish(r *Result) (string, error) {
	if r == nil {
		return "", errors.New("report: Finish without a result; this is a bug in the caller")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return "", errors.New("report: Finish after the run's results were finished or aborted; this is a bug in the caller")
	}
	w.done = true
	var errs []error
	if w.intervalErr != nil {
		errs = append(errs, w.intervalErr)
	}
	jsonErr := w.writeResult(r)
	if jsonErr != nil {
		errs = append(errs, jsonErr)
	}
	if err := w.closeLogs(); err != nil && w.intervalErr == nil {
		errs = append(errs, err)
	}
	if jsonErr == nil {
		for _, cmd := range r.Commands() {
			if err := w.writeSpectrum(r, cmd); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := syncDir(w.tmp); err != nil {
		errs = append(errs, err)
	}
	if jsonErr != nil {
		return "", fmt.Errorf("%w; what was written (the interval logs) is kept in %s", errors.Join(errs...), w.tmp)
	}
	dir, err := w.moveIntoPlace(r)
	if err != nil {
		return "", fmt.Errorf("%w; result.json and what else was written are kept in %s", errors.Join(append(errs, err)...), w.tmp)
	}
	if err := syncDir(w.outDir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return dir, fmt.Errorf("%w; result.json and what else was written are in %s", errors.Join(errs...), dir)
	}
	return dir, nil
}

// writeResult writes result.json into the temporary folder.
func (w *Writer) writeResult(r *Result) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encoding %s: %w", ResultFile, err)
	}
	return w.writeFileSync(filepath.Join(w.tmp, ResultFile), append(data, '\n'))
}

// moveIntoPlace renames the temporary folder to its final name and returns that.
func (w *Writer) moveIntoPlace(r *Result) (string, error) {
	start := r.Meta.Start
	if start.IsZero() {
		start = w.created
	}
	base := filepath.Join(w.outDir, start.UTC().Format(RunDirTimeFormat)+"-"+w.name)
	dir := base
	for i := 2; ; i++ {
		err := os.Rename(w.tmp, dir)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) && !isNotEmpty(err) {
			return "", fmt.Errorf("report: moving results into place: %w", err)
		}
		if i > 100 {
			return "", fmt.Errorf("report: moving results into place: %s and 99 numbered variants exist", base)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// writeSpectrum writes <cmd>.hgrm: PercentilesPrint of cmd's corrected histogram merged
// over the stages, in milliseconds.
func (w *Writer) writeSpectrum(r *Result, cmd string) error {
	h, _, err := r.Merged(cmd, Corrected)
	if err != nil {
		return fmt.Errorf("report: percentile spectrum of %s: %w", cmd, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#[dmbench %s corrected latency (reply - intended send), all stages without warm-up; values in milliseconds (microseconds / valueScale 1000)]\n", cmd)
	if _, err := h.PercentilesPrint(&b, hgrmTicks, 1000); err != nil {
		return fmt.Errorf("report: percentile spectrum of %s: %w", cmd, err)
	}
	return w.writeFileSync(filepath.Join(w.tmp, safeName(cmd)+".hgrm"), []byte(b.String()))
}

// Abort removes the temporary folder and everything in it. It does nothing after Finish
// succeeded, and may be called more than once.
func (w *Writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	_ = w.closeLogs() // the files are removed next; an error closing them no longer matters
	if err := os.RemoveAll(w.tmp); err != nil {
		return fmt.Errorf("report: removing %s: %w (remove it by hand)", w.tmp, err)
	}
	return nil
}

// writeFileSync writes data to a new file at path and syncs it to disk.
func (w *Writer) writeFileSync(path string, data []byte) error {
	f, err := w.create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report: writing %s: %w (is the disk full?)", path, err)
	}
	return nil
}

// syncDir syncs a folder, so that the names in it are on disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("report: syncing folder %s: %w", dir, err)
	}
	return nil
}

// isNotEmpty reports whether err is a rename onto an existing non-empty folder, which
// Linux reports as ENOTEMPTY rather than EEXIST.
func isNotEmpty(err error) bool { return errors.Is(err, syscall.ENOTEMPTY) }

// safeName makes s usable as part of a file name: letters, digits, '.' and '_' are kept,
// any run of other bytes becomes one '-', and leading dots and dashes are dropped (so the
// name is neither hidden nor taken for a flag).
func safeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_':
			b.WriteByte(c)
		default:
			if !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	out := strings.TrimRight(strings.TrimLeft(b.String(), ".-"), "-")
	if out == "" {
		return "run"
	}
	return out
}
