package transport

// ZMTP 3.1 frames (https://rfc.zeromq.org/spec/37/); the greeting and READY that come
// before them are in zmtp_handshake.go:
//
//	frame    = flags(1) size(1 or 8, big-endian) body(size)
//	flags    = MORE(0x01) | LONG(0x02) | COMMAND(0x04)
//	command  = name-size(1) name body
//
// Nothing here or in zmtp_handshake.go does I/O: the encoder appends to byte slices, and
// the decoder and the handshake are resumable state machines fed with whatever bytes have
// arrived, so the same code serves the native DEALER (which must survive a receive
// deadline in the middle of a frame), the native ROUTER's per-connection readers, the
// zmq4 tap (which follows the bytes zmq4 reads, zmq4_tap.go), and the fuzz target. One
// parser means one set of rules: a peer the native sockets refuse, the zmq4 sockets
// refuse too.

import (
	"encoding/binary"
	"fmt"
)

// Frame flags.
const (
	zmtpMore    = 0x01
	zmtpLong    = 0x02
	zmtpCommand = 0x04
)

const (
	// zmtpMaxCommand bounds a command frame (READY, PING, ERROR, ...), whatever
	// MaxFrameSize says: commands carry a few properties, never bulk data.
	zmtpMaxCommand = 1 << 20
	// zmtpMaxFrames bounds the number of frames in one multipart message, so that a
	// flood of empty MORE frames cannot grow the frame index without limit.
	zmtpMaxFrames = 1 << 16
	// zmtpMaxPingContext is the longest PING context a PONG echoes (ZMTP 3.1).
	zmtpMaxPingContext = 16
)

// zmtpAppendFrame appends one frame: a short header for bodies up to 255 bytes, a long one
// above.
func zmtpAppendFrame(b []byte, flags byte, body []byte) []byte {
	if len(body) <= 255 {
		b = append(b, flags, byte(len(body)))
	} else {
		b = append(b, flags|zmtpLong)
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	}
	return append(b, body...)
}

// zmtpAppendMessage appends msg as one multipart message: MORE on every frame but the last.
func zmtpAppendMessage(b []byte, msg [][]byte) []byte {
	last := len(msg) - 1
	for i, f := range msg {
		var flags byte
		if i < last {
			flags = zmtpMore
		}
		b = zmtpAppendFrame(b, flags, f)
	}
	return b
}

// zmtpAppendCommand appends a command frame with the given name and data.
func zmtpAppendCommand(b []byte, name string, data ...[]byte) []byte {
	size := 1 + len(name)
	for _, d := range data {
		size += len(d)
	}
	if size <= 255 {
		b = append(b, zmtpCommand, byte(size))
	} else {
		b = append(b, zmtpCommand|zmtpLong)
		b = binary.BigEndian.AppendUint64(b, uint64(size))
	}
	b = append(b, byte(len(name)))
	b = append(b, name...)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// zmtpSplitCommand splits a command body into its name and data.
func zmtpSplitCommand(body []byte) (name, data []byte, ok bool) {
	if len(body) < 1 || int(body[0]) > len(body)-1 {
		return nil, nil, false
	}
	n := int(body[0])
	return body[1 : 1+n], body[1+n:], true
}

// zmtpPingContext returns the context a PONG must echo for a PING's data (TTL(2) context).
func zmtpPingContext(data []byte) []byte {
	if len(data) <= 2 {
		return nil
	}
	ctx := data[2:]
	if len(ctx) > zmtpMaxPingContext {
		ctx = ctx[:zmtpMaxPingContext]
	}
	return ctx
}

// zmtpErrorReason returns the reason an ERROR command carries.
func zmtpErrorReason(data []byte) []byte {
	if len(data) < 1 {
		return nil
	}
	n := int(data[0])
	if n > len(data)-1 {
		n = len(data) - 1
	}
	return data[1 : 1+n]
}

// zmtpMessage is one received multipart message. Frame bodies are stored back to back in
// data and sliced out when the message is complete, so a message that is reused costs no
// allocation once its buffers have grown to the traffic's size.
type zmtpMessage struct {
	data   []byte
	ends   []int    // end offset in data of each complete frame
	frames [][]byte // built when the message completes
	prefix []byte   // if set, frames[0] (the ROUTER's routing id)
}

// build slices the frames out of data. Each frame's capacity ends at its length, so a
// caller that appends to one cannot overwrite the next.
func (m *zmtpMessage) build() {
	m.frames = m.frames[:0]
	if m.prefix != nil {
		m.frames = append(m.frames, m.prefix)
	}
	start := 0
	for _, end := range m.ends {
		m.frames = append(m.frames, m.data[start:end:end])
		start = end
	}
	m.ends = m.ends[:0]
}

// zmtpEvent says what feed completed.
type zmtpEvent uint8

const (
	zmtpNeedMore   zmtpEvent = iota // everything given was consumed; nothing complete yet
	zmtpGotMessage                  // a message is complete in msg.frames
	zmtpGotCommand                  // a command frame is complete in cmd
)

// zmtpDecoder turns a byte stream into messages and commands. It is fed whatever has
// arrived and keeps its place between calls, so input may be split anywhere.
type zmtpDecoder struct {
	maxFrame uint64
	cmdOnly  bool // handshake: any message frame is an error
	// follow makes the decoder follow frame boundaries without keeping message bodies:
	// messages are not reported (feed returns only for commands, errors, or when the input
	// runs out), msg is not used, and the limits on what a kept message may grow to
	// (twice maxFrame, zmtpMaxFrames) do not apply. The frame rules stay the same. The
	// zmq4 tap follows zmq4's connections this way; zmq4 keeps the bodies itself.
	follow bool

	hdr    [9]byte
	hdrN   int // header bytes collected so far when a header straddles two reads
	inBody bool
	inMsg  bool // the last message frame had MORE: a multipart message is under way
	flags  byte
	remain uint64 // body bytes still to come in the current frame
	total  uint64 // body bytes of the current message so far

	msg *zmtpMessage // where message frames go; must be set before feeding message data (unless follow)
	cmd []byte       // the current command frame's body

	// grow, if set, is called before a body is appended to buf (msg.data or cmd) whose
	// capacity is below need: it gives buf room for need bytes or refuses with the
	// connection's error. It lets a Loop keep its connections within a shared budget.
	grow func(buf *[]byte, need int) error
}

// reset forgets any partial frame or message (after a reconnect).
func (d *zmtpDecoder) reset() {
	d.hdrN = 0
	d.inBody = false
	d.inMsg = false
	d.remain = 0
	d.total = 0
	d.cmd = d.cmd[:0]
	if d.msg != nil {
		d.msg.data = d.msg.data[:0]
		d.msg.ends = d.msg.ends[:0]
	}
}

// partial reports whether the stream stopped inside a frame or a multipart message.
func (d *zmtpDecoder) partial() bool {
	return d.hdrN > 0 || d.inBody || d.inMsg
}

// feed consumes bytes from p until a message or command completes or p runs out. It
// returns how many bytes it consumed and what completed. After zmtpGotMessage the frames are
// in d.msg.frames; after zmtpGotCommand the body is in d.cmd; both stay valid until the next
// feed. An error is final for the connection.
func (d *zmtpDecoder) feed(p []byte) (int, zmtpEvent, error) {
	i := 0
	for i < len(p) {
		if d.inBody {
			n := len(p) - i
			if uint64(n) > d.remain {
				n = int(d.remain)
			}
			if d.flags&zmtpCommand != 0 {
				if d.grow != nil && len(d.cmd)+n > cap(d.cmd) {
					if err := d.grow(&d.cmd, len(d.cmd)+n); err != nil {
						return i, zmtpNeedMore, err
					}
				}
				d.cmd = append(d.cmd, p[i:i+n]...)
			} else if !d.follow {
				if d.grow != nil && len(d.msg.data)+n > cap(d.msg.data) {
					if err := d.grow(&d.msg.data, len(d.msg.data)+n); err != nil {
						return i, zmtpNeedMore, err
					}
				}
				d.msg.data = append(d.msg.data, p[i:i+n]...)
			}
			i += n
			d.remain -= uint64(n)
			if d.remain == 0 {
				d.inBody = false
				if ev := d.endFrame(); ev != zmtpNeedMore {
					return i, ev, nil
				}
			}
			continue
		}
		var flags byte
		var size uint64
		if rest := p[i:]; d.hdrN == 0 && len(rest) >= 2 && (rest[0]&zmtpLong == 0 || len(rest) >= 9) {
			flags = rest[0]
			if flags&zmtpLong == 0 {
				size = uint64(rest[1])
				i += 2
			} else {
				size = binary.BigEndian.Uint64(rest[1:9])
				i += 9
			}
		} else {
			d.hdr[d.hdrN] = p[i]
			d.hdrN++
			i++
			want := 2
			if d.hdr[0]&zmtpLong != 0 {
				want = 9
			}
			if d.hdrN < want {
				continue
			}
			flags = d.hdr[0]
			if want == 2 {
				size = uint64(d.hdr[1])
			} else {
				size = binary.BigEndian.Uint64(d.hdr[1:9])
			}
			d.hdrN = 0
		}
		if err := d.beginFrame(flags, size); err != nil {
			return i, zmtpNeedMore, err
		}
		if size == 0 {
			if ev := d.endFrame(); ev != zmtpNeedMore {
				return i, ev, nil
			}
		} else {
			d.inBody = true
		}
	}
	return i, zmtpNeedMore, nil
}

// beginFrame checks a frame header against the limits and prepares for its body.
func (d *zmtpDecoder) beginFrame(flags byte, size uint64) error {
	d.flags = flags
	d.remain = size
	if flags&zmtpCommand != 0 {
		limit := uint64(zmtpMaxCommand)
		if d.maxFrame < limit {
			limit = d.maxFrame
		}
		if size > limit {
			return fmt.Errorf("%w: command frame of %d bytes (limit %d); the peer is not speaking ZMTP correctly", ErrFrameTooLarge, size, limit)
		}
		d.cmd = d.cmd[:0]
		return nil
	}
	if d.cmdOnly {
		return fmt.Errorf("%w: message frame before the READY command", ErrBadGreeting)
	}
	if size > d.maxFrame {
		return fmt.Errorf("%w: %d-byte frame, limit %d (raise MaxFrameSize if the peer is right to send it)", ErrFrameTooLarge, size, d.maxFrame)
	}
	if d.follow {
		return nil
	}
	if !d.inMsg {
		// First frame of a message: the previous message's buffers are free again.
		d.msg.data = d.msg.data[:0]
		d.total = 0
	}
	if d.total+size > 2*d.maxFrame {
		return fmt.Errorf("%w: message of more than %d bytes (twice MaxFrameSize)", ErrFrameTooLarge, 2*d.maxFrame)
	}
	if len(d.msg.ends) >= zmtpMaxFrames {
		return fmt.Errorf("%w: message of more than %d frames", ErrFrameTooLarge, zmtpMaxFrames)
	}
	d.total += size
	return nil
}

// endFrame finishes the current frame and says whether that completed something.
func (d *zmtpDecoder) endFrame() zmtpEvent {
	if d.flags&zmtpCommand != 0 {
		return zmtpGotCommand
	}
	d.inMsg = d.flags&zmtpMore != 0
	if d.follow {
		return zmtpNeedMore
	}
	d.msg.ends = append(d.msg.ends, len(d.msg.data))
	if d.inMsg {
		return zmtpNeedMore
	}
	d.msg.build()
	return zmtpGotMessage
}
