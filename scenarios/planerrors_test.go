package scenarios

import (
	"testing"
	"time"

	"github.com/goccy/go-yaml/token"
)

// TestPlacePlanFallback: a plan problem at a field the file does not give is left out
// when the file has other problems, and otherwise reported at the nearest mapping the
// file does give, so that Parse never accepts a plan that loadgen refuses.
func TestPlacePlanFallback(t *testing.T) {
	stageAt := &token.Token{Position: &token.Position{Line: 3, Column: 5}}
	rootAt := &token.Token{Position: &token.Position{Line: 1, Column: 1}}
	sc := &Scenario{Timeout: time.Second, Stages: []Stage{{Duration: time.Second, Clients: 0, Open: &OpenLoop{Rate: 1},
		Mix: []Request{{Command: "HARTBEAT", Weight: 1}}}}}
	for _, tt := range []struct {
		name    string
		earlier ErrorList
		want    string
	}{
		{"alone", nil, "f.yaml:3:5: stages[0].clients: 0 is out of range; allowed 1 to 100000"},
		{"with another problem", ErrorList{{File: "f.yaml", Path: "name", Message: "bad"}}, ""},
	} {
		d := &decoder{file: "f.yaml", errs: new(ErrorList), at: map[string]*token.Token{"": rootAt, "stages[0]": stageAt}, fields: map[string]*entry{}}
		d.note("", rootAt, "", nil)
		d.note("stages[0]", stageAt, "stages[0]", nil)
		d.placePlan(sc, tt.earlier)
		got := ""
		if len(*d.errs) > 0 {
			got = d.errs.Error()
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
