package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that no input makes Parse panic, and that it returns either a
// scenario whose plan loadgen accepts or a non-empty ErrorList whose every problem names
// the file. It checks that reading any input is bounded: Parse allocates at most
// maxAlloc for it (an input that makes the parser or the walk do work out of proportion
// to its length, such as deep nesting or aliases of aliases, breaks that long before
// it takes a fuzz worker's memory), and every problem is one printable line of bounded
// length, with no control character from the input in it.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("bundled/*.yaml")
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(data, true)
	}
	// The hostile files of issue 16, made small enough to mutate.
	for _, src := range []string{
		mergeBomb(11),
		listBomb(300),
		"stages:\n  - duration: 1s\n    clients: 1\n    rate: 1/s\n    mix:\n      - &m {command: HARTBEAT, <<: [*m, *m]}\n",
		nested(30_000),
		strings.Repeat("{a: ", 100) + "1" + strings.Repeat("}", 100),
		strings.Repeat("- ", 100) + "x\n",
		nestedBlock(100),
		"a: b\n  'c\n" + nested(100) + "'\n",
		"name: \"\\e[2J\\e]0;owned\\a\"\n\"\\e[31m\": 1\nstages: [{duration: 1s, clients: 1, rate: 1/s, mix: [{command: \"HART\u202eBEAT\"}]}]\n",
		"name: \"" + strings.Repeat("x", 2<<20) + "\"\n",
	} {
		f.Add([]byte(src), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, short bool) {
		var sc *Scenario
		var err error
		n := allocated(func() { sc, err = Parse("fuzz.yaml", data, LoadOptions{Short: short}) })
		if limit := maxAlloc(len(data)); n > limit {
			t.Errorf("Parse of %d bytes allocated %d bytes, more than %d", len(data), n, limit)
		}
		if err == nil {
			if sc == nil || len(sc.Stages) == 0 {
				t.Fatalf("Parse returned no error and scenario %+v", sc)
			}
			for _, st := range sc.Stages {
				if (st.Duration > 0) == (st.Requests > 0) || (st.Open == nil) == (st.Closed == nil) || len(st.Mix) == 0 || st.Clients < 1 {
					t.Fatalf("accepted an invalid stage %+v", st)
				}
			}
			if p := sc.Plan(); p.Validate() != nil {
				t.Fatalf("accepted a scenario whose plan loadgen refuses: %v", p.Validate())
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("Parse error %v (%T) is not a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.File != "fuzz.yaml" || e.Message == "" {
				t.Fatalf("problem without file or message: %+v", e)
			}
			if s := e.Error(); len(s) > maxProblem || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0 {
				t.Fatalf("problem is not one printable line of at most %d bytes: %q", maxProblem, s)
			}
		}
	})
}

// maxProblem is the most bytes one problem may print: a message with a field path and
// two values from the file, each cut at 64 characters, all of them escaped.
const maxProblem = 2048

// maxAlloc is the most Parse may allocate reading size bytes: 16 MiB, 1 KiB a byte
// (dense valid YAML costs the parser about 600 bytes a byte) and 400 bytes a node its
// aliases may stand for (the walk allocates up to 300 bytes for each node it reads
// through an alias: 33 MB when they stand for MaxExpansion). Before the limits, 5,000
// nested lists (10 KB) took 45 MB, 30,000 (60 KB) 1.4 GB, and a 543-byte merge bomb
// 129 MB.
func maxAlloc(size int) uint64 {
	return 16<<20 + 1024*uint64(size) + 400*MaxExpansion
}
