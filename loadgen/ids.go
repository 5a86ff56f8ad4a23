package loadgen

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"math"
)

// Request ids.
//
// An id is 16 bytes, the size of the UUID the real DMB client sends:
//
//	bytes 0–7    the run's nonce (random per Run)
//	bytes 8–12   the request's sequence number within its client (40 bits, big-endian)
//	bytes 13–14  the bucket the request is recorded in: 0 warm-up, s+1 stage s
//	byte  15     the index of its command in the run's command table
//
// Bytes 8–15 are one big-endian uint64, seq<<24 | bucket<<8 | command. A reply is matched
// by sequence in its client's table of outstanding requests (pending.go); the bucket and
// command in the id let a reply that matches nothing outstanding (late or duplicate)
// still be counted against the right command without keeping anything per answered
// request.
const (
	idLen       = 16
	nonceLen    = 8
	seqShift    = 24
	bucketShift = 8
	maxSeq      = 1<<40 - 1
	maxStage    = math.MaxUint16 - 1
	maxCmds     = math.MaxUint8 + 1
)

// newNonce returns a run's random nonce. crypto/rand.Read does not fail: should the
// system's source ever break, it ends the program rather than return an error.
func newNonce() (n [nonceLen]byte) {
	_, _ = crand.Read(n[:])
	return n
}

// putID writes the id of a request into id: the run's nonce, then its sequence number
// (at most maxSeq), bucket and command index.
func putID(id *[idLen]byte, nonce *[nonceLen]byte, seq uint64, bucket uint16, cmd uint8) {
	copy(id[:nonceLen], nonce[:])
	binary.BigEndian.PutUint64(id[nonceLen:], seq<<seqShift|uint64(bucket)<<bucketShift|uint64(cmd))
}

// readID is putID's inverse. ok is false when id is not idLen bytes long; nonce is a
// part of id.
func readID(id []byte) (nonce []byte, seq uint64, bucket uint16, cmd uint8, ok bool) {
	if len(id) != idLen {
		return nil, 0, 0, 0, false
	}
	v := binary.BigEndian.Uint64(id[nonceLen:])
	return id[:nonceLen], v >> seqShift, uint16(v >> bucketShift), uint8(v), true
}

// parseID reads a reply's id: it must be this run's and name a bucket and command of
// the run.
func (e *engine) parseID(id []byte) (seq uint64, bucket uint16, cmd uint8, ok bool) {
	nonce, seq, bucket, cmd, ok := readID(id)
	if !ok || !bytes.Equal(nonce, e.nonce[:]) || int(bucket) > len(e.plan.Stages) || int(cmd) >= len(e.cmds) {
		return 0, 0, 0, false
	}
	return seq, bucket, cmd, true
}
