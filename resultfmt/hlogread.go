package resultfmt

import (
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// LogInterval is one interval of an HdrHistogram interval log: its tag (COMMAND or
// COMMAND.warmup, as Writer tags them), its absolute times (to the millisecond) and its
// histogram.
type LogInterval struct {
	Tag        string
	Start, End time.Time
	Hist       *hdrhistogram.Histogram
}

// ReadIntervalLog reads every interval of an HdrHistogram interval log (as Writer and
// HdrHistogram's tools write it) with hdrhistogram-go's reader, which makes each
// interval's times absolute (the log's BaseTime added). An interval that does not decode
// is an error naming it, with the intervals before it.
func ReadIntervalLog(r io.Reader) ([]LogInterval, error) {
	lr := hdrhistogram.NewHistogramLogReader(r)
	var out []LogInterval
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return out, fmt.Errorf("interval %d: %w", len(out)+1, err)
		}
		if h == nil {
			return out, nil
		}
		out = append(out, LogInterval{
			Tag:   h.Tag(),
			Start: time.UnixMilli(h.StartTimeMs()).UTC(),
			End:   time.UnixMilli(h.EndTimeMs()).UTC(),
			Hist:  h,
		})
	}
}
