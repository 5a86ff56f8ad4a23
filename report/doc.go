// Package report shows results to people: the summary of a run (a table per stage with
// corrected and uncorrected latency, the server's view beside the client's, stalls,
// connections and the generator's own figures), the same as JSON, the live progress line,
// and a comparison of two sets in text, markdown, JSON or CSV. It computes nothing a
// result does not hold: the figures come from package resultfmt, the comparison from
// package comparison, and numbers are formatted as package metric formats them.
//
// Every string that came from outside dmbench (a server's report, a label, someone else's
// result.json) is escaped as it is printed (package termtext), in every format: it cannot
// drive the terminal, break a table or forge a line.
package report
