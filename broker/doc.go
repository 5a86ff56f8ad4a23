// Package broker is dmbench's embedded reference DMB server: a ROUTER on the signalling
// port that answers the DMB signalling protocol, keeps a group store with TTL expiry,
// counts what it does and reports it, and can misbehave on purpose.
//
// # Addresses
//
// DMB knows a server by its base address (what Django's settings hold, e.g.
// tcp://127.0.0.1:5556): data on the base port, signalling on base + 1. The broker serves
// only the signalling socket; SignallingAddr and BaseAddr convert between the two. Start
// binds Config.Addr, the signalling address itself (default tcp://127.0.0.1:0, a port the
// kernel chooses), and Server.Addr returns what was bound.
//
// # Processing
//
// One processing goroutine reads the router, decodes, handles and replies, one message at
// a time, like the real server's single Python thread. It holds the processing lock while
// it handles a message; the expiry goroutine takes the same lock to sweep or walk the
// store, so a walk blocks all processing as 0.2.1's does, and Report takes it once per
// snapshot. With the Stall fault a reader goroutine copies messages into a queue so that
// the processing goroutine can see what is waiting; otherwise it calls Recv itself.
//
// # Reference mode
//
// A reply comes only when the request's ack is truthy, except for malformed requests
// (below). Replies carry the request's envelope and id:
//
//	GROUPADD  COMPLETE; adds channel_name to group_name with expiry now + ttl
//	GROUPDIS  COMPLETE; removes the pair (a group left empty is deleted)
//	FLUSHXXX  COMPLETE; empties the store
//	PRINTXXX  COMPLETE; writes the store to Config.PrintTo, about PrintLimit bytes
//	HARTBEAT  HARTBEAT
//	PERFMNCE  PERFRPRT, whose properties are a protocol.Report (Server.Report)
//
// COMPLETE and HARTBEAT carry an empty properties map. A failure is EXCEPTON with a
// "reason" property: an unknown command (or one the server only sends), a property of the
// wrong type (protocol.IsBadProperty, for any command), GROUPADD or GROUPDIS without a
// non-empty group_name and channel_name, a name longer than MaxNameLen (64 KiB), a ttl
// outside 1..MaxTTL seconds (10 years; an absent ttl, or 0 which the wire cannot tell
// apart from absent, is 86400), a PRINTXXX whose writer fails.
//
// Expiry is per membership, as in DMB: a (group, channel) pair expires ttl seconds after
// it was last added, so adding it again refreshes it. Pairs sit in a min-heap on expiry:
// the due ones are removed before each message is handled and, while no message comes,
// every ExpiryInterval (1 s), without looking at the rest of the store.
//
// A malformed message (protocol.Decode's *DecodeError) is counted under its command when
// the command frame is there (CommandCounts.Malformed), else in Report.Malformed. When its
// id was recovered it is answered, whatever its ack, with EXCEPTON whose reason is the
// decode error; the reply's envelope is the peer's routing id and any frames before the
// delimiter. The broker keeps reading the connection.
//
// Counters and service times are kept per command; PERFMNCE is counted in Report.Reports
// instead, so polling does not look like load. A reply the transport refuses because the
// peer's send queue, or every peer's, is at its cap (Config.Listen's memory budget: a
// peer that does not read its replies) is counted in Report.Dropped.QueueFull, and its
// request stays in Received but leaves Completed (or Exceptions): it was not answered.
// Server.RouterStats has the budget's gauges. A request's service time runs from when the
// processing goroutine takes it to when its reply is handed to the transport (or to the
// Latency queue), and includes the ServiceTime fault but not a pause before it.
//
// # DMB 0.2.1 compatibility mode
//
// Mode DMB021 reproduces PROTOCOL.md: a reply only when ack is truthy, and the reply is
// the request echoed (same envelope, id and properties frame) with command COMPLETE when
// the handler succeeded, or the original command unchanged when it failed or there is no
// handler. Only GROUPADD, GROUPDIS, FLUSHXXX and PRINTXXX have handlers, so HARTBEAT,
// PERFMNCE (no PERFRPRT is ever sent), unknown and empty commands come back unchanged.
// GROUPADD or GROUPDIS without names do nothing and succeed; a property of the wrong type
// fails GROUPADD and GROUPDIS (0.2.1's timedelta raises on ttl "60"; this model also
// fails them for a name that is neither str nor bin, which Python might store); a ttl that
// takes datetime outside years 1..9999 (such as 10**12) fails. Names have no length limit.
// GROUPDIS and expiry leave empty groups in the store, and GROUPDIS of an unknown group
// creates it empty.
//
// Malformed input is counted and not answered, and the connection is stuck: its later
// messages are held, unprocessed, until a message from another connection arrives, which
// releases them (processed in order before that message). 0.2.1 is also released when
// another connection merely connects; this model is not.
//
// The real server also stalls with well-formed traffic when a connection has several
// requests in flight; the compat mode does not unless the Stall fault is set too.
//
// Expiry is 0.2.1's walk of the whole store: every ExpiryInterval (5 s, each period drawn
// from ±5 %, tornado's jitter 0.1), under the processing lock, removing expired channels.
// The walk then sleeps, still holding the lock, until it has taken at least WalkCost per
// group (450 ns, so 1M groups stop the server for about 0.45 s as the real one does,
// whatever the host's speed; Go's own walk of 300k groups took about 400 ns per group on
// the 2-core development VM).
//
// # Faults
//
// Config.Faults (off by default) inject the misbehaviours MEASUREMENT.md works out: pauses
// of P every T, a service time that occupies the processing goroutine, latency that does
// not, dropped requests and replies (seeded), and 0.2.1's stall. See Faults.
//
// # Source files
//
// server.go starts and closes the broker and runs the processing goroutine; intake.go is
// the fault intake (pauses, dropped requests, the held messages of stuck connections, the
// ServiceTime wait); process.go decodes a message, hands it to the mode's handlers and
// sends the reply; handlers_reference.go and handlers_compat.go are the two modes'
// handlers; expiry.go is the expiry goroutine; store.go the group store; stats.go the
// counters and report.go the Report built from them; delay.go the Latency queue;
// source.go what the processing goroutine reads from; faults.go the Faults setting;
// addr.go base and signalling addresses.
package broker
