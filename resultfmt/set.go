package resultfmt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/internal/words"
)

// # Result sets

// Set is a result set as LoadSet reads it: its runs, the folder each was read from, and
// the result sets it found one folder below a folder it was given.
type Set struct {
	// Runs are the runs, in the order read.
	Runs []*Result
	// Dirs are the runs' folders (or result.json files, when given so), one per run, in
	// the order of Runs.
	Dirs []string
	// Found are the result sets read in place of a folder given, one per such folder.
	Found []FoundSet
}

// FoundSet is a result set LoadSet found inside a folder it was given and read in that
// folder's place. `dmbench run --repeat N -o DIR` writes its set into a new folder
// inside DIR (DIR/<time>-<scenario>-xN/<run folders>), so DIR names that set as long as
// it holds that one set and nothing else.
type FoundSet struct {
	Arg  string // the folder as given
	Dir  string // the set's folder inside it
	Runs int    // the runs read from it
}

// ReadSet reads a result set: the runs of each path in order. It is LoadSet without the
// account of where each run was read from.
func ReadSet(paths ...string) ([]*Result, error) {
	s, err := LoadSet(paths...)
	if err != nil {
		return nil, err
	}
	return s.Runs, nil
}

// LoadSet reads a result set: the runs of each path in order. A path is
//
//   - a run's folder (holding result.json), or a result.json itself;
//   - a set folder: a folder whose sub-folders are run folders, as `dmbench run
//     --repeat N` writes them (<out>/<set>/<run folders>); its runs are read in name
//     order, which is start-time order for dmbench's folder names;
//   - a folder holding exactly one set folder and no run folders, such as the -o folder
//     of one `run --repeat N`: that set is read, and Set.Found says so.
//
// Hidden folders (runs still being written, or left by a crash) and folders with neither
// result.json nor run folders in them are passed over. A folder holding several sets, or
// run folders beside a set, is refused with a list of what it holds, since which of them
// is meant is a guess. The same run given twice is an error, since it would weigh twice
// in the statistics.
//
// Each run is read as Read reads it: its histograms are decoded and checked, but not kept
// decoded, since a set can be many runs and compare, its usual reader, reads only the
// figures stored beside them.
func LoadSet(paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("reading a result set: no folders given: give run folders, or folders of run folders")
	}
	set := &Set{}
	seen := map[string]string{}
	add := func(arg, path string) error {
		key, err := filepath.Abs(path)
		if err != nil {
			key = filepath.Clean(path)
		}
		if filepath.Base(key) == ResultFile {
			key = filepath.Dir(key)
		}
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("reading a result set: run %s is given twice (as %s and %s): give each run once", termtext.Escape(path), termtext.Escape(prev), termtext.Escape(arg))
		}
		seen[key] = arg
		r, err := Read(path)
		if err != nil {
			return err
		}
		set.Runs = append(set.Runs, r)
		set.Dirs = append(set.Dirs, path)
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("reading a result set: %s does not exist: give a run folder (as printed after a run) or a folder of run folders", termtext.Escape(p))
			}
			return nil, fmt.Errorf("reading a result set: %w", fileError(err))
		}
		if !fi.IsDir() || isRunFolder(p) {
			if err := add(p, p); err != nil {
				return nil, err
			}
			continue
		}
		runs, found, err := folderRuns(p)
		if err != nil {
			return nil, err
		}
		if found != nil {
			set.Found = append(set.Found, *found)
		}
		for _, dir := range runs {
			if err := add(p, dir); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

// isRunFolder reports whether dir holds a result.json.
func isRunFolder(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ResultFile))
	return err == nil
}

// subFolders returns the folders directly inside dir that are not hidden, in name order.
func subFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("reading a result set: %w", fileError(err))
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// setFolder is a folder of run folders.
type setFolder struct {
	dir  string
	runs []string
}

// folderRuns returns the run folders to read for dir, a folder that is no run: its own
// run folders when it is a set, or the runs of the one set inside it (found says which).
func folderRuns(dir string) (runs []string, found *FoundSet, err error) {
	subs, err := subFolders(dir)
	if err != nil {
		return nil, nil, err
	}
	var sets []setFolder
	for _, sub := range subs {
		if isRunFolder(sub) {
			runs = append(runs, sub)
			continue
		}
		inner, err := subFolders(sub)
		if err != nil {
			return nil, nil, err
		}
		inner = slices.DeleteFunc(inner, func(d string) bool { return !isRunFolder(d) })
		if len(inner) > 0 {
			sets = append(sets, setFolder{sub, inner})
		}
	}
	switch {
	case len(sets) == 0 && len(runs) > 0:
		return runs, nil, nil
	case len(sets) == 1 && len(runs) == 0:
		return sets[0].runs, &FoundSet{Arg: dir, Dir: sets[0].dir, Runs: len(sets[0].runs)}, nil
	case len(sets) == 0:
		return nil, nil, fmt.Errorf("reading a result set: %s holds no %s, no run folders (sub-folders with %s) and no result set: give a run folder or a folder of run folders", termtext.Escape(dir), ResultFile, ResultFile)
	}
	// The folders' names are read from the disk: whoever made them chose them.
	setNames := make([]string, len(sets))
	for i, s := range sets {
		setNames[i] = fmt.Sprintf("%s (%s)", termtext.Escape(filepath.Base(s.dir)), words.Plural(len(s.runs), "run", "runs"))
	}
	if len(runs) == 0 {
		return nil, nil, fmt.Errorf("reading a result set: %s holds %d result sets: %s: name the one to read, e.g. %s",
			termtext.Escape(dir), len(sets), words.ListSome(setNames, 8), termtext.Escape(sets[0].dir))
	}
	runNames := make([]string, len(runs))
	for i, r := range runs {
		runNames[i] = termtext.Escape(filepath.Base(r))
	}
	return nil, nil, fmt.Errorf("reading a result set: %s holds both run folders and result sets, so which to read is a guess: %s %s; %s %s: name one set (e.g. %s), or give the run folders one by one",
		termtext.Escape(dir), words.Plural(len(runs), "run folder", "run folders"), words.ListSome(runNames, 8),
		words.Plural(len(sets), "result set", "result sets"), words.ListSome(setNames, 8), termtext.Escape(sets[0].dir))
}

// # Schema versions
