// Package chart draws a run's results as charts, with gonum.org/v1/plot, to SVG or PNG
// files (chosen by the extension):
//
//   - LatencyOverTime: per 1 s interval of the run's interval logs (.hlog), p50, p99 and
//     max of corrected latency on a log axis, and the replies per second on a panel
//     below, beside the scheduled send rate of open-loop stages; stage boundaries ruled,
//     stalls hatched, the warm-up greyed. A long run is downsampled to at most
//     Options.MaxPoints points, each the worst of its intervals (max of p50s, of p99s and
//     of maxes, never an average).
//   - Spectrum: the percentile spectrum on HdrHistogram's axis (x = 1/(1−q), log), one
//     line per run, corrected latency solid and uncorrected dashed, with an optional
//     objective (Options.SLO, e.g. p99<5ms) drawn as a horizontal line.
//   - ThroughputLatency: per stage (or per run), achieved throughput against p50 and
//     p99, with the points where the generator fell short of its schedule marked apart.
//   - ServerTimes: per command, the client's round trip beside the server's own service
//     time, from the server's reports (result.json's server_view).
//   - Comparison: a comparison.Comparison's OLD and NEW medians with their confidence
//     intervals, one panel per metric.
//
// Each New* function reads the results into a data value (the series it will draw,
// exported so that tests and other programs can check them) and its Figure method draws
// it. Figures use a fixed font and sizes, so the same data gives the same SVG, and the
// Okabe–Ito palette with distinct dash patterns and marker shapes, so that they read in
// greyscale and for colour-blind readers.
package chart
