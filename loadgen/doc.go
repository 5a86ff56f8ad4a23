// Package loadgen drives DEALER clients through the stages of a plan against a DMB
// signalling address and records every round trip. It knows nothing of YAML or files:
// package scenarios turns a scenario file into a Plan (Scenario.Plan), Run executes it,
// and package report writes what Run returns.
//
// # What is measured
//
// Every request has an intended send time. In an open loop it comes from the arrival
// schedule; in a closed loop it is the previous reply on that slot plus the think time.
// Per command, three HDR histograms are recorded, in microseconds:
//
//	corrected   = reply − intended send   (what a user of the server waits; wrk2's rule)
//	uncorrected = reply − actual send     (what a naive client would report)
//	send delay  = actual − intended send  (how far the generator fell behind)
//
// A request that times out is counted and recorded in the corrected histogram at its
// deadline (timeout plus its send delay), so a server that stops answering raises the tail
// instead of vanishing from it. A request sent without ack is counted as sent and never
// timed, since the real server answers nothing without it.
//
// # Stages and clients
//
// Clients are DEALER connections that persist across stages; a stage with more clients
// connects the missing ones, one with fewer closes the extra ones once their outstanding
// requests are answered or time out. New clients connect at Stage.ConnectRate, each
// joining the stage's schedule when it is connected; with ConnectRate 0 they connect all
// at once (at most 128 dials in flight) and the stage's clock starts when every dial's
// first attempt is over. A client whose dial fails is counted in ConnectFailed and
// dialled again at the next stage; with Config.Reconnect it is also retried within the
// stage, with backoff, and joins late, and the transport reconnects lost connections.
//
// # Schedules
//
// Open loop: the stage's rate (Open.RateAt) is split evenly across its clients; client c
// of C sends the stage's requests n ≡ c (mod C), the n-th due when the integrated rate
// reaches n + ½, so the clients together are as even as one sender at the full rate.
// RampTo makes the rate linear in time; Poisson makes the gaps exponential. A sender
// sleeps until each intended time and, when behind, sends at once without sleeping;
// requests intended before a stage's end are still sent up to 500 ms after it, the rest
// count as missed. Go's timers on Linux wake with about a millisecond's granularity (the
// runtime's poller waits in whole milliseconds), so a sleeping sender typically sends
// 0–1 ms after the intended time: that send delay is recorded and is part of the
// corrected latency, as with wrk2, whose timers have the same granularity. A stage
// bounded by count splits Requests across its clients. Closed loop: each client keeps
// InFlight requests outstanding; a reply or timeout frees a slot whose next request is
// intended at that moment plus Think. A request without ack frees its slot when sent;
// one the transport refuses frees it after 10 ms (or Think, if longer).
//
// # Replies
//
// A client's replies are read by a receiver goroutine of its own, or, on the native
// transport on Linux with Config.IOLoops (by default for a plan of open-loop stages), by
// one of a few I/O loops that call it back (loop.go): then an idle client is in no
// goroutine at all, since its open-loop sends are the pacer's.
//
// Replies are matched by id within their client (the id layout is described in ids.go).
// The expected command (protocol.Command.ExpectedReply: COMPLETE for GROUPADD, GROUPDIS,
// FLUSHXXX and PRINTXXX; HARTBEAT for HARTBEAT; PERFRPRT for PERFMNCE) is OK, EXCEPTON is
// an exception, any other command is Unexpected: the 0.2.1 server echoes PERFMNCE
// unchanged, which is not a report. A frame that is not a signalling message is
// Undecodable; an id this client never issued is Unmatched; a reply after its request's
// deadline is a timeout and Late (for the last 1,024 timeouts of each client), one to a
// request already answered a Duplicate. Counts.Errors says which outcomes are errors. A
// command that appears more than once in a mix has one CommandResult, in the order of its
// first appearance. Nothing is kept per request after its reply or timeout. Every matched
// reply, whatever its command, is recorded in the latency histograms; a timeout is
// recorded in the corrected histogram at its deadline exactly. Each receiver sets its
// receive deadline to the earliest deadline of its outstanding requests, so a timeout is
// found as it falls due (while a connection is down, at least every 100 ms); an idle
// connection, with nothing outstanding, has no deadline and costs no wakeups.
//
// # Recording and intervals
//
// See record.go: receivers batch events to GOMAXPROCS recorder goroutines, which own the
// histograms; one-second intervals, by the time of the reply (or send, or deadline), are
// closed one second after they end, merged and handed to Config.Intervals (intervals.go).
// Requests whose intended time is within Plan.Warmup of the first stage's start are
// recorded in Result.Warmup and nowhere else but the intervals.
//
// # Stalls and self-watch
//
// A stall is a time of at least Config.StallThreshold with requests outstanding and no
// message received; see stall.go. The generator watches its own CPU, the CPU it waited
// for (other processes), GC pauses, send delay and achieved rate, and marks the result
// generator-bound when they show it could not hold the schedule; see selfwatch.go.
//
// # Where things are
//
//	plan.go        the Plan a run executes (Plan, Stage, Open, Closed, Request)
//	result.go      Config and what Run returns (Result, Counts, Progress, Interval)
//	run.go         Run: the engine, its clock and its lifecycle (drain, shutdown, errors)
//	stage.go       running one stage: its clients' work, start and end
//	dial.go        connecting clients, paced or all at once, with reconnects
//	client.go      one DEALER connection: its state, connection events and shutdown
//	loop.go        clients on I/O loops (transport.Loop): no receiver goroutine, one batch per loop
//	shard.go       sharded runs (Config.Shard: the clients p mod N = i), Config.StartAt, LateError
//	sender.go      a client's sender: open-loop and closed-loop sending, one request's send
//	receiver.go    a client's receiver: matching replies, timeouts, classifying outcomes
//	pending.go     a client's table of outstanding requests and their timeout queues
//	ids.go         the request-id layout: encoding and decoding
//	schedule.go    open-loop arrival times
//	record.go      events, batches and the recorders that own the histograms
//	intervals.go   closing one-second intervals and the progress line
//	assemble.go    building the Result's stages from the recorded figures
//	connections.go connection figures; causes.go why connections end or fail
//	stall.go       stall detection
//	selfwatch.go   the generator watching itself (CPU, GC, send delay; cpu_*.go, sched_*.go)
package loadgen
