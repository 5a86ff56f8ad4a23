package transport

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// zmtpDecodeAll feeds in to a fresh decoder in pieces of at most step bytes (0: all at once)
// and returns the messages and command bodies in order, and the first error. With follow
// the decoder only follows frames (the zmq4 tap's way) and reports no messages.
func zmtpDecodeAll(in []byte, step int, maxFrame uint64, follow bool) (msgs [][][]byte, cmds [][]byte, partial bool, err error) {
	var m zmtpMessage
	d := zmtpDecoder{maxFrame: maxFrame, msg: &m, follow: follow}
	if step <= 0 {
		step = len(in) + 1
	}
	for off := 0; off < len(in); {
		end := min(off+step, len(in))
		chunk := in[off:end]
		for len(chunk) > 0 {
			n, ev, ferr := d.feed(chunk)
			chunk = chunk[n:]
			if ferr != nil {
				return msgs, cmds, d.partial(), ferr
			}
			switch ev {
			case zmtpGotMessage:
				msgs = append(msgs, cloneFrames(m.frames))
			case zmtpGotCommand:
				cmds = append(cmds, bytes.Clone(d.cmd))
			case zmtpNeedMore:
				if len(chunk) != 0 {
					return msgs, cmds, d.partial(), fmt.Errorf("needMore with %d bytes unconsumed", len(chunk))
				}
			}
		}
		off = end
	}
	return msgs, cmds, d.partial(), nil
}

func zmtpEqualMsgs(a, b [][][]byte) bool {
	return slices.EqualFunc(a, b, framesEqual)
}

func TestZMTPDecoderRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	tests := []struct {
		name string
		msgs [][][]byte
	}{
		{"one empty frame", [][][]byte{{{}}}},
		{"dmb request with envelope", [][][]byte{{[]byte("peer-1"), {}, {}, []byte("0123456789abcdef"), []byte("HARTBEAT"), {0x81, 0xa3, 'a', 'c', 'k', 0xc3}}}},
		{"one byte", [][][]byte{{{'x'}}}},
		{"short/long boundary", [][][]byte{{bytes.Repeat([]byte{1}, 255), bytes.Repeat([]byte{2}, 256)}}},
		{"1 MiB frame between small ones", [][][]byte{{{'a'}, big, {}}, {[]byte("after")}}},
		{"many messages", func() [][][]byte {
			var out [][][]byte
			for i := range 100 {
				out = append(out, [][]byte{{}, []byte(fmt.Sprint(i)), bytes.Repeat([]byte{byte(i)}, i*3)})
			}
			return out
		}()},
	}
	for _, tt := range tests {
		var wire []byte
		for _, m := range tt.msgs {
			wire = zmtpAppendMessage(wire, m)
		}
		for _, step := range []int{0, 1, 2, 3, 9, 10, 4096, 65536} {
			if len(wire) > 1<<16 && step > 0 && step < 9 {
				continue // byte by byte through 1 MiB proves nothing more, slowly
			}
			t.Run(fmt.Sprintf("%s/step%d", tt.name, step), func(t *testing.T) {
				got, cmds, partial, err := zmtpDecodeAll(wire, step, defaultMaxFrameSize, false)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if partial || len(cmds) != 0 {
					t.Fatalf("partial=%v commands=%d, want a clean end and no commands", partial, len(cmds))
				}
				if !zmtpEqualMsgs(got, tt.msgs) {
					t.Fatalf("decoded %d messages, not equal to the %d encoded", len(got), len(tt.msgs))
				}
			})
		}
	}
}

func TestZMTPDecoderCommandsAndPartial(t *testing.T) {
	ping := zmtpAppendCommand(nil, "PING", []byte{0, 10}, []byte("ctx"))
	tests := []struct {
		name        string
		wire        []byte
		wantMsgs    int
		wantCmds    int
		wantPartial bool
	}{
		{"ping alone", ping, 0, 1, false},
		{"ping inside a multipart message", append(append([]byte{zmtpMore, 1, 'a'}, ping...), 0, 1, 'b'), 1, 1, false},
		{"long-form header for a small frame", []byte{zmtpLong, 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'}, 1, 0, false},
		{"cut in a header", []byte{zmtpLong, 0, 0}, 0, 0, true},
		{"cut in a body", []byte{0, 5, 'a', 'b'}, 0, 0, true},
		{"cut after a MORE frame", []byte{zmtpMore, 1, 'a'}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Following frames (the zmq4 tap) reports no messages, the rest alike.
			for _, follow := range []bool{false, true} {
				msgs, cmds, partial, err := zmtpDecodeAll(tt.wire, 1, defaultMaxFrameSize, follow)
				if err != nil {
					t.Fatalf("follow=%v: decode: %v", follow, err)
				}
				wantMsgs := tt.wantMsgs
				if follow {
					wantMsgs = 0
				}
				if len(msgs) != wantMsgs || len(cmds) != tt.wantCmds || partial != tt.wantPartial {
					t.Fatalf("follow=%v: got %d messages, %d commands, partial=%v; want %d, %d, %v",
						follow, len(msgs), len(cmds), partial, wantMsgs, tt.wantCmds, tt.wantPartial)
				}
			}
		})
	}
}

func TestZMTPDecoderLimits(t *testing.T) {
	manyEmpty := bytes.Repeat([]byte{zmtpMore, 0}, zmtpMaxFrames+1)
	tests := []struct {
		name     string
		wire     []byte
		maxFrame uint64
		cmdOnly  bool
		want     error
	}{
		{"frame above MaxFrameSize", rawLongHeader(0, 1025), 1024, false, ErrFrameTooLarge},
		{"size with the top bit set", rawLongHeader(0, 1<<63), 1024, false, ErrFrameTooLarge},
		{"command above the command limit", rawLongHeader(zmtpCommand, zmtpMaxCommand+1), defaultMaxFrameSize, false, ErrFrameTooLarge},
		{"message above twice MaxFrameSize", bytes.Repeat(append(rawLongHeader(zmtpMore, 300), make([]byte, 300)...), 3), 400, false, ErrFrameTooLarge},
		{"too many frames", manyEmpty, defaultMaxFrameSize, false, ErrFrameTooLarge},
		{"message before READY", []byte{0, 1, 'x'}, defaultMaxFrameSize, true, ErrBadGreeting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m zmtpMessage
			d := zmtpDecoder{maxFrame: tt.maxFrame, cmdOnly: tt.cmdOnly, msg: &m}
			var err error
			for p := tt.wire; len(p) > 0 && err == nil; {
				var n int
				n, _, err = d.feed(p)
				p = p[n:]
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestZMTPDecoderNoAllocs checks the steady state: once the buffers have grown, decoding
// and encoding a message allocates nothing.
func TestZMTPDecoderNoAllocs(t *testing.T) {
	msg := dmbRequest()
	var wire []byte
	for range 16 {
		wire = zmtpAppendMessage(wire, msg)
	}
	var m zmtpMessage
	d := zmtpDecoder{maxFrame: defaultMaxFrameSize, msg: &m}
	var out []byte
	run := func() {
		for p := wire; len(p) > 0; {
			n, _, err := d.feed(p)
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		out = zmtpAppendMessage(out[:0], m.frames)
	}
	run()
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Fatalf("%.1f allocations per 16 messages decoded and re-encoded, want 0", allocs)
	}
}

// FuzzFrameDecoder feeds arbitrary bytes to the decoder whole and in small pieces. It must
// never panic, must not depend on how the input is split, and whatever it decodes must
// re-encode to something that decodes to the same messages.
func FuzzFrameDecoder(f *testing.F) {
	f.Add([]byte{}, uint8(1))
	f.Add(zmtpAppendMessage(nil, [][]byte{{}, []byte("id"), []byte("HARTBEAT"), {0x80}}), uint8(3))
	f.Add(zmtpAppendCommand(nil, "PING", []byte{0, 1}, []byte("context")), uint8(2))
	f.Add(zmtpAppendReady(nil, zmtpDealer, []byte("me")), uint8(5))
	f.Add([]byte{zmtpLong, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(1))
	f.Add([]byte{zmtpMore, 2, 'a'}, uint8(1))
	f.Add(zmtpAppendMessage(nil, [][]byte{bytes.Repeat([]byte{7}, 300)}), uint8(7))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		const limit = 1 << 16
		whole, wholeCmds, wholePartial, wholeErr := zmtpDecodeAll(in, 0, limit, false)
		split, splitCmds, splitPartial, splitErr := zmtpDecodeAll(in, int(step%16)+1, limit, false)
		if (wholeErr == nil) != (splitErr == nil) {
			t.Fatalf("whole: %v; split: %v", wholeErr, splitErr)
		}
		if !zmtpEqualMsgs(whole, split) || len(wholeCmds) != len(splitCmds) || wholePartial != splitPartial {
			t.Fatalf("split decoding differs: %d/%d messages, %d/%d commands, partial %v/%v",
				len(whole), len(split), len(wholeCmds), len(splitCmds), wholePartial, splitPartial)
		}
		// Following frames without keeping them (the zmq4 tap) applies the same frame
		// rules and fewer message limits: it refuses nothing the decoder accepts, and
		// sees the same commands and the same end of stream.
		_, followCmds, followPartial, followErr := zmtpDecodeAll(in, int(step%16)+1, limit, true)
		if wholeErr == nil && (followErr != nil || len(followCmds) != len(wholeCmds) || followPartial != wholePartial) {
			t.Fatalf("following differs: err %v, %d/%d commands, partial %v/%v",
				followErr, len(followCmds), len(wholeCmds), followPartial, wholePartial)
		}
		if wholeErr != nil {
			for _, e := range []error{ErrFrameTooLarge, ErrBadGreeting} {
				if errors.Is(wholeErr, e) {
					return
				}
			}
			t.Fatalf("unnamed decoder error: %v", wholeErr)
		}
		var again []byte
		for _, m := range whole {
			again = zmtpAppendMessage(again, m)
		}
		back, _, _, err := zmtpDecodeAll(again, 0, limit, false)
		if err != nil || !zmtpEqualMsgs(back, whole) {
			t.Fatalf("re-encoded messages do not decode the same (err %v)", err)
		}
	})
}
