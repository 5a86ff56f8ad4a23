package scenarios

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Limits of the file itself, which keep reading a hostile file bounded in time and
// memory: its size, how deeply its lists and mappings nest, and how much its aliases
// may repeat. Each is far above what a scenario needs (the bundled ones are under 4
// KiB, nest 7 deep and repeat a few hundred nodes) and far below where the YAML parser
// or the walk of the file become slow: the parser's work grows with the square of the
// nesting depth (30,000 levels of [ took it 4 s and 1.4 GB), and aliases of aliases
// repeat a node exponentially (eleven lines of nine-way merge keys stand for 9^11
// mappings).
const (
	// MaxFileSize is the most bytes a scenario file may hold. Parse refuses more, and
	// Load reads no more than one byte beyond it.
	MaxFileSize = 1 << 20

	// MaxDepth is how deeply lists and mappings may nest, counting both flow ([ {) and
	// block (indented) collections. A scenario nests 7 deep (the file, stages, a stage,
	// mix, a request, a name generator, a list of merge sources). Parse checks it on
	// the raw text before the YAML parser reads it, and again on the parser's tokens.
	MaxDepth = 64

	// MaxExpansion is how many nodes the aliases and merge keys (<<) of a file may
	// stand for in all: each alias the walk of the file follows costs the nodes of the
	// value it names, its own aliases followed in full. Copying a mix of a few
	// requests into ten stages costs a few hundred.
	MaxExpansion = 100_000
)

// readFile reads the scenario file at path, refusing one larger than MaxFileSize
// without reading it all: it checks the size the file system gives, then reads at
// most one byte beyond the limit (a pipe or a file still being written has no size
// to trust). A file too large comes back as an ErrorList, like any other problem of
// the file; one that cannot be read as a plain error.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("scenario file %s does not exist; give a path to a YAML file or a bundled name (%s)", path, bundledNames())
		}
		return nil, fmt.Errorf("cannot read scenario file: %w; check the path and its permissions", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileSize {
		return nil, ErrorList{tooLarge(path, st.Size(), true)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read scenario file: %w; check the path and its permissions", err)
	}
	if len(data) > MaxFileSize {
		return nil, ErrorList{tooLarge(path, int64(len(data)), false)}
	}
	return data, nil
}

// tooLarge is the problem of a file of size bytes, over MaxFileSize; exact says
// whether size is the file's size or only as much of it as was read.
func tooLarge(file string, size int64, exact bool) *Error {
	is := fmt.Sprintf("%.1f MiB (%d bytes)", float64(size)/(1<<20), size)
	if !exact {
		is = fmt.Sprintf("more than %d bytes", MaxFileSize)
	}
	return &Error{File: file, Message: fmt.Sprintf("the file is %s, and a scenario file may be at most 1 MiB (%d bytes); "+
		"a scenario is a few dozen lines: check that this is the file you meant", is, MaxFileSize)}
}
