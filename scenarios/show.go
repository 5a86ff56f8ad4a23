package scenarios

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is how text from a scenario file is shown in a message: cut to a length a
// terminal line can hold, with every control character escaped, so that a file cannot
// fill a screen with one value or write escape sequences to the terminal that shows
// its problems.

// shownRunes is how many characters of a value a message shows.
const shownRunes = 64

// quote shows s quoted, as %q does (control characters and invalid UTF-8 escaped);
// beyond shownRunes characters it is cut and its length in bytes follows:
// "xxxx…"…(52428800 bytes).
func quote(s string) string {
	head, cut := clip(s, shownRunes)
	if !cut {
		return strconv.Quote(s)
	}
	return strconv.Quote(head) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// bare shows s as it is when it is short and printable (a number, a word: 5, 1.5s),
// and as quote shows it otherwise.
func bare(s string) string {
	if utf8.RuneCountInString(s) > shownRunes || !printable(s) {
		return quote(s)
	}
	return s
}

// sanitize makes a whole message that holds text from the file (a YAML syntax error
// from the parser) safe to print: control characters escaped as \n, \x1b, \u202e,
// quotes and the rest left as they are, and the message cut after limit characters.
func sanitize(msg string, limit int) string {
	head, cut := clip(msg, limit)
	var b strings.Builder
	for _, r := range head {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case strconv.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r) // '\x1b'
			b.WriteString(q[1 : len(q)-1])
		}
	}
	if cut {
		b.WriteString("…(" + strconv.Itoa(len(msg)) + " bytes)")
	}
	return b.String()
}

// clip returns the first n characters of s, and whether there were more.
func clip(s string, n int) (string, bool) {
	i := 0
	for range n {
		if i >= len(s) {
			return s, false
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i], i < len(s)
}

// printable reports whether every character of s is valid UTF-8 and printable
// (strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space).
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}
