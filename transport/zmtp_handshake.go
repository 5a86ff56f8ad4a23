package transport

// The ZMTP 3.1 handshake (https://rfc.zeromq.org/spec/37/), NULL mechanism only: each side
// sends a 64-byte greeting, then a READY command whose properties name its socket type
// and, optionally, its identity:
//
//	greeting = signature(10) version(2) mechanism(20) as-server(1) filler(31)
//	READY    = properties: name-size(1) name value-size(4, big-endian) value
//
// zmtpHandshake judges what a peer sends, for the native sockets and the zmq4 tap alike.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

const (
	zmtpGreetingSize = 64
	// zmtpMaxIdentity is the longest routing id ZMTP allows (libzmq's limit too).
	zmtpMaxIdentity = 255
)

// Socket type names as they travel in READY.
const (
	zmtpDealer = "DEALER"
	zmtpRouter = "ROUTER"
)

// zmtpCompatible reports whether a socket of type ours may talk to a peer of type peer
// (ZMTP 3.1's compatibility table, for the two types dmbench speaks).
func zmtpCompatible(ours, peer string) bool {
	switch ours {
	case zmtpDealer:
		return peer == "ROUTER" || peer == "DEALER" || peer == "REP"
	case zmtpRouter:
		return peer == "DEALER" || peer == "REQ" || peer == "ROUTER"
	}
	return false
}

// zmtpAppendGreeting appends dmbench's 64-byte greeting: ZMTP 3.1, NULL, as-server 0.
func zmtpAppendGreeting(b []byte) []byte {
	var g [zmtpGreetingSize]byte
	g[0] = 0xFF
	g[8] = 0x01 // padding as libzmq writes it (routing-id size + 1, for ZMTP 1.0 peers)
	g[9] = 0x7F
	g[10] = 3 // major
	g[11] = 1 // minor
	copy(g[12:32], "NULL")
	return append(b, g[:]...)
}

// zmtpCheckGreeting validates as much of a peer's greeting as has arrived (g may be shorter
// than 64 bytes), so that a peer speaking an older protocol is refused as soon as its
// signature and version are in, instead of after a handshake timeout.
//
// A major version above 3 is accepted: ZMTP 3 (RFC 23, "Version Negotiation") says a peer
// must accept a higher version, the peer with the higher version talking down to the
// lower one, so a newer peer talks 3.x to us. libzmq does the same
// (zmtp_engine_t::receive_greeting_versioned: any major it does not know as ZMTP 1.0 or
// 2.0 gets 3.x). Majors below 3 are older protocols and are refused.
func zmtpCheckGreeting(g []byte) error {
	if len(g) >= 1 && g[0] != 0xFF {
		return fmt.Errorf("%w: first byte %#02x is not a ZMTP signature (is the peer a ZeroMQ socket?)", ErrBadGreeting, g[0])
	}
	if len(g) >= 10 && g[9]&0x01 == 0 {
		return fmt.Errorf("%w: signature % x is ZMTP 1.0; the peer needs ZMTP 3 (libzmq 4 or later)", ErrBadGreeting, g[:10])
	}
	if len(g) >= 11 && g[10] < 3 {
		return fmt.Errorf("%w: peer speaks ZMTP major version %d; ZMTP 3 or later is needed (libzmq 4 or later)", ErrBadGreeting, g[10])
	}
	if len(g) >= 32 {
		mech := g[12:32]
		if !bytes.Equal(bytes.TrimRight(mech, "\x00"), []byte("NULL")) {
			return fmt.Errorf("%w: peer asks for security mechanism %q; only NULL is supported", ErrBadGreeting, bytes.TrimRight(mech, "\x00"))
		}
	}
	return nil
}

// zmtpAppendProperty appends one READY property.
func zmtpAppendProperty(b []byte, name string, value []byte) []byte {
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

// zmtpAppendReady appends a READY command with Socket-Type and, when set, Identity.
func zmtpAppendReady(b []byte, socketType string, identity []byte) []byte {
	props := zmtpAppendProperty(nil, "Socket-Type", []byte(socketType))
	if len(identity) > 0 {
		props = zmtpAppendProperty(props, "Identity", identity)
	}
	return zmtpAppendCommand(b, "READY", props)
}

// zmtpReady is what a peer's READY says.
type zmtpReady struct {
	socketType string
	identity   []byte // a copy; nil when the peer set none
}

// zmtpParseReady parses READY's properties. Property names are case-insensitive. An
// Identity over zmtpMaxIdentity (255) bytes is refused, as ZMTP's routing ids are bounded
// there and libzmq refuses a longer one.
func zmtpParseReady(data []byte) (zmtpReady, error) {
	var info zmtpReady
	for len(data) > 0 {
		n := int(data[0])
		if len(data) < 1+n+4 {
			return info, fmt.Errorf("%w: READY property cut short", ErrBadGreeting)
		}
		name := data[1 : 1+n]
		vlen := binary.BigEndian.Uint32(data[1+n:])
		data = data[1+n+4:]
		if uint64(vlen) > uint64(len(data)) {
			return info, fmt.Errorf("%w: READY property %q claims %d bytes, %d left", ErrBadGreeting, name, vlen, len(data))
		}
		value := data[:vlen]
		data = data[vlen:]
		switch {
		case bytes.EqualFold(name, []byte("Socket-Type")):
			info.socketType = string(value)
		case bytes.EqualFold(name, []byte("Identity")):
			if len(value) > zmtpMaxIdentity {
				return info, fmt.Errorf("%w: peer identity of %d bytes (ZMTP allows %d)", ErrBadGreeting, len(value), zmtpMaxIdentity)
			}
			if len(value) > 0 {
				info.identity = bytes.Clone(value)
			}
		}
	}
	if info.socketType == "" {
		return info, fmt.Errorf("%w: READY without a Socket-Type property", ErrBadGreeting)
	}
	return info, nil
}

// zmtpHandshake follows what a peer sends before its traffic: the 64-byte greeting, then
// command frames up to its READY. Like the decoder it is fed whatever has arrived. It is
// the one place that decides whether a peer may talk to us: the native sockets run it on
// their connections (nativeHandshake) and the zmq4 tap on the bytes zmq4 reads, so both
// accept and refuse the same peers.
type zmtpHandshake struct {
	ours     string // our socket type, for the compatibility check
	greeting [zmtpGreetingSize]byte
	got      int // greeting bytes seen so far
	dec      zmtpDecoder
	peer     zmtpReady // what the peer's READY said, once done
	done     bool
}

// init prepares h for a new connection of a socket of type ours; maxFrame bounds the
// handshake's command frames as it bounds the traffic's.
func (h *zmtpHandshake) init(ours string, maxFrame uint64) {
	*h = zmtpHandshake{ours: ours, dec: zmtpDecoder{maxFrame: maxFrame, cmdOnly: true}}
}

// feed consumes the peer's greeting and handshake commands from p and returns how many
// bytes it used and whether the handshake is complete. It stops after the peer's READY:
// the bytes after it (the peer's first messages) are left in p for the traffic's decoder.
// An error is final for the connection.
func (h *zmtpHandshake) feed(p []byte) (int, bool, error) {
	if h.done {
		return 0, true, nil
	}
	i := 0
	if h.got < zmtpGreetingSize {
		i = copy(h.greeting[h.got:], p)
		h.got += i
		if err := zmtpCheckGreeting(h.greeting[:h.got]); err != nil {
			return i, false, err
		}
	}
	for i < len(p) {
		n, ev, err := h.dec.feed(p[i:])
		i += n
		if err != nil {
			return i, false, err
		}
		if ev != zmtpGotCommand {
			continue
		}
		if err := h.command(); err != nil {
			return i, false, err
		}
		if h.done {
			return i, true, nil
		}
	}
	return i, false, nil
}

// command handles a command frame of the handshake: READY completes it, ERROR or any other
// command ends it.
func (h *zmtpHandshake) command() error {
	name, data, ok := zmtpSplitCommand(h.dec.cmd)
	switch {
	case !ok:
		return fmt.Errorf("%w: malformed command frame during handshake", ErrBadGreeting)
	case string(name) == "READY":
		info, err := zmtpParseReady(data)
		if err != nil {
			return err
		}
		if !zmtpCompatible(h.ours, strings.ToUpper(info.socketType)) {
			return fmt.Errorf("%w: peer socket type %s cannot talk to a %s", ErrBadGreeting, info.socketType, h.ours)
		}
		h.peer, h.done = info, true
		return nil
	case string(name) == "ERROR":
		return fmt.Errorf("%w: %q", ErrPeerError, zmtpErrorReason(data))
	}
	return fmt.Errorf("%w: command %q before READY", ErrBadGreeting, name)
}
