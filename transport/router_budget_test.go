package transport

// Tests of the native ROUTER's memory budget (ListenOptions.MaxRecvRetained and the
// rest): hostile peers that send large messages and never read hold the router to its
// caps, which Stats shows as gauges and peaks, while a peer that behaves is served.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// budgetPeer is a hand-written ZMTP DEALER that never reads after its handshake, with a
// small receive buffer so that the kernel holds little of what is sent to it.
type budgetPeer struct {
	conn net.Conn
}

// dialBudgetPeers connects n budgetPeers to addr and completes their handshakes; the
// test's cleanup closes them.
func dialBudgetPeers(t *testing.T, addr string, n int) []*budgetPeer {
	t.Helper()
	peers := make([]*budgetPeer, n)
	for i := range peers {
		p := nativeRawDial(t, addr)
		p.handshake("DEALER", "")
		if err := p.conn.(*net.TCPConn).SetReadBuffer(8 << 10); err != nil {
			t.Fatal(err)
		}
		peers[i] = &budgetPeer{conn: p.conn}
	}
	return peers
}

// flood writes msg count times (or until the connection fails) on its own goroutine,
// counting the messages written in sent.
func (p *budgetPeer) flood(wg *sync.WaitGroup, msg []byte, count int, sent *atomic.Int64) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range count {
			if _, err := p.conn.Write(msg); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
}

// budgetRequest is a DMB-like request with an id of idLen bytes, ZMTP-encoded, and its
// frames.
func budgetRequest(idLen int, seq uint32) ([]byte, [][]byte) {
	id := bytes.Repeat([]byte{'i'}, idLen)
	binary.BigEndian.PutUint32(id, seq)
	frames := [][]byte{{}, id, []byte("GROUPADD"), {0x81, 0xa3, 'a', 'c', 'k', 0xc3}}
	return zmtpAppendMessage(nil, frames), frames
}

// TestRouterBudgetHostilePeers connects 100 peers that send GROUPADD-sized requests with
// 60 KB ids and never read. While nobody consumes, every connection stops reading at its
// receive caps (TCP pushes back) and the retained bytes stay within the bounds
// ListenOptions states. Then the consumer echoes everything: replies to the peers that do
// not read fill their queues up to their half of the total send cap and the rest are
// dropped and counted, queued bytes stay within the send caps, and a well-behaved client
// alongside gets every reply, during the flood and while those queues are full. When the hostile peers
// are gone, every gauge comes back to zero (nothing leaks from the budget).
func TestRouterBudgetHostilePeers(t *testing.T) {
	leakCheck(t)
	const (
		peers    = 100
		idLen    = 60_000
		perPeer  = 24 // requests each hostile peer sends
		recvCap  = 256 << 10
		recvTot  = 2 << 20
		sendCap  = 256 << 10
		sendTot  = 8 << 20 // below every peer's cap together (25 MiB)
		goodRuns = 10
	)
	opts := ListenOptions{
		MaxRecvRetained: recvCap, MaxRecvRetainedTotal: recvTot,
		MaxSendQueued: sendCap, MaxSendQueuedTotal: sendTot,
		WriteTimeout: time.Minute, // the hostile peers are not cut off during the test
	}
	r := testListen(t, Native, opts)
	hostile := dialBudgetPeers(t, r.Addr(), peers)
	budgetSmallSendBuffers(t, r, peers)
	good := testDial(t, Native, r.Addr(), DialOptions{})

	wire, frames := budgetRequest(idLen, 0)
	replyLen := nativeEncodedLen(frames)
	// A message's footprint is its buffers' capacity (append may round a buffer up to
	// twice what it holds) plus its overhead; a connection may pass its cap by at most
	// that, the total by that per connection (ListenOptions).
	slack := 2*int64(len(wire)) + 64<<10
	var sent atomic.Int64
	var flooders sync.WaitGroup
	for _, p := range hostile {
		p.flood(&flooders, wire, perPeer, &sent)
	}
	t.Cleanup(func() {
		for _, p := range hostile {
			p.conn.Close()
		}
		flooders.Wait()
	})

	// Phase 1: no consumer. Every hostile connection reads up to its caps and stops.
	eventually(t, "every hostile connection pausing at its receive caps", func() bool {
		return r.Stats().RecvPauses >= peers
	})
	st := r.Stats()
	t.Logf("paused: retained %d B (peak %d, one connection's peak %d), %d of %d requests written",
		st.RetainedRecvBytes, st.PeakRetainedRecvBytes, st.PeakConnRecvBytes, sent.Load(), peers*perPeer)
	if max := int64(recvCap) + slack; st.PeakConnRecvBytes > max {
		t.Errorf("a connection retained %d B, above its cap %d + one message (%d)", st.PeakConnRecvBytes, recvCap, max)
	}
	if max := int64(recvTot) + (peers+1)*slack; st.PeakRetainedRecvBytes > max {
		t.Errorf("the router retained %d B, above the total cap %d + one message per connection (%d)", st.PeakRetainedRecvBytes, recvTot, max)
	}
	if st.RetainedRecvBytes > st.PeakRetainedRecvBytes || st.RetainedRecvBytes < recvTot {
		t.Errorf("retained %d B now, peak %d: want the total cap %d reached and within the peak", st.RetainedRecvBytes, st.PeakRetainedRecvBytes, recvTot)
	}

	// Phase 2: echo everything while the hostile peers go on sending and never read.
	var slowPeer atomic.Uint64
	echoed := echoLoop(r, func(err error) {
		if errors.Is(err, ErrSlowPeer) {
			slowPeer.Add(1)
		}
	})
	defer func() { r.Close(); <-echoed }()
	gd := nativeDealerClient{good}
	roundTrips := func(when string) {
		t.Helper()
		for i := range goodRuns {
			msg := [][]byte{{}, []byte(fmt.Sprintf("good %s %d", when, i)), []byte("HARTBEAT"), {0x80}}
			if err := gd.send(msg); err != nil {
				t.Fatalf("good client send %d %s: %v", i, when, err)
			}
			if got, err := gd.recv(); err != nil || !framesEqual(got, msg) {
				t.Fatalf("good client round trip %d %s: %s, %v", i, when, showFrames(got), err)
			}
		}
	}
	roundTrips("during the flood")
	// (The hostile peers may never finish writing: a peer that reads nothing can stall
	// its own sending in the kernel, once both directions' windows are shut.)
	eventually(t, "the queues of the peers that do not read filling their half of the total send cap", func() bool {
		return r.Stats().QueuedSendBytes >= sendTot/2-replyLen
	})
	roundTrips("with the send queues full")

	// The hostile peers leave: their queues are let go, and nothing is left counted.
	for _, p := range hostile {
		p.conn.Close()
	}
	waitWithin(t, "the hostile peers' writers ending", &flooders, 10*time.Second)
	eventually(t, "the hostile connections ending", func() bool { return r.Stats().Peers == 1 })
	eventually(t, "the budget's gauges back to zero", func() bool {
		st := r.Stats()
		return st.QueuedSendBytes == 0 && st.RetainedRecvBytes == 0
	})

	st = r.Stats()
	t.Logf("at the end: %+v", st)
	if st.SendDropped == 0 || st.SendDropped != slowPeer.Load() {
		t.Errorf("SendDropped %d, Send returned ErrSlowPeer %d times: want equal and > 0", st.SendDropped, slowPeer.Load())
	}
	if st.SendDroppedBytes != st.SendDropped*uint64(replyLen) {
		t.Errorf("SendDroppedBytes %d, want %d drops × %d B", st.SendDroppedBytes, st.SendDropped, replyLen)
	}
	if st.PeakConnSendBytes > sendCap {
		t.Errorf("a peer queued %d B, above its cap %d", st.PeakConnSendBytes, sendCap)
	}
	if st.PeakQueuedSendBytes > sendTot {
		t.Errorf("the router queued %d B, above the total cap %d", st.PeakQueuedSendBytes, sendTot)
	}
}

// TestRouterBudgetRecv sends one peer's messages to a router whose consumer waits: the
// connection stops reading at its cap (the peer's writes block: TCP pushes back), and
// reading resumes as the consumer releases messages, until every message has come
// through intact and in order. A message larger than the cap still gets through.
func TestRouterBudgetRecv(t *testing.T) {
	leakCheck(t)
	tests := []struct {
		name   string
		idLen  int
		count  int
		cap    int64
		paused bool // the connection must stop reading at least once
	}{
		{"60 KB messages, 256 KiB cap", 60_000, 300, 256 << 10, true},
		{"small messages count their overhead", 16, 5000, 64 << 10, true},
		{"a message above the cap gets through", 3 << 20, 3, 1 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testListen(t, Native, ListenOptions{MaxRecvRetained: tt.cap, MaxFrameSize: 8 << 20})
			p := dialBudgetPeers(t, r.Addr(), 1)[0]
			var sent atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range tt.count {
					wire, _ := budgetRequest(tt.idLen, uint32(i))
					if _, err := p.conn.Write(wire); err != nil {
						return
					}
					sent.Add(1)
				}
			}()
			defer wg.Wait()
			defer p.conn.Close()

			if tt.paused {
				eventually(t, "the connection pausing at its cap", func() bool { return r.Stats().RecvPauses > 0 })
			}
			_, frames := budgetRequest(tt.idLen, 0)
			msgLen := nativeEncodedLen(frames)
			slack := 2*msgLen + 64<<10
			st := r.Stats()
			if max := max(tt.cap, msgLen) + slack; st.PeakConnRecvBytes > max {
				t.Errorf("the connection retained %d B: want at most the cap %d or one message, + %d", st.PeakConnRecvBytes, tt.cap, slack)
			}
			for i := range tt.count {
				got := routerRecv(t, r)
				if len(got) != 5 || len(got[2]) != tt.idLen || binary.BigEndian.Uint32(got[2]) != uint32(i) {
					t.Fatalf("message %d: %s", i, showFrames(got))
				}
			}
			st = r.Stats()
			t.Logf("%d messages: %d pauses, peak %d B", tt.count, st.RecvPauses, st.PeakConnRecvBytes)
			if st.PeakConnRecvBytes > max(tt.cap, msgLen)+slack {
				t.Errorf("the connection retained %d B at its peak", st.PeakConnRecvBytes)
			}
			if st.PooledRecvBytes > min(nativeRouterPoolConn, tt.cap/4) {
				t.Errorf("the pool keeps %d B, above its bound", st.PooledRecvBytes)
			}
		})
	}
}

// TestRouterBudgetSend sends to peers that do not read, straight through Send: the
// per-peer and total caps refuse messages with ErrSlowPeer, count them, and the queued
// bytes never pass the caps; a message to a peer with an empty queue is taken whatever
// its size. PINGs from a peer that does not read get PONGs only up to its cap.
func TestRouterBudgetSend(t *testing.T) {
	leakCheck(t)
	tests := []struct {
		name           string
		peers          int
		msgLen         int
		peerCap, total int64
		wantPeak       func(st RouterStats, msg int64) error
	}{
		{"per-peer cap", 1, 10_000, 64 << 10, 1 << 20, func(st RouterStats, msg int64) error {
			if st.PeakConnSendBytes > 64<<10 {
				return fmt.Errorf("peer peak %d above 64 KiB", st.PeakConnSendBytes)
			}
			return nil
		}},
		{"total cap", 8, 10_000, 64 << 10, 128 << 10, func(st RouterStats, msg int64) error {
			if st.PeakQueuedSendBytes > 128<<10 {
				return fmt.Errorf("total peak %d above 128 KiB", st.PeakQueuedSendBytes)
			}
			return nil
		}},
		{"a message above the cap to an empty queue", 1, 200 << 10, 64 << 10, 1 << 20, func(st RouterStats, msg int64) error {
			if st.PeakConnSendBytes < msg || st.PeakConnSendBytes > msg {
				return fmt.Errorf("peer peak %d, want one message (%d)", st.PeakConnSendBytes, msg)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testListen(t, Native, ListenOptions{MaxSendQueued: tt.peerCap, MaxSendQueuedTotal: tt.total, WriteTimeout: time.Minute})
			ps := dialBudgetPeers(t, r.Addr(), tt.peers)
			budgetSmallSendBuffers(t, r, tt.peers)
			ids := budgetPeerIDs(t, r, tt.peers)
			body := bytes.Repeat([]byte{'r'}, tt.msgLen)
			msgLen := nativeEncodedLen([][]byte{{}, body})
			var refused uint64
			// Far more than the peers' kernel buffers and the caps can take.
			for range 400 {
				for _, id := range ids {
					err := r.Send([][]byte{id, {}, body})
					switch {
					case errors.Is(err, ErrSlowPeer):
						refused++
					case err != nil:
						t.Fatalf("send: %v", err)
					}
				}
			}
			st := r.Stats()
			t.Logf("%d refused; queued %d B now, peak %d, a peer's peak %d", refused, st.QueuedSendBytes, st.PeakQueuedSendBytes, st.PeakConnSendBytes)
			if refused == 0 || st.SendDropped != refused || st.SendDroppedBytes != refused*uint64(msgLen) {
				t.Errorf("Send refused %d; Stats count %d dropped, %d B (want %d B each)", refused, st.SendDropped, st.SendDroppedBytes, msgLen)
			}
			if err := tt.wantPeak(st, msgLen); err != nil {
				t.Error(err)
			}
			for _, p := range ps {
				p.conn.Close()
			}
			eventually(t, "the queues let go", func() bool { return r.Stats().QueuedSendBytes == 0 })
		})
	}

	t.Run("PING flood", func(t *testing.T) {
		r := testListen(t, Native, ListenOptions{MaxSendQueued: 16 << 10, WriteTimeout: time.Minute})
		p := dialBudgetPeers(t, r.Addr(), 1)[0]
		ping := []byte{0x04, 7, 4, 'P', 'I', 'N', 'G', 0, 0}
		pings := bytes.Repeat(ping, 1<<20) // 9 MiB of PINGs, 7 MiB of PONGs: above the kernel's buffers (4 MiB at most) and the cap
		budgetSmallSendBuffers(t, r, 1)
		written := make(chan struct{})
		go func() {
			defer close(written)
			_, _ = p.conn.Write(pings) // may never finish: see TestRouterBudgetHostilePeers
		}()
		eventually(t, "PONGs dropped at the cap", func() bool { return r.Stats().PongsDropped > 0 })
		p.conn.Close()
		<-written
		if st := r.Stats(); st.PeakConnSendBytes > 16<<10 || st.SendDropped != 0 {
			t.Errorf("peer peak %d B (cap 16 KiB), %d messages dropped", st.PeakConnSendBytes, st.SendDropped)
		}
	})
}

// budgetSmallSendBuffers waits for n peers to join r and gives the router's side of each
// connection a small, fixed send buffer, so that what the router sends to a peer that
// does not read stays in the router's queue instead of the kernel's autotuned buffers.
func budgetSmallSendBuffers(t *testing.T, r Router, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d peers joining", n), func() bool { return r.Stats().Peers >= n })
	nr := r.(*nativeRouter)
	nr.pmu.RLock()
	defer nr.pmu.RUnlock()
	for c := range nr.all {
		if err := c.conn.(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
			t.Fatal(err)
		}
	}
}

// budgetPeerIDs waits for n peers to join r and returns their routing ids, learnt from
// the router's own map.
func budgetPeerIDs(t *testing.T, r Router, n int) [][]byte {
	t.Helper()
	nr := r.(*nativeRouter)
	eventually(t, fmt.Sprintf("%d peers joining", n), func() bool { return r.Stats().Peers == n })
	nr.pmu.RLock()
	defer nr.pmu.RUnlock()
	var ids [][]byte
	for id := range nr.peers {
		ids = append(ids, []byte(id))
	}
	return ids
}

// waitWithin waits for wg, failing the test if that takes longer than d.
func waitWithin(t *testing.T, what string, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

// TestRouterBudgetDefaults checks that the zero ListenOptions get the documented caps.
func TestRouterBudgetDefaults(t *testing.T) {
	o := ListenOptions{}.withDefaults()
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"MaxRecvRetained", o.MaxRecvRetained, 4 << 20},
		{"MaxRecvRetainedTotal", o.MaxRecvRetainedTotal, 256 << 20},
		{"MaxSendQueued", o.MaxSendQueued, 4 << 20},
		{"MaxSendQueuedTotal", o.MaxSendQueuedTotal, 256 << 20},
	} {
		if c.got != c.want {
			t.Errorf("%s defaults to %d, want %d", c.name, c.got, c.want)
		}
	}
}
