package broker

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// TestSendBudgetDrops floods the broker from clients that send GROUPADDs with 60 KB ids
// and ack, and never read their replies. The replies the transport refuses for a full
// send queue are counted in Report.Dropped.QueueFull (and on the wire, in PERFRPRT), as
// many as the router counts, and their requests are not counted as completed: every
// GROUPADD received is either completed or dropped so. A client that reads is served
// throughout.
func TestSendBudgetDrops(t *testing.T) {
	const (
		hostile  = 8
		requests = 100 // 6 MB of replies each: more than the kernel's buffers take
		idLen    = 60_000
	)
	s := startBroker(t, transport.Native, Config{Listen: transport.ListenOptions{
		MaxSendQueued:      64 << 10,
		MaxSendQueuedTotal: 1 << 20,
		WriteTimeout:       time.Minute, // not cut off during the test
	}})
	good := dial(t, transport.Native, s.Addr())

	frames := protocol.Encode(&protocol.Message{
		ID:         bytes.Repeat([]byte{'i'}, idLen),
		Command:    protocol.GroupAdd,
		Properties: protocol.Properties{GroupName: []byte("g"), ChannelName: []byte("c"), Ack: true},
	})
	wire := rawEncode(frames)
	var conns []net.Conn
	var writers sync.WaitGroup
	for range hostile {
		c := rawDealer(t, s.Addr())
		conns = append(conns, c)
		writers.Add(1)
		go func() {
			defer writers.Done()
			for range requests {
				if _, err := c.Write(wire); err != nil {
					return // closed by the test; a peer that never reads may also stall its own writes
				}
			}
		}()
	}
	closeHostile := sync.OnceFunc(func() {
		for _, c := range conns {
			c.Close()
		}
		writers.Wait()
	})
	t.Cleanup(closeHostile)

	for i := range 20 {
		good.heartbeat("good " + string(rune('a'+i)))
	}
	eventually(t, "replies dropped for full send queues", func() bool { return s.Report().Dropped.QueueFull > 0 })
	good.heartbeat("after the drops")

	// The report on the wire carries the count.
	rep := good.call(protocol.Message{ID: []byte("report"), Command: protocol.Performance})
	wireRep, err := protocol.DecodeReport(rep.RawProperties)
	if err != nil {
		t.Fatal(err)
	}
	if wireRep.Dropped.QueueFull == 0 || len(wireRep.Missing) > 0 || len(wireRep.Extra) > 0 {
		t.Errorf("PERFRPRT dropped %+v, missing %v, extra %v: want queue_full counted and the schema unchanged",
			wireRep.Dropped, wireRep.Missing, wireRep.Extra)
	}

	closeHostile()
	eventually(t, "the broker idle with the hostile clients gone", func() bool {
		st := s.RouterStats()
		return st.Peers == 1 && st.RetainedRecvBytes == 0
	})
	final := s.Report()
	st := s.RouterStats()
	add := final.Commands[string(protocol.GroupAdd)]
	t.Logf("GROUPADD %d received, %d completed; dropped %+v; router %d dropped (%d B), queued peak %d B",
		add.Received, add.Completed, final.Dropped, st.SendDropped, st.SendDroppedBytes, st.PeakQueuedSendBytes)
	if final.Dropped.QueueFull != st.SendDropped {
		t.Errorf("Report.Dropped.QueueFull %d, RouterStats.SendDropped %d: want the same replies", final.Dropped.QueueFull, st.SendDropped)
	}
	if add.Received != add.Completed+final.Dropped.QueueFull || add.Exceptions != 0 {
		t.Errorf("GROUPADD %d received, %d completed, %d exceptions, %d replies dropped: a dropped reply's request is not completed",
			add.Received, add.Completed, add.Exceptions, final.Dropped.QueueFull)
	}
	if final.Dropped.Replies != 0 || final.Dropped.Requests != 0 {
		t.Errorf("fault drops %+v without faults", final.Dropped)
	}
}

// rawDealer connects to addr as a ZMTP 3.1 DEALER written by hand, with a small receive
// buffer, and never reads after the greeting: a client that does not read its replies.
func rawDealer(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10], greeting[11] = 0xFF, 0x7F, 3, 1
	copy(greeting[12:], "NULL")
	ready := append([]byte{5}, "READY"...)
	ready = append(ready, 11)
	ready = append(ready, "Socket-Type"...)
	ready = binary.BigEndian.AppendUint32(ready, 6)
	ready = append(ready, "DEALER"...)
	out := append(greeting, 0x04, byte(len(ready)))
	if _, err := c.Write(append(out, ready...)); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).SetReadBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	return c
}

// rawEncode encodes frames as one ZMTP multipart message.
func rawEncode(frames [][]byte) []byte {
	var b []byte
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags = 0x01
		}
		if len(f) <= 255 {
			b = append(b, flags, byte(len(f)))
		} else {
			b = binary.BigEndian.AppendUint64(append(b, flags|0x02), uint64(len(f)))
		}
		b = append(b, f...)
	}
	return b
}
