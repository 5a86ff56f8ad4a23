// Package comparison judges results: one run against objectives (Threshold, as k6's
// thresholds: p99<5ms, errors<0.1%, throughput>=1000/s) and two result sets against each
// other (Compare, as benchstat does: each side's median with a confidence interval and
// the Mann-Whitney U test, from golang.org/x/perf/benchmath), with FailOn rules that turn
// a comparison into a CI gate. The metrics both name are package metric's.
package comparison
