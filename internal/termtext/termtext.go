// Package termtext makes text that came from outside dmbench safe to print: a server's
// performance report, a --label, someone else's result.json (scenario and stage names,
// hosts, notes), a folder name found on disk. Such text reaches a terminal, a log or a
// markdown table, where a control character does not show but acts: ESC [2J clears the
// screen, OSC sets the window title, CR and LF forge lines of the summary, a bidi
// override reorders what follows it.
//
// Escape is the one function every such string goes through before it is printed.
// EscapeLines does the same for text of several lines (a page), EscapeJSON for a JSON
// document that encoding/json wrote, and Error for an error whose message may carry such
// text.
package termtext

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// Escape returns s with everything that would act on a terminal instead of showing
// escaped visibly, each as Go writes it in a string literal:
//
//   - C0 controls (U+0000–U+001F): \t, \n and \r by name, the others as \xNN (ESC is
//     \x1b); every one of them, so a field stays on its line;
//   - DEL as \x7f;
//   - C1 controls (U+0080–U+009F, which some terminals obey like ESC sequences) as \uNNNN;
//   - the bidirectional formatting characters, which reorder the text around them: the
//     embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069, the marks
//     U+200E, U+200F and U+061C; and the line and paragraph separators U+2028 and
//     U+2029; all as \uNNNN;
//   - each byte that is not part of valid UTF-8 as \xNN.
//
// Everything else, printable Unicode included, is kept as it is, and so is the backslash:
// a name that holds the text \x1b shows as the escape of ESC would, which can mislead a
// reader but never drives the terminal. Since its output holds nothing it escapes, Escape
// is idempotent: Escape(Escape(s)) == Escape(s), so text escaped twice on its way out
// reads the same. A string with nothing to escape is returned as it is, without copying.
func Escape(s string) string { return escape(s, false) }

// EscapeLines is Escape for text of several lines, such as a page or a report: it keeps
// the newline and the tab, and escapes everything else Escape escapes (the carriage
// return too, which would let a line overwrite the one before it on a terminal).
func EscapeLines(s string) string { return escape(s, true) }

// escape is Escape, or EscapeLines when lines is true.
func escape(s string, lines bool) string {
	i := firstUnsafe(s, lines)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			writeByte(&b, s[i])
		} else if unsafeRune(r) && !(lines && (r == '\n' || r == '\t')) {
			writeRune(&b, r)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// firstUnsafe returns the index of the first byte of s that Escape (or EscapeLines, when
// lines is true) changes, or -1.
func firstUnsafe(s string, lines bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && !(lines && (c == '\n' || c == '\t'))) || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

// unsafeRune reports whether Escape escapes the valid rune r.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, // bidi embeddings, overrides, isolates
		r == 0x200e, r == 0x200f, r == 0x061c, // bidi marks
		r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

// writeRune writes the escape of an unsafe rune.
func writeRune(b *strings.Builder, r rune) {
	switch {
	case r == '\t':
		b.WriteString(`\t`)
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r <= 0x7f:
		writeByte(b, byte(r))
	default:
		fmt.Fprintf(b, `\u%04x`, r)
	}
}

// writeByte writes c as \xNN.
func writeByte(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0xf])
}

// EscapeJSON returns doc, a JSON document as encoding/json writes it, with the characters
// Escape escapes that encoding/json leaves raw written as JSON escapes instead: DEL, the
// C1 controls and the bidi formatting characters, as \u007f, \u009b, \u202e... The JSON
// decodes to the same values. (encoding/json already escapes the C0 controls and the line
// and paragraph separators, and replaces invalid UTF-8 with U+FFFD.) In valid JSON these
// characters can only be inside strings, where the escape means the same character. doc
// is returned as it is when there is nothing to escape.
func EscapeJSON(doc []byte) []byte {
	i := bytes.IndexFunc(doc, func(r rune) bool { return r >= 0x7f && unsafeRune(r) })
	if i < 0 {
		return doc
	}
	out := make([]byte, 0, len(doc)+16)
	out = append(out, doc[:i]...)
	for i < len(doc) {
		r, size := utf8.DecodeRune(doc[i:])
		if r >= 0x7f && unsafeRune(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, doc[i:i+size]...)
		}
		i += size
	}
	return out
}

// Error returns err with its message escaped for a terminal, for an error that may quote
// text from outside and is about to be printed; errors.Is and errors.As see err through
// it. Nil gives nil.
//
// The message is escaped as EscapeLines escapes, keeping its newlines and tabs, since an
// error can have several lines (errors.Join's, or a list): a newline inside the text it
// quotes stays one too. Code that makes an error from outside text should escape that
// text itself (Escape, or %q); Error is the net for errors made elsewhere.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return escapedError{err}
}

// escapedError is an error whose message is escaped.
type escapedError struct{ err error }

func (e escapedError) Error() string { return EscapeLines(e.err.Error()) }
func (e escapedError) Unwrap() error { return e.err }
