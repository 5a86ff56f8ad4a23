package chart

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/resultfmt"
)

// Interval is one interval of an interval log: the histogram of the latencies recorded
// (by reply time) between Start and End, in microseconds.
type Interval struct {
	Start, End time.Time
	Hist       *hdrhistogram.Histogram
}

// hlogExt ends the name of a run's interval log of corrected latency: <COMMAND>.hlog.
const hlogExt = ".hlog"

// ReadIntervalLog reads every interval histogram of an HdrHistogram interval log
// (resultfmt.ReadIntervalLog). Histograms that share a start time (as the warm-up's part
// and the stages' part of one second) are merged into one interval.
func ReadIntervalLog(r io.Reader) ([]Interval, error) {
	logged, err := resultfmt.ReadIntervalLog(r)
	var out []Interval
	for _, l := range logged {
		iv := Interval{Start: l.Start, End: l.End, Hist: l.Hist}
		if n := len(out); n > 0 && out[n-1].Start.Equal(iv.Start) {
			if dropped := out[n-1].Hist.Merge(l.Hist); dropped > 0 {
				return out, fmt.Errorf("interval at %s: %d values beyond the histogram's range", iv.Start.UTC().Format(time.RFC3339), dropped)
			}
			continue
		}
		out = append(out, iv)
	}
	return out, err
}

// RunIntervals reads the corrected-latency interval logs of commands from a run's
// folder and merges them interval by interval (histograms with the same start time),
// in time order. A command without a log is passed over; none at all is ErrNoData.
func RunIntervals(dir string, commands []string) ([]Interval, error) {
	byStart := map[int64]*Interval{}
	read := 0
	for _, cmd := range commands {
		path := filepath.Join(dir, cmd+hlogExt)
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading interval logs: %w", err)
		}
		ivs, err := ReadIntervalLog(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading interval log %s: %w", path, err)
		}
		read++
		for _, iv := range ivs {
			k := iv.Start.UnixMilli()
			if prev := byStart[k]; prev != nil {
				prev.Hist.Merge(iv.Hist)
				continue
			}
			byStart[k] = &iv
		}
	}
	if read == 0 {
		return nil, noData("%s holds no interval log (%s) of %s", dir, "<COMMAND>"+hlogExt, strings.Join(commands, ", "))
	}
	keys := make([]int64, 0, len(byStart))
	for k := range byStart {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Interval, len(keys))
	for i, k := range keys {
		out[i] = *byStart[k]
	}
	return out, nil
}
