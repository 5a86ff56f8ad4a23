package merge

import (
	"fmt"
	"path/filepath"

	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
)

// Write writes a merged run into the folder dir, which must not exist: result.json, one
// interval log per command (and per command's uncorrected latency, when some interval
// has it) from ivs, and the percentile spectra regenerated from r's merged histograms.
// It writes into a hidden temporary folder beside dir and renames it into place
// (resultfmt.Writer.FinishAt), so dir holds the whole result or does not exist; on
// failure nothing is left behind.
func Write(dir string, r *resultfmt.Result, ivs []loadgen.Interval) error {
	dir = filepath.Clean(dir)
	w, err := resultfmt.Create(filepath.Dir(dir), filepath.Base(dir))
	if err != nil {
		return err
	}
	defer w.Abort() // after FinishAt it does nothing
	for _, iv := range ivs {
		if iv.Uncorrected != nil {
			w.LogUncorrected = true
		}
	}
	for _, iv := range ivs {
		if err := w.Interval(iv); err != nil {
			return fmt.Errorf("writing the merged interval logs: %w", err)
		}
	}
	return w.FinishAt(r, dir)
}
