package resultfixture

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dmbench/dmbench/resultfmt"
)

// EditResultJSON rewrites the result.json of run folder dir through edit, which gets it
// as generic JSON (numbers kept as they were written): how a test makes someone else's
// damaged or hostile result.
func EditResultJSON(t testing.TB, dir string, edit func(doc map[string]any)) {
	t.Helper()
	file := filepath.Join(dir, resultfmt.ResultFile)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	if data, err = json.MarshalIndent(doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
