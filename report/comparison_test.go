package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/resultfixture"
)

// goldenComparison is the fixed comparison of resultfixture.GoldenSides.
func goldenComparison(t *testing.T) *comparison.Comparison {
	t.Helper()
	old, new := resultfixture.GoldenSides()
	c, err := comparison.Compare(old, new, comparison.CompareOptions{OldName: "results/0.2.1", NewName: "results/0.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompareGolden(t *testing.T) {
	c := goldenComparison(t)
	tests := []struct {
		format Format
		file   string
		want   []string
		check  func(t *testing.T, out []byte)
	}{
		{FormatText, "compare.golden", []string{
			"warning: transport differs: old native, new zmq4",
			"+28.86% (p=0.002 n=6)",
			"~ (p=",
			"(old only)",
			"¹ all samples are equal",
		}, nil},
		{FormatMarkdown, "compare.md.golden", []string{"| steady | HARTBEAT | p50 |", "**+28.86%** worse", "old only"}, nil},
		{FormatJSON, "compare.json.golden", []string{`"verdict": "worse"`, `"ci_low": null`}, func(t *testing.T, out []byte) {
			var doc struct {
				Rows []struct {
					Metric string   `json:"metric"`
					Change *float64 `json:"change_pct"`
					Old    struct {
						Median *float64 `json:"median"`
						N      int      `json:"n"`
					} `json:"old"`
				} `json:"rows"`
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if len(doc.Rows) != len(c.Rows) || len(doc.Warnings) == 0 {
				t.Errorf("JSON holds %d rows and %d warnings, want %d rows and the warnings", len(doc.Rows), len(doc.Warnings), len(c.Rows))
			}
		}},
		{FormatCSV, "compare.csv.golden", []string{"stage,command,metric,unit,old_median"}, func(t *testing.T, out []byte) {
			recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatalf("not CSV: %v", err)
			}
			if len(recs) != len(c.Rows)+1 {
				t.Errorf("%d records, want a header and %d rows", len(recs), len(c.Rows))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteComparison(&buf, c, tt.format); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if tt.check != nil {
				tt.check(t, buf.Bytes())
			}
			golden(t, tt.file, buf.Bytes())
		})
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		err  bool
	}{
		{"text", FormatText, false},
		{"Markdown", FormatMarkdown, false},
		{"md", FormatMarkdown, false},
		{"json", FormatJSON, false},
		{"csv", FormatCSV, false},
		{"html", "", true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
