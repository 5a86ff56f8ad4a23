// Package merge joins the results of a sharded run into one result: dmbench merge.
//
// A sharded run (dmbench run --shard i/N --start-at T) is N processes, usually on N
// machines, each running 1/N of the scenario's clients and rate from one agreed instant
// T against one server, each writing its own run folder with Meta.Shard set. Merge reads
// those folders and writes one run folder that report, compare, plot and thresholds read
// like any other. Nothing is averaged and nothing is resampled:
//
//   - Histograms are merged losslessly: each stage's and command's corrected,
//     uncorrected and send-delay histograms, and the connect times, are decoded from
//     result.json, added with hdrhistogram-go's Merge, and encoded again; the
//     percentiles are those of the merged histogram.
//   - Counts are summed, every field of loadgen.Counts, and the undecodable and unmatched
//     replies. Rates are recomputed over the measured window. The shards share it when
//     they started at the same instant; the merged window runs from the earliest
//     measured start to the latest measured end, and Meta.Merge.Notes says so when the
//     shards' windows differ by more than Options.WindowTolerance.
//   - Interval logs (<COMMAND>.hlog, one histogram a second, tagged COMMAND and
//     COMMAND.warmup) are aligned by absolute time: the seconds of a grid that starts at
//     the earliest interval of any shard; intervals of the same tag whose start falls in
//     the same second of it are merged, and each second is written once per tag into
//     one log per command. The .hgrm spectra are regenerated from the merged histograms.
//   - Stalls are unioned: overlapping stalls of different shards become one, whose
//     outstanding requests are the sum of each shard's most. One generator-bound shard
//     marks the whole run generator-bound, with its reasons prefixed by the shard; an
//     interrupted shard marks it interrupted likewise.
//   - Connection figures are summed (DisconnectsMax then bounds the most in one interval
//     from above), their causes too; the connect times are merged.
//
// # The server's view
//
// Every shard asks the server for its reports (PERFRPRT), and the server counts every
// shard's requests, so a shard's own result does not join its counts against the
// server's (resultfmt.ShardJoinProblem). The merge does, over the shards' summed counts,
// against the snapshots of one shard: the lowest-indexed shard whose "start" report came
// before every shard's load began and whose "end" report was asked for after every
// shard's load ended (by the shards' clocks), so that its reports cover the whole run;
// failing that, the lowest-indexed shard with reports, and the joins that begin at its
// start report or end at its end report, whose server counts miss other shards'
// requests, keep the client's side only, with a note. The other shards' PERFMNCE
// requests, which the server counts too, are taken out of its counts like the chosen
// shard's own. With a shard missing (Options.AllowMissing) the server counted requests
// the merge does not hold: no join is made, and each join's problem says why.
//
// # Clocks
//
// The shards' clocks cannot be compared from their own start times. A server report
// carries the server's uptime, read between the request's send and the reply's arrival,
// so each shard can place the server's start on its own clock (the middle of the round
// trip less the uptime), right to within half the round trip. Two shards' placements
// differ by the skew of their clocks, so the skew between them is at most the difference
// of their placements plus both half round trips. Meta.Merge.ClockSkewBoundUS is the
// largest such bound over every pair of shards (each shard's report with the shortest
// round trip), or absent with ClockSkew saying why it is unknown (no reports, reports of
// different server instances).
//
// # Refusals
//
// Merge refuses results that are not shards (no Meta.Shard, or already a merge), shards
// of different scenarios (by the scenario's SHA-256), of different shard counts or start
// instants (two runs), with different stages, the same shard index twice, and a missing
// index unless Options.AllowMissing is set (the merged result then lists the missing
// shards, and its counts are short by their share).
package merge
