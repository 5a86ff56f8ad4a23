package resultfmt

import "time"

// WholeRun returns cmd's figures over all stages (warm-up excluded): counts summed,
// corrected latency from the merged histograms, throughput and send rate over the summed
// measured windows of the stages. The uncorrected and send-delay figures are left empty. A command the
// result does not hold gives zero figures.
func (r *Result) WholeRun(cmd string) (CommandResult, error) {
	var (
		only  *CommandResult
		n     int
		total time.Duration
	)
	for si := range r.Stages {
		total += r.Stages[si].Measured()
		for ci := range r.Stages[si].Commands {
			if c := &r.Stages[si].Commands[ci]; c.Command == cmd {
				only = c
				n++
			}
		}
	}
	out := CommandResult{Command: cmd}
	if n == 1 {
		out.Counts, out.Corrected = only.Counts, only.Corrected
	} else {
		h, counts, err := r.Merged(cmd, Corrected)
		if err != nil {
			return out, err
		}
		if out.Corrected, err = NewLatency(h); err != nil {
			return out, err
		}
		out.Counts = counts
	}
	if secs := total.Seconds(); secs > 0 {
		out.ThroughputPerS = float64(out.Counts.OK) / secs
		out.SentPerS = float64(out.Counts.Sent) / secs
	}
	return out, nil
}
