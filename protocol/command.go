package protocol

import "unsafe"

// Command is a signalling command: 8 ASCII bytes on the wire, such as "GROUPADD".
type Command string

// The signalling commands of DMB. Client to server: GroupAdd, GroupDiscard, Flush, Print,
// Performance. Server to client: Complete, Exception, PerformanceReport, FlushClient.
// Both ways: Heartbeat.
const (
	GroupAdd          Command = "GROUPADD" // add a channel to a group
	GroupDiscard      Command = "GROUPDIS" // remove a channel from a group
	Flush             Command = "FLUSHXXX" // remove every group from the server
	Print             Command = "PRINTXXX" // print the server's stores
	Performance       Command = "PERFMNCE" // ask for a performance report
	Complete          Command = "COMPLETE" // the command succeeded
	Exception         Command = "EXCEPTON" // the command failed; property "reason" says why
	PerformanceReport Command = "PERFRPRT" // the performance report (see Report)
	FlushClient       Command = "FLUSHCXX" // flush the client's message store
	Heartbeat         Command = "HARTBEAT" // keepalive, both ways
)

// Commands lists the ten commands in the order above.
var Commands = []Command{
	GroupAdd, GroupDiscard, Flush, Print, Performance,
	Complete, Exception, PerformanceReport, FlushClient, Heartbeat,
}

// RequestCommands lists the commands a client sends to a server.
var RequestCommands = []Command{GroupAdd, GroupDiscard, Flush, Print, Performance, Heartbeat}

// Known reports whether c is one of the ten commands.
func (c Command) Known() bool {
	return commandOf([]byte(c)) != ""
}

// commandOf returns the constant whose wire name is b, or "" when b is not a command.
// It does not allocate.
func commandOf(b []byte) Command {
	switch string(b) {
	case string(GroupAdd):
		return GroupAdd
	case string(GroupDiscard):
		return GroupDiscard
	case string(Flush):
		return Flush
	case string(Print):
		return Print
	case string(Performance):
		return Performance
	case string(Complete):
		return Complete
	case string(Exception):
		return Exception
	case string(PerformanceReport):
		return PerformanceReport
	case string(FlushClient):
		return FlushClient
	case string(Heartbeat):
		return Heartbeat
	}
	return ""
}

// Bytes returns the command's wire bytes: the string's own bytes, so that encoding one
// neither allocates nor looks anything up. The caller must not modify them.
func (c Command) Bytes() []byte {
	if c == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(string(c)), len(c))
}

// ExpectedReply returns the reply command that means a request succeeded: COMPLETE for
// GROUPADD, GROUPDIS, FLUSHXXX and PRINTXXX, HARTBEAT for HARTBEAT, PERFRPRT for PERFMNCE,
// and "" for a command a client does not send (a server-to-client command or an unknown
// one). The reference broker answers with it; a client compares replies against it. The
// real DMB 0.2.1 server answers only the first four so: it echoes HARTBEAT and PERFMNCE
// unchanged, as it does every request it cannot handle.
func (c Command) ExpectedReply() Command {
	switch c {
	case GroupAdd, GroupDiscard, Flush, Print:
		return Complete
	case Heartbeat:
		return Heartbeat
	case Performance:
		return PerformanceReport
	}
	return ""
}
