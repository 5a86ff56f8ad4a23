package capacity

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is a search's answer with what it searched: the document capacity.json holds
// and the plan printed as text, Markdown or JSON.
type Report struct {
	Scenario    string   `json:"scenario"`
	Stage       string   `json:"stage"`
	Target      string   `json:"target"`
	Mode        string   `json:"mode"` // "rate" or "connections"
	Unit        string   `json:"unit"` // "/s" or " connections"
	Arrival     string   `json:"arrival"`
	PerConnPerS float64  `json:"per_connection_rate_per_s,omitempty"` // connections mode
	Objectives  []string `json:"objectives"`
	Set         string   `json:"set"` // the result set folder
	Chart       string   `json:"chart,omitempty"`
	Answer      *Answer  `json:"answer"`
	Memory      *Memory  `json:"memory,omitempty"` // --memory: the fill's sizing
	Notes       []string `json:"notes,omitempty"`  // what could not be done
}

// Headline is the plan in one sentence.
func (r *Report) Headline() string {
	a := r.Answer
	obj := strings.Join(r.Objectives, ", ")
	var b strings.Builder
	if a.Level == 0 {
		fmt.Fprintf(&b, "No %s met %s", r.what(), obj)
	} else {
		fmt.Fprintf(&b, "%s holds %s with %s", nonEmpty(r.Target, "the server"), FormatLevel(a.Level, r.Unit), obj)
		if r.Mode == "connections" {
			fmt.Fprintf(&b, " (each sending %g/s)", r.PerConnPerS)
		}
		if len(a.Repeats) > 1 {
			fmt.Fprintf(&b, " (%s)", r.stability())
		}
	}
	fmt.Fprintf(&b, "; it stopped because %s.", a.Because)
	return b.String()
}

func (r *Report) what() string {
	if r.Mode == "connections" {
		return "number of connections"
	}
	return "rate"
}

// stability says how the runs of the answer fared.
func (r *Report) stability() string {
	a := r.Answer
	passed := 0
	var ach, p99 []string
	for _, s := range a.Repeats {
		if s.Verdict == Pass {
			passed++
		}
		ach = append(ach, fmt.Sprintf("%.0f", s.AchievedPerS))
		p99 = append(p99, fmtUS(s.P99US))
	}
	word := "stable"
	if !a.Stable {
		word = "NOT stable"
	}
	return fmt.Sprintf("%s: %d of %d runs passed, achieved %s/s, p99 %s", word, passed, len(a.Repeats), strings.Join(ach, ", "), strings.Join(p99, ", "))
}

// WriteText writes the plan, the warnings and the steps table.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", r.Headline())
	if r.Memory != nil {
		fmt.Fprintf(&b, "%s\n", r.Memory.Sentence())
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "scenario %s, stage %s, %s arrivals; %d steps in %v of a %v budget\n", r.Scenario, r.Stage, r.Arrival, len(r.Answer.Steps),
		r.Answer.Elapsed.Round(time.Second), r.Answer.Budget)
	for _, s := range r.warnings() {
		fmt.Fprintf(&b, "warning: %s\n", s)
	}
	b.WriteString("\n")
	level := "RATE/S"
	if r.Mode == "connections" {
		level = "CONNS"
	}
	fmt.Fprintf(&b, "%3s  %-7s %10s %10s %8s %10s %10s  %s\n", "#", "PHASE", level, "ACHIEVED/S", "WINDOW", "P50", "P99", "VERDICT")
	for _, s := range r.Answer.Steps {
		fmt.Fprintf(&b, "%3d  %-7s %10.0f %10.0f %8v %10s %10s  %s\n", s.N, s.Phase, s.Level, s.AchievedPerS, s.Window.Round(100*time.Millisecond),
			fmtUS(s.P50US), fmtUS(s.P99US), verdictText(&s))
	}
	fmt.Fprintf(&b, "\nresult set: %s\n", r.Set)
	if r.Chart != "" {
		fmt.Fprintf(&b, "capacity curve: %s\n", r.Chart)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the plan as Markdown: the headline, then the steps as a table.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", r.Headline())
	if r.Memory != nil {
		fmt.Fprintf(&b, "%s\n\n", r.Memory.Sentence())
	}
	fmt.Fprintf(&b, "Scenario `%s`, stage `%s`, %s arrivals; %d steps in %v of a %v budget.\n\n", r.Scenario, r.Stage, r.Arrival, len(r.Answer.Steps),
		r.Answer.Elapsed.Round(time.Second), r.Answer.Budget)
	for _, s := range r.warnings() {
		fmt.Fprintf(&b, "> warning: %s\n\n", s)
	}
	level := "rate (/s)"
	if r.Mode == "connections" {
		level = "connections"
	}
	fmt.Fprintf(&b, "| # | phase | %s | achieved (/s) | window | p50 | p99 | verdict |\n|---:|---|---:|---:|---:|---:|---:|---|\n", level)
	for _, s := range r.Answer.Steps {
		fmt.Fprintf(&b, "| %d | %s | %.0f | %.0f | %v | %s | %s | %s |\n", s.N, s.Phase, s.Level, s.AchievedPerS, s.Window.Round(100*time.Millisecond),
			fmtUS(s.P50US), fmtUS(s.P99US), strings.ReplaceAll(verdictText(&s), "|", `\|`))
	}
	fmt.Fprintf(&b, "\nResult set: `%s`", r.Set)
	if r.Chart != "" {
		fmt.Fprintf(&b, "; capacity curve: `%s`", r.Chart)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as capacity.json holds it.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

func (r *Report) warnings() []string {
	return append(append([]string(nil), r.Answer.Warnings...), r.Notes...)
}

func verdictText(s *Step) string {
	if s.Verdict == Pass {
		return "pass"
	}
	return "FAIL " + s.Why()
}

// fmtUS writes microseconds as a duration to three significant figures.
func fmtUS(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case us == 0:
		return "-"
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dµs", us)
}
