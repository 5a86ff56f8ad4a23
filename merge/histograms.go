package merge

import (
	"fmt"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
)

// MergeLatencies merges latency distributions losslessly: it decodes each one's stored
// histogram, adds them with hdrhistogram-go's Merge into a histogram of the first
// recorded one's geometry, and summarises and encodes the sum again
// (resultfmt.NewLatency). Distributions that recorded nothing are passed over; none
// recorded gives a zero Latency. A histogram that does not decode, or a value beyond the
// sum's range, is an error: nothing is dropped silently.
func MergeLatencies(ls ...resultfmt.Latency) (resultfmt.Latency, error) {
	h, err := mergeHistograms(ls)
	if err != nil {
		return resultfmt.Latency{}, err
	}
	return resultfmt.NewLatency(h)
}

// mergeHistograms decodes and merges ls' histograms (see MergeLatencies).
func mergeHistograms(ls []resultfmt.Latency) (*hdrhistogram.Histogram, error) {
	var sum *hdrhistogram.Histogram
	for i, l := range ls {
		if l.Count == 0 && l.Histogram == "" {
			continue
		}
		h, err := l.Decode()
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
		if sum == nil {
			sum = emptyLike(h)
		}
		if err := mergeInto(sum, h); err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
	}
	if sum == nil {
		return loadgen.NewHistogram(), nil
	}
	return sum, nil
}

// emptyLike returns an empty histogram of h's geometry.
func emptyLike(h *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	return hdrhistogram.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
}

// mergeInto adds from to sum, failing when a value lies beyond sum's range.
func mergeInto(sum, from *hdrhistogram.Histogram) error {
	if dropped := sum.Merge(from); dropped > 0 {
		return fmt.Errorf("%d values beyond the histogram's range of %d µs would be dropped", dropped, sum.HighestTrackableValue())
	}
	return nil
}
