// Package protocol is the DMB signalling wire codec: the ten commands, the Message with its
// envelope, id, command and msgpack properties, and the PERFRPRT performance report.
//
// # Frames
//
// A signalling message is the envelope (routing ids), an empty delimiter frame, then the
// id, the 8-byte command and the properties, a msgpack map with string keys
// (group_name and channel_name as str or bin, ttl in seconds, ack truthy). The first empty
// frame is the delimiter. Decode reports every malformed shape the real DMB 0.2.1 server
// chokes on as a distinct *DecodeError (ErrNoDelimiter, ErrTooFewFrames, ErrTooManyFrames,
// ErrEmptyProperties, ErrNotMsgpack, ErrTrailingBytes, ErrPropertiesNotMap,
// ErrNonStringKey) and recovers the request id where there is one; a property of the
// wrong type is a separate, softer error (IsBadProperty) that leaves the rest decoded.
// Decode and Encoder.Encode do not allocate.
//
// # Performance report (PERFRPRT)
//
// The reference broker answers PERFMNCE with PERFRPRT whose properties frame is a Report
// (schema 1), a msgpack map:
//
//	schema          int     1
//	server          str     "dmbench-broker"
//	version         str     server version
//	instance        str     random, new at every start: snapshots of different
//	                        instances must not be differenced
//	mode            str     "reference" or "dmb-0.2.1"
//	uptime_s        float   seconds since start
//	cpu_s           float   process user+system CPU seconds
//	rss_bytes       int     process resident memory
//	peers           int     connections now
//	groups          int     groups in the store
//	memberships     int     (group, channel) pairs in the store
//	histogram_unit  str     "us": the unit of every service_time histogram
//	commands        map     wire name ("unknown" for the rest) → counts:
//	    received    int     requests that reached the handler
//	    completed   int     handled successfully
//	    exceptions  int     failed
//	    malformed   int     undecodable requests naming this command
//	    service_time bin    HdrHistogram, V2 compressed encoding, microseconds
//	reports         counts  the PERFMNCE requests themselves, apart from the load
//	malformed       int     messages whose command could not be read at all
//	dropped         map     requests / replies discarded by fault injection
//
// Every count and histogram is cumulative since start, so a client differences two
// snapshots of one instance. DecodeReport is lenient: unknown keys are kept in Extra,
// absent ones listed in Missing. The real 0.2.1 server sends no report at all.
package protocol
