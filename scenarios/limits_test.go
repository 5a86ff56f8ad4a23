package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/goccy/go-yaml/lexer"
)

// Hostile files, as reproduced for issue 16, and the limits that refuse them.

// mergeBomb is a scenario whose mix holds k+1 requests, each (after the first) merging
// nine aliases of the one before: the last stands for 9^k mappings in under 1 KiB.
func mergeBomb(k int) string {
	var b strings.Builder
	b.WriteString("stages:\n  - duration: 1s\n    clients: 1\n    rate: 1/s\n    mix:\n")
	b.WriteString("      - &m0 {command: HARTBEAT}\n")
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, "      - &m%d {<<: [*m%d", i, i-1)
		for range 8 {
			fmt.Fprintf(&b, ", *m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	return b.String()
}

// listBomb is a scenario of n stages, each an alias of one stage whose mix is n
// aliases of one request: n*n requests to read from 4n bytes.
func listBomb(n int) string {
	return "x: &r {command: HARTBEAT}\n" +
		"y: &s {duration: 1s, clients: 1, rate: 1/s, mix: [*r" + strings.Repeat(", *r", n-1) + "]}\n" +
		"stages: [*s" + strings.Repeat(", *s", n-1) + "]\n"
}

// nested is n flow lists, one inside the other: [[[…]]].
func nested(n int) string {
	return strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"
}

// allocated returns how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileFiles parses the files found for issue 16 and checks that each is refused
// with its one problem, having allocated less than 100 MB. Before the limits, the merge
// bomb took minutes and gigabytes, 30,000 nested lists 4 s and 1.4 GB, and a 50 MB file
// 1.5 GB and a message that held all of it.
func TestHostileFiles(t *testing.T) {
	big := "name: \"" + strings.Repeat("x", 2<<20) + "\"\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"merge bomb", mergeBomb(11),
			"bomb.yaml:7:39: stages[0].mix[4]: following this alias, the file's aliases and merge keys (<<) stand for more than 100000 nodes; a scenario needs a few hundred: write the values out, or use fewer aliases"},
		{"list bomb", listBomb(1000),
			"bomb.yaml:3:106: stages[24]: following this alias, the file's aliases and merge keys (<<) stand for more than 100000 nodes; a scenario needs a few hundred: write the values out, or use fewer aliases"},
		{"alias of its own anchor", "stages:\n  - duration: 1s\n    clients: 1\n    rate: 1/s\n    mix:\n      - &m {command: HARTBEAT, <<: [*m, *m]}\n",
			"bomb.yaml:6:37: stages[0].mix[0]: alias *m is inside the value of its anchor &m (line 6), so it never ends; write the value out"},
		{"30,000 nested lists", nested(30_000),
			"bomb.yaml:1:65: lists and mappings nest more than 64 deep here; a scenario nests 7 deep at most: write the values out flatter, or check that this is the file you meant"},
		{"200,000 nested lists", nested(200_000),
			"bomb.yaml:1:65: lists and mappings nest more than 64 deep here; a scenario nests 7 deep at most: write the values out flatter, or check that this is the file you meant"},
		{"100,000 nested list items", strings.Repeat("- ", 100_000) + "x\n",
			"bomb.yaml:1:129: lists and mappings nest more than 64 deep here; a scenario nests 7 deep at most: write the values out flatter, or check that this is the file you meant"},
		{"nesting by indentation", nestedBlock(1000),
			"bomb.yaml:65:65: lists and mappings nest more than 64 deep here; a scenario nests 7 deep at most: write the values out flatter, or check that this is the file you meant"},
		{"2 MiB file", big,
			"bomb.yaml: the file is 2.0 MiB (2097161 bytes), and a scenario file may be at most 1 MiB (1048576 bytes); a scenario is a few dozen lines: check that this is the file you meant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = Parse("bomb.yaml", []byte(tt.src), LoadOptions{}) })
			if n > 100<<20 {
				t.Errorf("Parse allocated %d MB, want under 100 MB", n>>20)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error = %v (%T), want an ErrorList", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// nestedBlock is a mapping n deep written by indentation, one key a line.
func nestedBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	return b.String()
}

// TestLoadTooLarge checks that Load refuses a file over MaxFileSize by the size the
// file system gives, and a stream without one after reading MaxFileSize+1 bytes: it
// does not read /dev/zero until memory runs out.
func TestLoadTooLarge(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("name: \""+strings.Repeat("x", 2<<20)+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big, LoadOptions{})
	want := big + ": the file is 2.0 MiB (2097161 bytes), and a scenario file may be at most 1 MiB (1048576 bytes); a scenario is a few dozen lines: check that this is the file you meant"
	var list ErrorList
	if !errors.As(err, &list) || err.Error() != want {
		t.Errorf("Load(big) = %v (%T)\nwant %s", err, err, want)
	}
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	var n uint64
	n = allocated(func() { _, err = Load("/dev/zero", LoadOptions{}) })
	want = "/dev/zero: the file is more than 1048576 bytes, and a scenario file may be at most 1 MiB (1048576 bytes); a scenario is a few dozen lines: check that this is the file you meant"
	if err == nil || err.Error() != want {
		t.Errorf("Load(/dev/zero) = %v\nwant %s", err, want)
	}
	if n > 8<<20 {
		t.Errorf("Load(/dev/zero) allocated %d MB, want under 8 MB", n>>20)
	}
	if err := Validate(big); err == nil || !strings.Contains(err.Error(), "the file is 2.0 MiB") {
		t.Errorf("Validate(big) = %v", err)
	}
}

// TestShownValues checks that text from the file is shown in messages cut short, with
// its control characters escaped: a file cannot write escape sequences to the terminal
// that prints its problems, nor fill it with one value.
func TestShownValues(t *testing.T) {
	long := strings.Repeat("x", 500_000)
	const stage = "stages:\n  - {duration: 1s, clients: 1, rate: 1/s, mix: [{command: HARTBEAT}]}\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"escape sequence in a name", `name: "\e[2J\e]0;owned\a"` + "\n" + stage,
			`test.yaml:1:7: name: "\x1b[2J\x1b]0;owned\a" is not a scenario name; use 1 to 64 letters, digits, '-', '_' or '.'`},
		{"long name", "name: " + long + "\n" + stage,
			`test.yaml:1:7: name: "` + long[:64] + `"…(500000 bytes) is not a scenario name; use 1 to 64 letters, digits, '-', '_' or '.'`},
		{"escape sequence in a key", `"\e[31mred": 1` + "\n" + stage,
			`test.yaml:1:1: "\x1b[31mred": unknown field "\x1b[31mred"; allowed: name, description, seed, warmup, target, timeout, stages, short`},
		{"right-to-left override in a command", "stages:\n  - {duration: 1s, clients: 1, rate: 1/s, mix: [{command: \"HART\u202eBEAT\"}]}\n",
			`test.yaml:2:59: stages[0].mix[0].command: "HART\u202eBEAT" is not a request command; allowed: GROUPADD, GROUPDIS, FLUSHXXX, PRINTXXX, PERFMNCE, HARTBEAT`},
		{"long rate", "stages:\n  - {duration: 1s, clients: 1, rate: " + long + ", mix: [{command: HARTBEAT}]}\n",
			`test.yaml:2:38: stages[0].rate: "` + long[:64] + `"…(500000 bytes) is not a rate (write e.g. 5000/s)`},
		{"duplicate key in the YAML error", `"\e[2J": 1` + "\n" + `"\e[2J": 2` + "\n",
			`test.yaml:2:1: not valid YAML: mapping key "\x1b[2J" already defined at [1:1]`},
		{"alias name", "stages: *" + long + "\n",
			`test.yaml:1:9: stages: alias *"` + long[:64] + `"…(500000 bytes) has no anchor &"` + long[:64] + `"…(500000 bytes) before it; define the anchor first`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.src), LoadOptions{})
			if err == nil {
				t.Fatal("Parse accepted the file")
			}
			if err.Error() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

// TestDepth checks both readings of a file's nesting: the scan of its raw bytes and
// the one of the lexer's tokens. Brackets in quoted text, comments and block scalars do
// not count; where the byte scan reads text otherwise than the lexer (a value that runs
// on over lines, a block scalar with an indentation indicator), the tokens still hold
// the line, before the parser sees them.
func TestDepth(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	tests := []struct {
		name        string
		src         string
		raw, tokens string // line:col where each passes MaxDepth, "" for never
	}{
		{"flow", nested(100), "1:65", "1:65"},
		{"flow mappings", strings.Repeat("{a: ", 100) + "1" + strings.Repeat("}", 100), "1:257", "1:257"},
		{"under a key", "stages: " + deep, "1:72", "1:72"},
		{"list items on one line", strings.Repeat("- ", 100) + "x", "1:129", "1:129"},
		{"list items by indentation", nestedList(100), "65:65", "65:65"},
		{"keys by indentation", nestedBlock(100), "65:65", "65:65"},
		{"64 deep", nested(64), "", ""},
		{"in double quotes", `name: "` + deep + `"`, "", ""},
		{"in single quotes, over lines", "name: 'it''s\n  " + deep + "'", "", ""},
		{"in a comment", "name: x # " + deep + "\n# " + deep, "", ""},
		{"in a block scalar", "description: |\n  " + deep + "\n  '\nname: x", "", ""},
		{"a quote inside a plain value", "description: it's " + deep, "", ""},
		{"a quote inside a plain value in a flow", "[it's " + deep, "1:70", "1:70"},
		{"dedented", nestedBlock(60) + nestedBlock(60), "", ""},
		{"a second document", "--- |\n  x\n---\n" + deep, "4:65", "4:65"},
		{"run-on value taken for quoted", "a: b\n  'c\n" + deep + "\n'", "", "3:64"},
		{"indentation indicator", "a: |9\n  " + deep, "", "2:67"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := ""
			if line, col := scanDepth([]byte(tt.src)); line > 0 {
				raw = fmt.Sprintf("%d:%d", line, col)
			}
			tokens := ""
			if tk := tokenDepth(lexer.Tokenize(tt.src)); tk != nil {
				tokens = fmt.Sprintf("%d:%d", tk.Position.Line, tk.Position.Column)
			}
			if raw != tt.raw || tokens != tt.tokens {
				t.Errorf("passes %d at %q in the bytes and %q in the tokens, want %q and %q", MaxDepth, raw, tokens, tt.raw, tt.tokens)
			}
			_, err := Parse("test.yaml", []byte(tt.src), LoadOptions{})
			refused := err != nil && strings.Contains(err.Error(), "nest more than 64 deep")
			if refused != (tt.raw != "" || tt.tokens != "") {
				t.Errorf("Parse = %v", err)
			}
		})
	}
}

// nestedList is a list n deep written by indentation.
func nestedList(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "-\n")
	}
	return b.String()
}

// TestLimitsLeaveScenarios checks that every scenario in the repository stays well
// within the limits: its nesting under MaxDepth in both readings, and its aliases.
func TestLimitsLeaveScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("bundled/*.yaml")
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if line, col := scanDepth(data); line > 0 {
			t.Errorf("%s:%d:%d: the byte scan finds it deeper than %d", file, line, col, MaxDepth)
		}
		if tk := tokenDepth(lexer.Tokenize(string(data))); tk != nil {
			t.Errorf("%s:%d:%d: the tokens are deeper than %d", file, tk.Position.Line, tk.Position.Column, MaxDepth)
		}
		for _, short := range []bool{false, true} {
			if _, err := Parse(file, data, LoadOptions{Short: short}); err != nil && strings.Contains(err.Error(), "aliases") {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
}

// TestQuote checks how values are shown in messages.
func TestQuote(t *testing.T) {
	long := strings.Repeat("é", 100)
	tests := []struct{ in, quote, bare string }{
		{"5", `"5"`, "5"},
		{"1.5s", `"1.5s"`, "1.5s"},
		{"a b", `"a b"`, "a b"},
		{"\x1b[2J", `"\x1b[2J"`, `"\x1b[2J"`},
		{"\xff", `"\xff"`, `"\xff"`},
		{long, `"` + long[:128] + `"…(200 bytes)`, `"` + long[:128] + `"…(200 bytes)`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.quote {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.quote)
		}
		if got := bare(tt.in); got != tt.bare {
			t.Errorf("bare(%q) = %s, want %s", tt.in, got, tt.bare)
		}
	}
	if got, want := sanitize("key \"\x1b[2J\" at\n"+long, 20), `key "\x1b[2J" at\néééééé…(214 bytes)`; got != want {
		t.Errorf("sanitize = %s, want %s", got, want)
	}
	if !utf8.ValidString(sanitize("\xff", 10)) {
		t.Error("sanitize left invalid UTF-8")
	}
}
