// Package metric defines the figures that thresholds and comparisons name — p50, p90,
// p99, p99.9, max and mean of corrected latency, throughput, errors (percent of the
// requests sent that ended in an error, loadgen.Counts.Errors), and the server's own
// service time server-p50 and server-p99 — how each is taken from a result, its unit, and
// how a value in that unit is written for people.
package metric
