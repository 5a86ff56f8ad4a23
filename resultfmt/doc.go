// Package resultfmt is the result of a dmbench run and its files: the Result model
// (result.json), the interval logs (.hlog) and percentile spectra (.hgrm), run folders and
// result sets, written and read. Printing is package report's; comparing and checking,
// package comparison's; the figures both name, package metric's.
//
// # A run on disk
//
// A run is written by a Writer into a hidden temporary folder beside its final place and
// renamed into place by Finish once result.json is written, so a folder named
// <UTC time>-<scenario> always holds its result.json (when a later file fails, Finish still
// moves the folder and says what is missing; when result.json itself fails, the temporary
// folder is kept with the interval logs and named in the error):
//
//	<out>/20260102T030405Z-keepalive-storm/
//	    result.json             the Result: metadata, per stage and command counts,
//	                            percentiles and cumulative histograms
//	    HARTBEAT.hlog           1 s interval histograms of corrected latency (HdrHistogram log),
//	                            tagged HARTBEAT for the stages and HARTBEAT.warmup for the warm-up
//	    HARTBEAT.uncorrected.hlog   the same for uncorrected latency, if asked for
//	    HARTBEAT.hgrm           percentile spectrum of corrected latency over all stages
//	                            (warm-up excluded), in milliseconds
//
// # result.json
//
// The document is a Result marshalled as indented JSON, with snake_case field names. Its
// layout is versioned by meta.schema_version (SchemaVersion); Read refuses a newer one,
// and Compare refuses to mix versions. Since version 2 a stage's rates divide its counts
// by its measured window (measured_us: the stage less the warm-up that overlaps it).
// Units are in the field names: durations and latencies are integer microseconds in fields
// ending in _us, rates are per second in fields ending in _per_s, CPU time is in
// cpu_seconds, and times of day are RFC 3339 in UTC. Every histogram is kept whole, in
// HdrHistogram's V2 compressed encoding (base64, as Histogram.Encode gives it), so runs can
// be merged and compared later without loss; Latency.Decode reads one back.
//
// The histograms hold microseconds. Corrected latency is measured from each request's
// intended send time, uncorrected latency from its actual send time, and send delay is the
// difference (see package loadgen).
//
// server_view (ServerView) holds the server's own view: every PERFRPRT the run asked for on
// a connection of its own (package serverview), kept whole with unknown fields raw, and per
// stage and for the whole run the client's counts and round trips joined with the
// difference of the server's reports (loss before and after the server, client RTT beside
// server service time). It is absent with --server-view off, and says why when the server
// sent no report (DMB 0.2.1 echoes PERFMNCE).
//
// # Result sets
//
// LoadSet (and ReadSet) read result sets: folders of run folders, as run --repeat writes
// them, or a folder that holds one such set.
package resultfmt
