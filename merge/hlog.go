package merge

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/resultfmt"
)

// hlogExt ends an interval log's name; uncorrectedExt that of the uncorrected latency's
// (resultfmt.Writer's LogUncorrected).
const (
	hlogExt        = ".hlog"
	uncorrectedExt = ".uncorrected.hlog"
)

// logFile is one interval log of a run folder: the command it is of, and whether it
// holds uncorrected latency.
type logFile struct {
	name        string
	command     string
	uncorrected bool
}

// runLogs lists the interval logs in a run folder.
func runLogs(dir string) ([]logFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("merging interval logs: %w", err)
	}
	var out []logFile
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, hlogExt) {
			continue
		}
		if cmd, ok := strings.CutSuffix(name, uncorrectedExt); ok {
			out = append(out, logFile{name, cmd, true})
			continue
		}
		out = append(out, logFile{name, strings.TrimSuffix(name, hlogExt), false})
	}
	return out, nil
}

// slotKey is one second of the merged logs of one command and tag.
type slotKey struct {
	command string
	slot    int64 // seconds since the grid's start
	warmup  bool
}

// slot is a second's merged histograms.
type slot struct {
	length                 time.Duration // the longest interval merged into it
	corrected, uncorrected *hdrhistogram.Histogram
}

// Logs merges the shards' interval logs, file by file, aligned by absolute time: the
// seconds of a grid that starts at the earliest interval start of any shard's logs.
// Intervals of one command and tag (stages or warm-up) whose start falls in the same
// second of the grid are merged into one, which starts at that second and lasts as long
// as the longest of them (a second, as dmbench writes them). It returns the merged
// intervals in time order, ready for resultfmt.Writer.Interval (the corrected and, when
// some shard logged it, the uncorrected histogram of each command, second and tag), and
// notes naming the logs some shards lack.
func Logs(in []Input) ([]loadgen.Interval, []string, error) {
	var notes []string
	type read struct {
		file logFile
		ivs  []resultfmt.LogInterval
	}
	perShard := make([][]read, len(in))
	files := map[string]bool{}
	var anchor time.Time
	for i := range in {
		logs, err := runLogs(in[i].Dir)
		if err != nil {
			return nil, nil, err
		}
		for _, lf := range logs {
			path := filepath.Join(in[i].Dir, lf.name)
			ivs, err := readLogFile(path)
			if err != nil {
				return nil, nil, err
			}
			files[lf.name] = true
			perShard[i] = append(perShard[i], read{lf, ivs})
			for _, iv := range ivs {
				if anchor.IsZero() || iv.Start.Before(anchor) {
					anchor = iv.Start
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		for i := range in {
			if !slices.ContainsFunc(perShard[i], func(r read) bool { return r.file.name == name }) {
				notes = append(notes, fmt.Sprintf("%s has no %s: the merged interval log lacks its intervals", in[i].Result.Meta.Shard, name))
			}
		}
	}
	slots := map[slotKey]*slot{}
	for i := range in {
		for _, r := range perShard[i] {
			for _, iv := range r.ivs {
				k := slotKey{
					command: r.file.command,
					slot:    int64(iv.Start.Sub(anchor) / time.Second),
					warmup:  strings.HasSuffix(iv.Tag, resultfmt.WarmupTagSuffix),
				}
				s := slots[k]
				if s == nil {
					s = &slot{}
					slots[k] = s
				}
				s.length = max(s.length, iv.End.Sub(iv.Start))
				dst := &s.corrected
				if r.file.uncorrected {
					dst = &s.uncorrected
				}
				if *dst == nil {
					*dst = emptyLike(iv.Hist)
				}
				if err := mergeInto(*dst, iv.Hist); err != nil {
					return nil, nil, fmt.Errorf("merging %s of %s, the interval at %s: %w", r.file.name, in[i].name(), iv.Start.Format(time.RFC3339), err)
				}
			}
		}
	}
	keys := slices.Collect(maps.Keys(slots))
	slices.SortFunc(keys, func(a, b slotKey) int {
		switch {
		case a.slot != b.slot:
			return int(a.slot - b.slot)
		case a.command != b.command:
			return strings.Compare(a.command, b.command)
		case a.warmup != b.warmup:
			if a.warmup { // the warm-up's part first, as loadgen hands them
				return -1
			}
			return 1
		}
		return 0
	})
	out := make([]loadgen.Interval, 0, len(keys))
	for _, k := range keys {
		s := slots[k]
		start := anchor.Add(time.Duration(k.slot) * time.Second)
		out = append(out, loadgen.Interval{
			Start: start, End: start.Add(s.length),
			Command: protocol.Command(k.command), Warmup: k.warmup,
			Corrected: s.corrected, Uncorrected: s.uncorrected,
		})
	}
	return out, notes, nil
}

// readLogFile reads one interval log (resultfmt.ReadIntervalLog).
func readLogFile(path string) ([]resultfmt.LogInterval, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("merging interval logs: %w", err)
	}
	defer f.Close()
	ivs, err := resultfmt.ReadIntervalLog(f)
	if err != nil {
		return nil, fmt.Errorf("merging interval logs: %s: %w", path, err)
	}
	return ivs, nil
}
