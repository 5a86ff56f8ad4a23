package report

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/resultfixture"
	"github.com/dmbench/dmbench/resultfmt"
)

// fetches finds anything a page would load from elsewhere: src/href attributes, CSS
// url(), @import.
var fetches = regexp.MustCompile(`(?i)\b(src|href)\s*=|url\(|@import`)

func TestHTMLGolden(t *testing.T) {
	r := resultfmt.FromLoadgen(fullMeta(), fullRun())
	r.Meta.Labels["note"] = `<script>alert("x")</script>`
	svg := []byte(`<?xml version="1.0"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`)
	var b bytes.Buffer
	if err := HTML(&b, r, []Chart{{Title: "latency <over> time", SVG: svg}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	golden(t, "report_full.html.golden", b.Bytes())
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg"`, "latency &lt;over&gt; time", "&lt;script&gt;", `stage steady`, "HARTBEAT"} {
		if !strings.Contains(out, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(out, "<?xml") || strings.Contains(out, `<script>alert`) {
		t.Error("the page holds an XML prolog or an unescaped string from the result")
	}
	if m := fetches.FindString(out); m != "" {
		t.Errorf("the page would fetch something (%q): it must be self-contained", m)
	}
}

func TestComparisonHTML(t *testing.T) {
	old, new := resultfixture.GoldenSides()
	c, err := comparison.Compare(old, new, comparison.CompareOptions{OldName: "results/0.2.1", NewName: "results/0.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ComparisonHTML(&b, c, nil); err != nil {
		t.Fatal(err)
	}
	out := html.UnescapeString(b.String())
	for _, want := range []string{"results/0.2.1 vs results/0.3.0", "steady/HARTBEAT", "+28.86%", "~", "transport differs"} {
		if !strings.Contains(out, want) {
			t.Errorf("the comparison page lacks %q", want)
		}
	}
	if m := fetches.FindString(out); m != "" {
		t.Errorf("the page would fetch something (%q)", m)
	}
}
