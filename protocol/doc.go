// Package protocol is the DMB signalling wire codec: the ten commands, the Message with its
// envelope, id, command and msgpack properties, and the PERFRPRT performance report.
package protocol
