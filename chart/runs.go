package chart

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
)

// Run is one run to draw: its result, the folder it was read from (where its interval
// logs are) and the name its lines carry in a legend.
type Run struct {
	Label  string
	Dir    string // the run's folder; "" when only result.json's figures are drawn
	Result *resultfmt.Result
}

// RunsOf returns the runs of a result set, labelled by their folders' names; when the
// runs do not all share one broker label (meta.labels["broker"]), by "broker B" where
// that tells each run apart, else by "broker B" and the folder's name.
func RunsOf(set *resultfmt.Set) []Run {
	runs := make([]Run, len(set.Runs))
	brokers := map[string]int{}
	for i, r := range set.Runs {
		dir := set.Dirs[i]
		if filepath.Base(dir) == resultfmt.ResultFile {
			dir = filepath.Dir(dir)
		}
		runs[i] = Run{Label: filepath.Base(filepath.Clean(dir)), Dir: dir, Result: r}
		brokers[r.Meta.Labels["broker"]]++
	}
	if len(brokers) > 1 {
		for i := range runs {
			b := runs[i].Result.Meta.Labels["broker"]
			switch {
			case b == "":
			case brokers[b] == 1:
				runs[i].Label = "broker " + b
			default:
				runs[i].Label = "broker " + b + " " + runs[i].Label
			}
		}
	}
	return runs
}

// Options change what a chart draws.
type Options struct {
	// Command draws one command's figures; "" draws all commands merged.
	Command string
	// MaxPoints is the most points a line of LatencyOverTime has; a longer run is
	// downsampled (see NewLatencyOverTime). 0 means DefaultMaxPoints.
	MaxPoints int
	// SLO is an objective drawn on the percentile spectrum; nil draws none.
	SLO *SLO
	// NoUncorrected leaves the uncorrected lines out of the percentile spectrum.
	NoUncorrected bool
}

// DefaultMaxPoints is the most points a latency-over-time line has unless
// Options.MaxPoints says otherwise.
const DefaultMaxPoints = 1000

// runTitle names the scenario of runs: "pipeline", or "pipeline, capacity-ramp".
func runTitle(runs []Run) string {
	var names []string
	for _, r := range runs {
		if n := r.Result.Meta.Scenario.Name; n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "(unnamed scenario)"
	}
	return strings.Join(names, ", ")
}

// targetText says what was loaded: "embedded reference broker (faults: pause=300ms/1s)
// at tcp://127.0.0.1:5556 · broker 0.2.1", with the broker labels of several runs listed
// once: "... · brokers 0.2.1, 0.3.0".
func targetText(runs []Run) string {
	var targets, brokers []string
	for _, run := range runs {
		m := run.Result.Meta
		t := m.Target.Address
		if m.Target.Embedded {
			mode := m.Target.BrokerMode
			if mode == "" {
				mode = "reference"
			}
			t = "embedded " + mode + " broker"
			if len(m.Target.Faults) > 0 {
				t += " (faults: " + strings.Join(m.Target.Faults, "; ") + ")"
			}
			t += " at " + m.Target.Address
		}
		if t == "" {
			t = "unknown target"
		}
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
		if b := m.Labels["broker"]; b != "" && !slices.Contains(brokers, b) {
			brokers = append(brokers, b)
		}
	}
	out := strings.Join(targets, "; ")
	if len(targets) > 2 {
		out = fmt.Sprintf("%s and %d other targets", targets[0], len(targets)-1)
	}
	switch len(brokers) {
	case 0:
	case 1:
		out += " · broker " + brokers[0]
	default:
		out += " · brokers " + strings.Join(brokers, ", ")
	}
	return out
}

// runSubtitle is the subtitle of a one-run chart: the run's label (unless the target
// text already says it), the target and what else is given.
func runSubtitle(run Run, more ...string) string {
	parts := []string{targetText([]Run{run})}
	if run.Label != "" && !strings.Contains(parts[0], run.Label) && !strings.HasPrefix(run.Label, "broker ") {
		parts = append([]string{run.Label}, parts...)
	}
	return strings.Join(append(parts, more...), " · ")
}

// commandText says which commands the figures are of.
func commandText(command string, merged []string) string {
	if command != "" {
		return "command " + command
	}
	if len(merged) == 1 {
		return "command " + merged[0]
	}
	return "all commands merged (" + strings.Join(merged, " + ") + ")"
}

// CheckCommand returns an error when command is set and none of the runs has it; the
// error lists the commands they have.
func CheckCommand(command string, runs []Run) error {
	if command == "" {
		return nil
	}
	var all []string
	for _, r := range runs {
		for _, c := range r.Result.Commands() {
			if c == command {
				return nil
			}
			if !slices.Contains(all, c) {
				all = append(all, c)
			}
		}
	}
	return fmt.Errorf("no command %s in the results: they hold %s", command, strings.Join(all, ", "))
}

// commandsOf returns the commands whose figures are drawn: command, or all of r's.
func commandsOf(r *resultfmt.Result, command string) []string {
	if command != "" {
		return []string{command}
	}
	return r.Commands()
}

// mergedLatency returns the histogram of kind of commands, merged over r's stages
// (warm-up excluded).
func mergedLatency(r *resultfmt.Result, commands []string, kind resultfmt.HistogramKind) (*hdrhistogram.Histogram, error) {
	sum := loadgen.NewHistogram()
	for _, c := range commands {
		h, _, err := r.Merged(c, kind)
		if err != nil {
			return nil, err
		}
		if dropped := sum.Merge(h); dropped > 0 {
			return nil, fmt.Errorf("%s: %d values beyond the histogram's range were dropped while merging", c, dropped)
		}
	}
	return sum, nil
}

// stageLatency returns the corrected histogram of commands within one stage, merged.
func stageLatency(s *resultfmt.StageResult, commands []string) (*hdrhistogram.Histogram, error) {
	sum := loadgen.NewHistogram()
	for i := range s.Commands {
		c := &s.Commands[i]
		if !slices.Contains(commands, c.Command) {
			continue
		}
		h, err := c.Corrected.Decode()
		if err != nil {
			return nil, fmt.Errorf("stage %q %s: %w", s.Name, c.Command, err)
		}
		sum.Merge(h)
	}
	return sum, nil
}
