package termtext

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain ASCII", "dmbench-broker v0.1.0", "dmbench-broker v0.1.0"},
		{"printable Unicode kept", "héllo wörld µs → ✓ 日本 😀", "héllo wörld µs → ✓ 日本 😀"},
		{"zero-width joiner kept (emoji sequences)", "👩\u200d💻", "👩\u200d💻"},
		{"backslash kept", `C:\runs\x1b`, `C:\runs\x1b`},
		{"quotes kept", `say "hi" 'there'`, `say "hi" 'there'`},
		{"ESC clearing the screen", "srv\x1b[2Jx", `srv\x1b[2Jx`},
		{"OSC setting the title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"CR and LF forging a line", "a\r\nstage 9 OK", `a\r\nstage 9 OK`},
		{"tab", "a\tb", `a\tb`},
		{"NUL and other C0", "\x00\x01\x08\x0b\x0c\x1f", `\x00\x01\x08\x0b\x0c\x1f`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI as UTF-8", "a\u009b2Jb", `a\u009b2Jb`},
		{"C1 first and last", "\u0080\u009f", `\u0080\u009f`},
		{"U+00A0 (after C1) kept", "a\u00a0b", "a\u00a0b"},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`},
		{"bidi embeddings and pop", "\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"bidi isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"bidi marks", "\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"neighbours of the bidi ranges kept", "\u2029x\u202f\u2065\u206a", `\u2029x` + "\u202f\u2065\u206a"},
		{"invalid UTF-8 byte", "a\xffb", `a\xffb`},
		{"truncated sequence", "a\xe2\x82", `a\xe2\x82`},
		{"raw 8-bit CSI byte", "\x9b2J", `\x9b2J`},
		{"overlong encoding of ESC", "\xc0\x9b", `\xc0\x9b`},
		{"encoded surrogate", "\xed\xa0\x80", `\xed\xa0\x80`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Escape(tt.in)
			if got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := Escape(got); again != got {
				t.Errorf("Escape is not idempotent: Escape(%q) = %q", got, again)
			}
			if !printable(got) {
				t.Errorf("Escape(%q) = %q still holds something a terminal acts on", tt.in, got)
			}
		})
	}
}

// printable reports whether s is valid UTF-8 holding no rune Escape escapes.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune)
}

func TestEscapeLines(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"lines and tabs kept", "a\tb\nc\n", "a\tb\nc\n"},
		{"carriage return escaped", "done\rforged", `done\rforged`},
		{"ESC, C1 and bidi escaped", "x\x1b[2J\u009b\u202e\n", `x\x1b[2J\u009b\u202e` + "\n"},
		{"invalid UTF-8", "\xff\n", `\xff` + "\n"},
	}
	for _, tt := range tests {
		if got := EscapeLines(tt.in); got != tt.want {
			t.Errorf("%s: EscapeLines(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
		if got := EscapeLines(tt.want); got != tt.want {
			t.Errorf("%s: EscapeLines is not idempotent: %q gives %q", tt.name, tt.want, got)
		}
	}
}

func TestEscapeKeepsSafeStrings(t *testing.T) {
	tests := []string{"", "HARTBEAT", "stage 1 \"warm\"", "µs"}
	for _, s := range tests {
		if got := Escape(s); got != s {
			t.Errorf("Escape(%q) = %q, want it unchanged", s, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Escape("nothing to escape here") }); n != 0 {
		t.Errorf("Escape allocates %v times for a safe string, want 0", n)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a\x1b[2Jb", "\u202e", "\xff", "\u009b", `\x1b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if !printable(got) {
			t.Fatalf("Escape(%q) = %q still holds something a terminal acts on", s, got)
		}
		if Escape(got) != got {
			t.Fatalf("Escape(%q) = %q is not a fixed point", s, got)
		}
		if firstUnsafe(s, false) < 0 && got != s {
			t.Fatalf("Escape(%q) = %q changed a safe string", s, got)
		}
	})
}

func TestEscapeJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string // a string value to marshal
		want string // the marshalled and escaped document
	}{
		{"plain", "HARTBEAT", `"HARTBEAT"`},
		{"printable Unicode kept", "µs → ✓", `"µs → ✓"`},
		{"C0 left to encoding/json", "a\x1b[2J", `"a\u001b[2J"`},
		{"DEL", "a\x7f", `"a\u007f"`},
		{"C1", "a\u009b2J", `"a\u009b2J"`},
		{"bidi override and isolate", "\u202e\u2066x", `"\u202e\u2066x"`},
		{"separators left to encoding/json", "\u2028", `"\u2028"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := EscapeJSON(doc)
			if string(got) != tt.want {
				t.Errorf("EscapeJSON(%s) = %s, want %s", doc, got, tt.want)
			}
			var back string
			if err := json.Unmarshal(got, &back); err != nil || back != tt.in {
				t.Errorf("%s decodes to %q (%v), want %q", got, back, err, tt.in)
			}
			if !printable(string(got)) {
				t.Errorf("%s still holds something a terminal acts on", got)
			}
		})
	}
}

func TestError(t *testing.T) {
	inner := fmt.Errorf("stage \x1b[2J: %w", fs.ErrNotExist)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"escaped", Error(inner), `stage \x1b[2J: file does not exist`},
		{"safe unchanged", Error(errors.New("plain")), "plain"},
		{"lines kept", Error(errors.Join(errors.New("one\r"), errors.New("two\u202e"))), "one\\r\ntwo\\u202e"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%s: Error() = %q, want %q", tt.name, got, tt.want)
		}
	}
	if !errors.Is(Error(inner), fs.ErrNotExist) {
		t.Error("errors.Is does not see through Error")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
