package protocol

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Property keys of the signalling message.
const (
	KeyGroupName   = "group_name"   // str or bin: the group
	KeyChannelName = "channel_name" // str or bin: the channel
	KeyTTL         = "ttl"          // int: seconds a group lives (server default 86400)
	KeyAck         = "ack"          // truthy: the client wants a reply
	KeyReason      = "reason"       // str: why an EXCEPTON
)

// DefaultTTL is the group lifetime, in seconds, the server applies when a GROUPADD
// carries no ttl.
const DefaultTTL = 86400

// Message is one signalling message.
//
// On the wire it is the envelope (routing ids added by ROUTER sockets), an empty delimiter
// frame, then exactly three frames: id, command and properties.
type Message struct {
	Envelope   [][]byte   // frames before the delimiter, sent back unchanged
	ID         []byte     // opaque request id, normally a 16-byte UUID; any length works
	Command    Command    // 8 ASCII bytes, e.g. GroupAdd
	Properties Properties // the decoded properties frame
	// RawProperties is the properties frame as received by Decode. When it is non-nil,
	// Encode sends it verbatim instead of encoding Properties (an echo, or a prebuilt
	// request template).
	RawProperties []byte
}

// Properties are the known keys of a message's properties map. Unknown keys are ignored
// by Decode and not sent by Encode.
type Properties struct {
	GroupName   []byte // nil when absent
	ChannelName []byte // nil when absent
	TTL         int64  // seconds; 0 when absent
	Ack         bool   // true when "ack" is truthy (true, or a non-zero number)
	Reason      string // EXCEPTON's explanation
}

// Malformed message shapes. Decode returns a *DecodeError that matches one of these with
// errors.Is. The first five are the shapes PROTOCOL.md lists as crashing the 0.2.1 handler.
var (
	ErrNoDelimiter      = errors.New("no empty delimiter frame")
	ErrTooFewFrames     = errors.New("fewer than 3 frames after the delimiter (want id, command, properties)")
	ErrTooManyFrames    = errors.New("more than 3 frames after the delimiter (want id, command, properties)")
	ErrEmptyProperties  = errors.New("empty properties frame (want a msgpack map)")
	ErrNotMsgpack       = errors.New("properties frame is not valid msgpack")
	ErrTrailingBytes    = errors.New("properties frame has bytes after the msgpack map")
	ErrPropertiesNotMap = errors.New("properties are not a msgpack map")
	ErrNonStringKey     = errors.New("properties map has a key that is not a string")
	ErrBadPropertyType  = errors.New("property has the wrong type")
)

// DecodeError says why frames are not a signalling message. ID holds the request id when
// it could be recovered (the frame after the delimiter), so a server can still answer.
type DecodeError struct {
	Err    error  // one of the Err* shapes above
	Detail string // what exactly, e.g. the key or the msgpack error
	ID     []byte // the request id, or nil when there is none
	HasID  bool   // an id frame was present (it may be empty)
}

// Error returns the shape and its detail.
func (e *DecodeError) Error() string {
	if e.Detail == "" {
		return "malformed signalling message: " + e.Err.Error()
	}
	return "malformed signalling message: " + e.Err.Error() + ": " + e.Detail
}

// Unwrap returns the shape, for errors.Is.
func (e *DecodeError) Unwrap() error { return e.Err }

// IsBadProperty reports whether err is a well-formed message with a property of the wrong
// type (for example ttl "60"). Such a message is fully decoded otherwise, so its Ack can be
// honoured; every other decode error is a malformed message.
func IsBadProperty(err error) bool { return errors.Is(err, ErrBadPropertyType) }

// delimiter returns the index of the first empty frame, or -1.
func delimiter(frames [][]byte) int {
	for i, f := range frames {
		if len(f) == 0 {
			return i
		}
	}
	return -1
}

// DecodeHeader fills m's Envelope, ID and Command from frames and sets RawProperties to
// the properties frame, without decoding it. It is the cheap path for a client matching
// replies by id. It does not allocate: m's slices alias frames.
func DecodeHeader(frames [][]byte, m *Message) error {
	*m = Message{Envelope: m.Envelope[:0]}
	d := delimiter(frames)
	if d < 0 {
		return &DecodeError{Err: ErrNoDelimiter, Detail: fmt.Sprintf("%d frames, none empty", len(frames))}
	}
	m.Envelope = append(m.Envelope, frames[:d]...)
	body := frames[d+1:]
	if len(body) > 0 {
		m.ID = body[0]
	}
	if len(body) > 1 {
		m.Command = commandOf(body[1])
		if m.Command == "" {
			m.Command = Command(body[1])
		}
	}
	switch {
	case len(body) < 3:
		return &DecodeError{Err: ErrTooFewFrames, Detail: fmt.Sprintf("got %d", len(body)), ID: m.ID, HasID: len(body) > 0}
	case len(body) > 3:
		return &DecodeError{Err: ErrTooManyFrames, Detail: fmt.Sprintf("got %d", len(body)), ID: m.ID, HasID: true}
	}
	m.RawProperties = body[2]
	return nil
}

// Decode parses frames into m: the header as DecodeHeader does, then the properties map.
// A malformed message returns a *DecodeError; a property of the wrong type returns an
// error for which IsBadProperty is true, with every other field decoded. Decode never
// panics. Group and channel names alias frames.
func Decode(frames [][]byte, m *Message) error {
	if err := DecodeHeader(frames, m); err != nil {
		return err
	}
	err := DecodeProperties(m.RawProperties, &m.Properties)
	if de, ok := err.(*DecodeError); ok {
		de.ID, de.HasID = m.ID, true
	}
	return err
}

// DecodeProperties parses a properties frame into p.
func DecodeProperties(frame []byte, p *Properties) error {
	*p = Properties{}
	if len(frame) == 0 {
		return &DecodeError{Err: ErrEmptyProperties}
	}
	r := propertyReader{b: frame}
	n, err := r.mapLen()
	if err != nil {
		return err
	}
	var bad error
	for i := 0; i < n; i++ {
		key, err := r.key()
		if err != nil {
			return err
		}
		switch string(key) {
		case KeyGroupName, KeyChannelName:
			v, ok, err := r.name()
			if err != nil {
				return err
			}
			if !ok {
				bad = badType(bad, key, "str or bin")
			} else if string(key) == KeyGroupName {
				p.GroupName = v
			} else {
				p.ChannelName = v
			}
		case KeyTTL:
			v, ok, err := r.integer()
			if err != nil {
				return err
			}
			if !ok {
				bad = badType(bad, key, "an integer number of seconds")
			}
			p.TTL = v
		case KeyAck:
			v, err := r.truthy()
			if err != nil {
				return err
			}
			p.Ack = v
		case KeyReason:
			v, ok, err := r.name()
			if err != nil {
				return err
			}
			if ok {
				p.Reason = string(v)
			}
		default:
			if err := r.skip(); err != nil {
				return err
			}
		}
	}
	if r.off != len(r.b) {
		return &DecodeError{Err: ErrTrailingBytes, Detail: fmt.Sprintf("%d bytes after the map", len(r.b)-r.off)}
	}
	return bad
}

func badType(prev error, key []byte, want string) error {
	if prev != nil {
		return prev
	}
	return fmt.Errorf("property %q: want %s: %w", key, want, ErrBadPropertyType)
}

// propertyReader reads the few msgpack shapes a properties map holds straight from the
// frame, so that names alias the frame and decoding a request does not allocate (the
// msgpack library's Decoder copies every string). Values of other types are skipped with
// the library.
type propertyReader struct {
	b   []byte
	off int
}

func (r *propertyReader) notMsgpack(detail string) error {
	return &DecodeError{Err: ErrNotMsgpack, Detail: detail}
}

// need returns the next n bytes, or an error when the frame ends first.
func (r *propertyReader) need(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, r.notMsgpack(fmt.Sprintf("truncated at byte %d", r.off))
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v, nil
}

func (r *propertyReader) uintN(n int) (uint64, error) {
	b, err := r.need(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (r *propertyReader) mapLen() (int, error) {
	c := r.b[r.off]
	r.off++
	var n uint64
	var err error
	switch {
	case msgpcode.IsFixedMap(c):
		n = uint64(c & msgpcode.FixedMapMask)
	case c == msgpcode.Map16:
		n, err = r.uintN(2)
	case c == msgpcode.Map32:
		n, err = r.uintN(4)
	case c == msgpcode.Nil:
		return 0, &DecodeError{Err: ErrPropertiesNotMap, Detail: "nil"}
	case c == 0xc1:
		return 0, r.notMsgpack("byte 0xc1 is never used by msgpack")
	default:
		return 0, &DecodeError{Err: ErrPropertiesNotMap, Detail: fmt.Sprintf("msgpack %s", typeName(c))}
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.b)) { // each entry takes at least two bytes
		return 0, r.notMsgpack(fmt.Sprintf("map of %d entries in a %d-byte frame", n, len(r.b)))
	}
	return int(n), nil
}

// key reads a map key, which must be a msgpack str.
func (r *propertyReader) key() ([]byte, error) {
	if r.off >= len(r.b) {
		return nil, r.notMsgpack("map ends early")
	}
	c := r.b[r.off]
	if !isStr(c) {
		if err := r.skip(); err != nil {
			return nil, err
		}
		return nil, &DecodeError{Err: ErrNonStringKey, Detail: fmt.Sprintf("a %s key", typeName(c))}
	}
	v, _, err := r.name()
	return v, err
}

func isStr(c byte) bool {
	return msgpcode.IsFixedString(c) || c == msgpcode.Str8 || c == msgpcode.Str16 || c == msgpcode.Str32
}

// name reads a str or bin value. ok is false (and the value skipped) for any other type.
func (r *propertyReader) name() (v []byte, ok bool, err error) {
	if r.off >= len(r.b) {
		return nil, false, r.notMsgpack("map ends early")
	}
	c := r.b[r.off]
	var n uint64
	switch {
	case msgpcode.IsFixedString(c):
		r.off++
		n = uint64(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8 || c == msgpcode.Bin8:
		r.off++
		n, err = r.uintN(1)
	case c == msgpcode.Str16 || c == msgpcode.Bin16:
		r.off++
		n, err = r.uintN(2)
	case c == msgpcode.Str32 || c == msgpcode.Bin32:
		r.off++
		n, err = r.uintN(4)
	default:
		return nil, false, r.skip()
	}
	if err != nil {
		return nil, false, err
	}
	if n > uint64(len(r.b)) {
		return nil, false, r.notMsgpack(fmt.Sprintf("string of %d bytes in a %d-byte frame", n, len(r.b)))
	}
	v, err = r.need(int(n))
	return v, err == nil, err
}

// integer reads an int or uint value. ok is false (and the value skipped) for any other
// type, or for a uint64 above the int64 range.
func (r *propertyReader) integer() (v int64, ok bool, err error) {
	if r.off >= len(r.b) {
		return 0, false, r.notMsgpack("map ends early")
	}
	c := r.b[r.off]
	switch {
	case msgpcode.IsFixedNum(c):
		r.off++
		return int64(int8(c)), true, nil
	case c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 || c == msgpcode.Uint64:
		r.off++
		u, err := r.uintN(1 << (c - msgpcode.Uint8))
		return int64(u), err == nil && u <= 1<<63-1, err
	case c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64:
		r.off++
		size := 1 << (c - msgpcode.Int8)
		u, err := r.uintN(size)
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, err == nil, err
	}
	return 0, false, r.skip()
}

// truthy reads any value and reports whether Python would find it true: true, a non-zero
// number, a non-empty string, bin, array or map.
func (r *propertyReader) truthy() (bool, error) {
	if r.off >= len(r.b) {
		return false, r.notMsgpack("map ends early")
	}
	c := r.b[r.off]
	switch {
	case c == msgpcode.True:
		r.off++
		return true, nil
	case c == msgpcode.False || c == msgpcode.Nil:
		r.off++
		return false, nil
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		v, _, err := r.integer()
		return v != 0, err
	case c == msgpcode.Float || c == msgpcode.Double:
		start := r.off
		if err := r.skip(); err != nil {
			return false, err
		}
		f, err := msgpack.NewDecoder(bytes.NewReader(r.b[start:r.off])).DecodeFloat64()
		return err == nil && f != 0, nil
	case isStr(c) || c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		v, _, err := r.name()
		return len(v) > 0, err
	}
	start := r.off
	if err := r.skip(); err != nil {
		return false, err
	}
	return r.off-start > 1, nil // a non-empty array or map, or an extension
}

// skip passes over one value of any type, using the msgpack library's decoder.
func (r *propertyReader) skip() error {
	br := bytes.NewReader(r.b[r.off:])
	if err := msgpack.NewDecoder(br).Skip(); err != nil {
		return r.notMsgpack(err.Error())
	}
	r.off = len(r.b) - br.Len()
	return nil
}

// typeName names the msgpack type that starts with byte c, for error messages.
func typeName(c byte) string {
	switch {
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		return "integer"
	case c == msgpcode.Nil:
		return "nil"
	case c == msgpcode.True || c == msgpcode.False:
		return "bool"
	case c == msgpcode.Float || c == msgpcode.Double:
		return "float"
	case isStr(c):
		return "str"
	case c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		return "bin"
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		return "array"
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return "map"
	}
	return fmt.Sprintf("type 0x%02x", c)
}
