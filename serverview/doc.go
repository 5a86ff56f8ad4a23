// Package serverview takes the server's own view of a run: it asks the server for its
// performance report (PERFMNCE, answered with PERFRPRT) on a DEALER connection of its own,
// apart from the load, and differences the reports so that a stretch of the run has the
// server's counts and service-time histograms beside the client's figures.
//
// # When it asks
//
// A Poller asks when told to (Poll, typically "start" before the load begins), at each
// stage's start (Stage, the hook loadgen.Config.OnStage calls), every Every while it runs
// ("periodic"), and once more when stopped ("end", after the load has drained). Requests
// are sent one at a time, in the order asked, by one goroutine; each waits up to Timeout
// for its reply. Each Snapshot records when its request was sent and its reply received.
//
// Asking perturbs some servers: DMB 0.2.1 ends a stall when any other connection sends
// (PROTOCOL.md), so a poller that kept asking would hide the very stalls a run must show.
// 0.2.1 sends no report; it echoes PERFMNCE. So once a server shows it sends no report —
// it echoes PERFMNCE, answers with anything but PERFRPRT, sends a report that is not a
// msgpack map, or does not answer within Timeout — the poller never asks again in this
// run, and View.NoReport says why. A request that could not be sent (no connection) was
// not seen by the server, so it does not stop the poller.
//
// The server counts what it receives from every connection. The reference broker counts
// PERFMNCE apart (protocol.Report.Reports), so polling does not show up as load; when the
// load itself sends PERFMNCE, Between subtracts the poller's own requests.
//
// # Reading reports
//
// Reports are read with protocol.DecodeReport, leniently: the fields of dmbench's schema
// are filled, unknown keys are kept (Report.Extra) and absent ones listed
// (Report.Missing), so a server with its own report format does not break a run.
//
// # Differencing
//
// Counts and histograms in a report are cumulative since the server started. Between
// subtracts two snapshots of the same server instance (Report.Instance): counts by
// subtraction, service-time histograms bucket by bucket (DiffHistogram; HdrHistogram has
// no Subtract). Snapshots of different instances are not differenced: the server
// restarted between them.
//
// What a stretch of the run holds on the client's side and on the server's side differs
// by the requests in flight at its ends: the client files a request under the stage in
// which it was sent, the server under the snapshot after it received it. The whole run,
// from a snapshot taken before the load starts to one taken after it drained, joins
// exactly on a healthy server; a stage joins only approximately.
package serverview
