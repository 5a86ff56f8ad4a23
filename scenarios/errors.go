package scenarios

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem found in a scenario file: where it is (file, 1-based line and
// column, and the field path such as "stages[1].rate") and what is wrong with it, with
// what is allowed instead. Line and Column are 0 when the problem has no place in the
// text (the file cannot be read, say); Path is empty when it concerns the whole file.
type Error struct {
	File    string // the file name as given to Parse or Load; bundled files are "<name>.yaml"
	Line    int    // 1-based line, 0 when unknown
	Column  int    // 1-based column, 0 when unknown
	Path    string // field path, e.g. "stages[1].mix[0].group.zipf"; "short." marks the short overlay
	Message string // what is wrong and what to write instead
}

// Error formats e as "file:line:col: path: message", leaving out the parts that are
// unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(":")
		if e.Column > 0 {
			b.WriteString(strconv.Itoa(e.Column))
			b.WriteString(":")
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in one or more scenario files, in file order and then
// in the order of the text. Parse, Load and Validate return an ErrorList (never an empty
// one) when a file is not valid, so a caller can print all problems at once and exit
// without starting any load.
type ErrorList []*Error

// Error prints one problem per line, in the "file:line:col: path: message" form.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the problems of one file by line, column, path and message, and drops exact
// duplicates (which arise when the full scenario and its short overlay share a mistake).
func (l ErrorList) sort() ErrorList {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.CompactFunc(l, func(a, b *Error) bool { return *a == *b })
}
