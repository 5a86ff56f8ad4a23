package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it returns either a
// scenario whose plan loadgen accepts or a non-empty ErrorList whose every problem names
// the file.
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
	f.Fuzz(func(t *testing.T, data []byte, short bool) {
		sc, err := Parse("fuzz.yaml", data, LoadOptions{Short: short})
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
		}
	})
}
