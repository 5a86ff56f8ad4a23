package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
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
			return fmt.Errorf("reading a result set: run %s is given twice (as %s and %s): give each run once", path, prev, arg)
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
				return nil, fmt.Errorf("reading a result set: %s does not exist: give a run folder (as printed after a run) or a folder of run folders", p)
			}
			return nil, fmt.Errorf("reading a result set: %w", err)
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
		return nil, fmt.Errorf("reading a result set: %w", err)
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
		return nil, nil, fmt.Errorf("reading a result set: %s holds no %s, no run folders (sub-folders with %s) and no result set: give a run folder or a folder of run folders", dir, ResultFile, ResultFile)
	}
	setNames := make([]string, len(sets))
	for i, s := range sets {
		setNames[i] = fmt.Sprintf("%s (%s)", filepath.Base(s.dir), plural(uint64(len(s.runs)), "run", "runs"))
	}
	if len(runs) == 0 {
		return nil, nil, fmt.Errorf("reading a result set: %s holds %d result sets: %s: name the one to read, e.g. %s",
			dir, len(sets), listSome(setNames, 8), sets[0].dir)
	}
	runNames := make([]string, len(runs))
	for i, r := range runs {
		runNames[i] = filepath.Base(r)
	}
	return nil, nil, fmt.Errorf("reading a result set: %s holds both run folders and result sets, so which to read is a guess: %s %s; %s %s: name one set (e.g. %s), or give the run folders one by one",
		dir, plural(uint64(len(runs)), "run folder", "run folders"), listSome(runNames, 8),
		plural(uint64(len(sets)), "result set", "result sets"), listSome(setNames, 8), sets[0].dir)
}

// listSome joins the first n names with commas and says how many more there are.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// # Schema versions

// schemaChanges says, by schema version, what changed from the version before it that
// makes figures of the two versions incomparable. A version missing here gets a general
// reason.
var schemaChanges = map[int]string{
	2: "throughput and sent rates were computed over different windows before schema 2 " +
		"(schema 1 divided by the whole stage, warm-up included; schema 2 divides by the measured window, warm-up excluded)",
}

// CompareSets compares two sets read by LoadSet as Compare does; where an error is about
// particular runs, it names them by their folders.
func CompareSets(old, new *Set, opts CompareOptions) (*Comparison, error) {
	if err := checkSchemaVersions(old.Runs, new.Runs, old.Dirs, new.Dirs); err != nil {
		return nil, err
	}
	return Compare(old.Runs, new.Runs, opts)
}

// checkSchemaVersions refuses runs written with different schema versions, on either
// side or across them: the same field can mean different things in two versions.
// oldNames and newNames name the runs (their folders); nil names them by start time.
func checkSchemaVersions(old, new []*Result, oldNames, newNames []string) error {
	byVersion := map[int][]string{}
	sideVersions := map[string][]int{}
	for _, side := range []struct {
		tag   string
		runs  []*Result
		names []string
	}{{"old", old, oldNames}, {"new", new, newNames}} {
		for i, r := range side.runs {
			v := r.Meta.SchemaVersion
			byVersion[v] = append(byVersion[v], side.tag+" "+runName(r, side.names, i))
			if !slices.Contains(sideVersions[side.tag], v) {
				sideVersions[side.tag] = append(sideVersions[side.tag], v)
			}
		}
	}
	if len(byVersion) < 2 {
		return nil
	}
	versions := make([]int, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	lo, hi := versions[0], versions[len(versions)-1]

	var b strings.Builder
	b.WriteString("comparing: the runs were written with different result schemas (meta.schema_version), whose figures cannot be compared:")
	for _, v := range versions {
		fmt.Fprintf(&b, "\n  schema %d: %s", v, listSome(byVersion[v], 6))
	}
	var reasons []string
	for v := lo + 1; v <= hi; v++ {
		if why, ok := schemaChanges[v]; ok {
			reasons = append(reasons, why)
		}
	}
	if len(reasons) == 0 {
		reasons = append(reasons, fmt.Sprintf("result.json's figures changed meaning between schema %d and schema %d", lo, hi))
	}
	b.WriteString("\n" + strings.Join(reasons, "; "))
	// Who has to run again: the sides with runs older than the newest, when the newest
	// is what this dmbench writes; else everything.
	var older []string
	for _, tag := range []string{"old", "new"} {
		if slices.Min(sideVersions[tag]) < hi {
			older = append(older, "the "+tag+" side")
		}
	}
	if hi == SchemaVersion && len(older) == 1 {
		fmt.Fprintf(&b, "\nre-run %s with this dmbench (it writes schema %d), then compare again", older[0], SchemaVersion)
	} else if hi == SchemaVersion {
		fmt.Fprintf(&b, "\nre-run the runs of schema below %d on both sides with this dmbench (it writes schema %d), then compare again", hi, SchemaVersion)
	} else {
		fmt.Fprintf(&b, "\nre-run both sides with this dmbench (it writes schema %d), then compare again", SchemaVersion)
	}
	return errors.New(b.String())
}

// runName names run i of a side: its folder when names has one, else its start.
func runName(r *Result, names []string, i int) string {
	if i < len(names) && names[i] != "" {
		return names[i]
	}
	if r.Meta.Start.IsZero() {
		return fmt.Sprintf("run %d", i+1)
	}
	return fmt.Sprintf("run %d (started %s on %s)", i+1, r.Meta.Start.UTC().Format(time.RFC3339), nonEmpty(r.Meta.Host, "an unknown host"))
}
