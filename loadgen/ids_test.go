package loadgen

import (
	"bytes"
	"testing"
)

// makeID is the id a client of a run with the given nonce sends.
func makeID(nonce string, seq uint64, bucket uint16, cmd uint8) []byte {
	var id [idLen]byte
	var n [nonceLen]byte
	copy(n[:], nonce)
	putID(&id, &n, seq, bucket, cmd)
	return id[:]
}

// TestIDRoundTrip checks that readID gives back what putID wrote, at the limits of each
// field, and that the bytes are laid out as the ids.go comment says.
func TestIDRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		seq    uint64
		bucket uint16
		cmd    uint8
		want   []byte // bytes 8–15
	}{
		{"zero", 0, 0, 0, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{"one of each", 1, 1, 1, []byte{0, 0, 0, 0, 1, 0, 1, 1}},
		{"fields apart", 0x0102030405, 0x0607, 0x08, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{"largest sequence", maxSeq, 0, 0, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0}},
		{"largest bucket", 0, maxStage + 1, 0, []byte{0, 0, 0, 0, 0, 0xff, 0xff, 0}},
		{"largest command", 0, 0, maxCmds - 1, []byte{0, 0, 0, 0, 0, 0, 0, 0xff}},
		{"every field full", maxSeq, maxStage + 1, maxCmds - 1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	nonce := [nonceLen]byte{'N', 'O', 'N', 'C', 'E', '1', '2', '3'}
	for _, tt := range tests {
		var id [idLen]byte
		putID(&id, &nonce, tt.seq, tt.bucket, tt.cmd)
		if !bytes.Equal(id[:nonceLen], nonce[:]) || !bytes.Equal(id[nonceLen:], tt.want) {
			t.Errorf("%s: putID wrote % x, want %q then % x", tt.name, id, nonce, tt.want)
		}
		n, seq, bucket, cmd, ok := readID(id[:])
		if !ok || !bytes.Equal(n, nonce[:]) || seq != tt.seq || bucket != tt.bucket || cmd != tt.cmd {
			t.Errorf("%s: readID = (%q, %d, %d, %d, %v), want (%q, %d, %d, %d, true)",
				tt.name, n, seq, bucket, cmd, ok, nonce, tt.seq, tt.bucket, tt.cmd)
		}
	}
	for _, id := range [][]byte{nil, make([]byte, idLen-1), make([]byte, idLen+1)} {
		if _, _, _, _, ok := readID(id); ok {
			t.Errorf("readID accepted an id of %d bytes", len(id))
		}
	}
}

func TestParseID(t *testing.T) {
	e := testEngine()
	tests := []struct {
		name   string
		id     []byte
		ok     bool
		seq    uint64
		bucket uint16
		cmd    uint8
	}{
		{"ours", makeID("NONCE123", 42, 2, 1), true, 42, 2, 1},
		{"largest sequence", makeID("NONCE123", maxSeq, 0, 0), true, maxSeq, 0, 0},
		{"another run's nonce", makeID("NONCE999", 42, 2, 1), false, 0, 0, 0},
		{"bucket past the last stage", makeID("NONCE123", 1, 3, 0), false, 0, 0, 0},
		{"command past the table", makeID("NONCE123", 1, 1, 2), false, 0, 0, 0},
		{"too short", []byte("NONCE123abc"), false, 0, 0, 0},
		{"empty", nil, false, 0, 0, 0},
		{"too long", append(makeID("NONCE123", 1, 1, 0), 0), false, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seq, bucket, cmd, ok := e.parseID(tc.id)
			if ok != tc.ok || seq != tc.seq || bucket != tc.bucket || cmd != tc.cmd {
				t.Errorf("parseID = (%d, %d, %d, %v), want (%d, %d, %d, %v)", seq, bucket, cmd, ok, tc.seq, tc.bucket, tc.cmd, tc.ok)
			}
		})
	}
}
