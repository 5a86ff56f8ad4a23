package loadgen

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// hugeFrameServer is a ROUTER written by hand that, after the handshake, starts one
// frame of frameSize bytes on every connection and sends the first sent bytes of it,
// never finishing it. It stops with the test.
func hugeFrameServer(t *testing.T, frameSize uint64, sent int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10], greeting[11] = 0xFF, 0x7F, 3, 1
	copy(greeting[12:], "NULL")
	ready := []byte{0x04, 0, 5, 'R', 'E', 'A', 'D', 'Y', 11}
	ready = append(ready, "Socket-Type"...)
	ready = binary.BigEndian.AppendUint32(ready, 6)
	ready = append(ready, "ROUTER"...)
	ready[1] = byte(len(ready) - 2)
	header := binary.BigEndian.AppendUint64([]byte{0x02}, frameSize)
	chunk := make([]byte, 64<<10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { _, _ = io.Copy(io.Discard, c) }() // the client's greeting and requests
				c.Write(append(append([]byte{}, greeting...), ready...))
				c.Write(header)
				for left := sent; left > 0; left -= len(chunk) {
					if _, err := c.Write(chunk[:min(left, len(chunk))]); err != nil {
						return
					}
				}
				<-stop
			}()
		}
	}()
	t.Cleanup(func() { close(stop); ln.Close(); wg.Wait() })
	return "tcp://" + ln.Addr().String()
}

// TestHugeRepliesStayWithinBudget: a server that sends each of 32 clients one enormous
// frame cannot take the generator's memory. Above the frame limit (1 MiB by default)
// each connection is closed as "frame too large"; with the limit raised, the shared
// receive budget (8 MiB here) refuses the frames that would pass it, counted as
// "receive budget exhausted" (a few connections whose 2 MiB fit stay), and what the
// connections held never passed it. Both with
// and without I/O loops.
func TestHugeRepliesStayWithinBudget(t *testing.T) {
	const clients = 32
	const budget = 8 << 20
	for _, tc := range []struct {
		name     string
		maxFrame int64
		loops    int
		cause    string
	}{
		{"default frame limit, loops", 0, 0, CauseFrameTooBig},
		{"default frame limit, goroutines", 0, -1, CauseFrameTooBig},
		{"budget, loops", 64 << 20, 0, CauseRecvBudget},
		{"budget, goroutines", 64 << 20, -1, CauseRecvBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := hugeFrameServer(t, 60<<20, 2<<20)
			plan := Plan{Timeout: time.Second, Seed: 1, Stages: []Stage{{
				Duration: time.Second, Clients: clients,
				Open: &Open{Rate: clients}, Mix: heartbeat(),
			}}}
			res, err := Run(context.Background(), Config{Plan: plan, Addr: addr, IOLoops: tc.loops,
				MaxFrame: tc.maxFrame, RecvBudget: budget, Drain: time.Second})
			if res == nil {
				t.Fatal(err)
			}
			cs := res.Connections
			if cs.Connected != clients {
				t.Fatalf("%d of %d connected (%v)", cs.Connected, clients, err)
			}
			if cs.RecvPeak > budget || cs.RecvBudget != budget {
				t.Fatalf("the connections held up to %d bytes for incoming messages, budget %d (reported %d)", cs.RecvPeak, budget, cs.RecvBudget)
			}
			// A connection holding its 2 MiB within the budget stays: at most budget/2 MiB.
			if got := cs.DisconnectCauses[tc.cause]; got < clients-budget/(2<<20) || got != cs.Disconnects {
				t.Fatalf("disconnects %d, by cause %v: want at least %d, every one %q", cs.Disconnects, cs.DisconnectCauses, clients-budget/(2<<20), tc.cause)
			}
			t.Logf("peak %d bytes of %d; causes %v", cs.RecvPeak, budget, cs.DisconnectCauses)
		})
	}
}
