package broker

import (
	"strings"
	"testing"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// malformedCase is a malformed shape of PROTOCOL.md as a DEALER sends it (the same shapes
// as protocol's tests).
type malformedCase struct {
	name    string
	frames  [][]byte
	want    error  // the decode error the reference reason names
	id      string // the recovered id, "" when there is none
	command string // the command the broker counts it under, "" for Report.Malformed
}

func malformedCases(t testing.TB) []malformedCase {
	ok := mustMsgpack(t, map[string]any{"ack": true})
	noAck := mustMsgpack(t, map[string]any{"ack": false})
	return []malformedCase{
		{"2 frames after delimiter", [][]byte{{}, []byte("id1"), []byte("HARTBEAT")}, protocol.ErrTooFewFrames, "id1", "HARTBEAT"},
		{"1 frame after delimiter", [][]byte{{}, []byte("id0")}, protocol.ErrTooFewFrames, "id0", ""},
		{"4 frames after delimiter", [][]byte{{}, []byte("id2"), []byte("HARTBEAT"), ok, ok}, protocol.ErrTooManyFrames, "id2", "HARTBEAT"},
		{"no delimiter", [][]byte{[]byte("id3"), []byte("HARTBEAT"), ok}, protocol.ErrNoDelimiter, "", ""},
		{"not msgpack", [][]byte{{}, []byte("id4"), []byte("GROUPADD"), {0xc1}}, protocol.ErrNotMsgpack, "id4", "GROUPADD"},
		{"truncated map", [][]byte{{}, []byte("id5"), []byte("HARTBEAT"), ok[:len(ok)-1]}, protocol.ErrNotMsgpack, "id5", "HARTBEAT"},
		{"trailing bytes", [][]byte{{}, []byte("id6"), []byte("HARTBEAT"), append(append([]byte{}, ok...), 0x01)}, protocol.ErrTrailingBytes, "id6", "HARTBEAT"},
		{"empty properties", [][]byte{{}, []byte("id7"), []byte("GROUPDIS"), {}}, protocol.ErrEmptyProperties, "id7", "GROUPDIS"},
		{"list", [][]byte{{}, []byte("id8"), []byte("HARTBEAT"), mustMsgpack(t, []any{1, 2})}, protocol.ErrPropertiesNotMap, "id8", "HARTBEAT"},
		{"nil", [][]byte{{}, []byte("id9"), []byte("HARTBEAT"), mustMsgpack(t, nil)}, protocol.ErrPropertiesNotMap, "id9", "HARTBEAT"},
		{"integer key", [][]byte{{}, []byte("idA"), []byte("PERFMNCE"), mustMsgpack(t, map[int]any{1: true})}, protocol.ErrNonStringKey, "idA", "PERFMNCE"},
		{"huge declared map", [][]byte{{}, []byte("idB"), []byte("HARTBEAT"), {0xdf, 0xff, 0xff, 0xff, 0xff}}, protocol.ErrNotMsgpack, "idB", "HARTBEAT"},
		{"huge declared string", [][]byte{{}, []byte("idC"), []byte("GROUPADD"), {0x81, 0xaa, 'g', 'r', 'o', 'u', 'p', '_', 'n', 'a', 'm', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff}}, protocol.ErrNotMsgpack, "idC", "GROUPADD"},
		{"only delimiter", [][]byte{{}}, protocol.ErrTooFewFrames, "", ""},
		{"unknown command, trailing bytes, no ack", [][]byte{{}, []byte("idD"), []byte("NOSUCHCM"), append(append([]byte{}, noAck...), 0x01)}, protocol.ErrTrailingBytes, "idD", protocol.UnknownCommand},
	}
}

// malformedCount returns where the report counted malformed messages under name ("" for
// Report.Malformed; PERFMNCE is in Reports).
func malformedCount(r protocol.Report, name string) uint64 {
	switch name {
	case "":
		return r.Malformed
	case string(protocol.Performance):
		return r.Reports.Malformed
	}
	return r.Commands[name].Malformed
}

// TestMalformedReference sends each malformed shape: the reference broker answers EXCEPTON
// with the recovered id whatever the ack (or nothing without an id), counts it, and
// answers the same connection's next request.
func TestMalformedReference(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		s := startBroker(t, kind, Config{})
		c := dial(t, kind, s.Addr())
		for _, tt := range malformedCases(t) {
			t.Run(tt.name, func(t *testing.T) {
				c.t = t
				before := malformedCount(s.Report(), tt.command)
				c.sendFrames(tt.frames)
				if tt.id != "" {
					r := c.mustRecv()
					if r.Command != protocol.Exception || string(r.ID) != tt.id {
						t.Fatalf("reply %s id %q, want EXCEPTON id %q", r.Command, r.ID, tt.id)
					}
					if !strings.Contains(r.Properties.Reason, tt.want.Error()) {
						t.Errorf("reason %q does not name %q", r.Properties.Reason, tt.want)
					}
				}
				c.heartbeat("after " + tt.name) // also shows no reply came for an id-less one
				if got := malformedCount(s.Report(), tt.command); got != before+1 {
					t.Errorf("malformed count under %q = %d, want %d", tt.command, got, before+1)
				}
			})
		}
	})
}

// TestMalformedCompat sends each malformed shape to the 0.2.1 model: no reply, and the
// connection is stuck, its next request unanswered, until another connection sends; then
// the held request is answered.
func TestMalformedCompat(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		s := startBroker(t, kind, Config{Compat: DMB021})
		for _, tt := range malformedCases(t) {
			t.Run(tt.name, func(t *testing.T) {
				a, b := dial(t, kind, s.Addr()), dial(t, kind, s.Addr())
				before := malformedCount(s.Report(), tt.command)
				a.sendFrames(tt.frames)
				a.send(protocol.Message{ID: []byte("held"), Command: protocol.Heartbeat, Properties: protocol.Properties{Ack: true}})
				a.expectSilence("a stuck connection")
				b.heartbeat("b")
				r := a.mustRecv()
				if r.Command != protocol.Heartbeat || string(r.ID) != "held" {
					t.Fatalf("released reply %s id %q, want the HARTBEAT echo id held", r.Command, r.ID)
				}
				a.heartbeat("a again")
				if got := malformedCount(s.Report(), tt.command); got != before+1 {
					t.Errorf("malformed count under %q = %d, want %d", tt.command, got, before+1)
				}
			})
		}
	})
}
