// Package report shows results to people: the summary of a run (a table per stage with
// corrected and uncorrected latency, the server's view beside the client's, stalls,
// connections and the generator's own figures), the same as JSON, the live progress line,
// and a comparison of two sets in text, markdown, JSON or CSV. It computes nothing a
// result does not hold: the figures come from package resultfmt, the comparison from
// package comparison, and numbers are formatted as package metric formats them.
package report
