package resultfmt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FinishAt is Finish for a folder whose name the caller chooses, as dmbench merge's -o
// does: it writes result.json, closes the interval logs, writes the percentile spectra
// (regenerated from r's histograms), syncs them and renames the temporary folder to dir
// in one step, so a reader sees the whole folder or none. dir must not exist yet and must
// lie in the folder given to Create (a rename is atomic within one folder only): create
// the Writer with Create(filepath.Dir(dir), filepath.Base(dir)).
//
// Unlike Finish it keeps nothing on failure: the temporary folder is removed and nothing
// is moved into place, since what is merged can be merged again from its sources.
func (w *Writer) FinishAt(r *Result, dir string) (err error) {
	if r == nil {
		return errors.New("report: FinishAt without a result; this is a bug in the caller")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errors.New("report: FinishAt after the results were finished or aborted; this is a bug in the caller")
	}
	w.done = true
	defer func() {
		if err != nil {
			_ = w.closeLogs()
			if rerr := os.RemoveAll(w.tmp); rerr != nil {
				err = fmt.Errorf("%w; removing %s: %v (remove it by hand)", err, w.tmp, rerr)
			}
		}
	}()
	if filepath.Clean(filepath.Dir(dir)) != filepath.Clean(w.outDir) {
		return fmt.Errorf("report: %s is not in %s, where its temporary folder is; this is a bug in the caller", dir, w.outDir)
	}
	if w.intervalErr != nil {
		return w.intervalErr
	}
	if err := w.writeResult(r); err != nil {
		return err
	}
	if err := w.closeLogs(); err != nil {
		return err
	}
	for _, cmd := range r.Commands() {
		if err := w.writeSpectrum(r, cmd); err != nil {
			return err
		}
	}
	if err := syncDir(w.tmp); err != nil {
		return err
	}
	// A rename replaces an empty folder silently: look first, so that -o never overwrites.
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("report: %s already exists: choose another folder, or remove it", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(w.tmp, dir); err != nil {
		return fmt.Errorf("report: moving results into place: %w", err)
	}
	return syncDir(w.outDir)
}
