package protocol

import (
	"bytes"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// Encoder turns messages into frames, reusing its buffers: the frames Encode returns are
// valid until the next call. The zero value is ready to use. An Encoder is not safe for
// concurrent use, and must not be copied after first use (its frames are held in it).
type Encoder struct {
	// StringNames sends group_name and channel_name as msgpack str instead of bin.
	StringNames bool

	frames [][]byte
	inline [5][]byte // frames' backing while a message has at most one envelope frame
	buf    bytes.Buffer
	enc    *msgpack.Encoder
}

// Encode returns m as multipart frames: envelope, the empty delimiter, id, command and
// properties (m.RawProperties when set, else m.Properties encoded as a msgpack map).
func (e *Encoder) Encode(m *Message) [][]byte {
	if e.frames == nil {
		e.frames = e.inline[:0]
	}
	e.frames = append(e.frames[:0], m.Envelope...)
	props := m.RawProperties
	if props == nil {
		props = e.Properties(&m.Properties)
	}
	e.frames = append(e.frames, []byte{}, m.ID, m.Command.Bytes(), props)
	return e.frames
}

// Properties returns p as a msgpack map, valid until the next call. It holds the keys that
// are set: group_name and channel_name as bin (as the DMB client sends them; str with
// StringNames), ttl when non-zero, ack when true, reason when non-empty.
func (e *Encoder) Properties(p *Properties) []byte {
	if e.enc == nil {
		e.enc = msgpack.NewEncoder(&e.buf)
	}
	e.buf.Reset()
	n := 0
	for _, set := range [...]bool{p.GroupName != nil, p.ChannelName != nil, p.TTL != 0, p.Ack, p.Reason != ""} {
		if set {
			n++
		}
	}
	// Writes to a bytes.Buffer cannot fail, so the encoder's errors are always nil.
	_ = e.enc.EncodeMapLen(n)
	if p.GroupName != nil {
		_ = e.enc.EncodeString(KeyGroupName)
		e.name(p.GroupName)
	}
	if p.ChannelName != nil {
		_ = e.enc.EncodeString(KeyChannelName)
		e.name(p.ChannelName)
	}
	if p.TTL != 0 {
		_ = e.enc.EncodeString(KeyTTL)
		_ = e.enc.EncodeInt(p.TTL)
	}
	if p.Ack {
		_ = e.enc.EncodeString(KeyAck)
		_ = e.enc.EncodeBool(true)
	}
	if p.Reason != "" {
		_ = e.enc.EncodeString(KeyReason)
		_ = e.enc.EncodeString(p.Reason)
	}
	return e.buf.Bytes()
}

// Encode returns m as newly allocated frames. Use an Encoder on hot paths.
func Encode(m *Message) [][]byte {
	var e Encoder
	frames := e.Encode(m)
	return frames
}

// name encodes a group or channel name as bin, or as str when StringNames is set.
func (e *Encoder) name(b []byte) {
	if !e.StringNames {
		_ = e.enc.EncodeBytes(b)
		return
	}
	// EncodeString only reads the string, so viewing b as one without a copy is safe.
	_ = e.enc.EncodeString(unsafe.String(unsafe.SliceData(b), len(b)))
}
