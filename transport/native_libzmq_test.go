//go:build libzmq

package transport

import (
	"testing"
	"time"
)

// TestNativeRouterAnswersLibzmqHeartbeat connects a libzmq DEALER that sends a PING every
// 10 ms and hangs up when no PONG comes within 50 ms (ZMQ_HEARTBEAT_IVL and
// ZMQ_HEARTBEAT_TIMEOUT). The native ROUTER must keep that connection alive and usable.
// The libzmq DEALER is the C peer, built only with -tags libzmq (cpeer_test.go).
func TestNativeRouterAnswersLibzmqHeartbeat(t *testing.T) {
	leakCheck(t)
	r := testListen(t, Native, ListenOptions{})
	p := startCRelay(t, r.Addr(), "-H", "10", "-T", "50")
	eventually(t, "peer connected", func() bool { return r.Stats().Peers == 1 })
	time.Sleep(500 * time.Millisecond) // 50 heartbeats, 10 timeouts' worth
	if st := r.Stats(); st.Disconnected != 0 || st.Peers != 1 {
		t.Fatalf("after heartbeats: %d disconnects, %d peers; want 0 and 1 (PING not answered?)", st.Disconnected, st.Peers)
	}
	p.send(t, [][]byte{{}, []byte("ping-check")})
	m := routerRecv(t, r)
	if len(m) != 3 || string(m[2]) != "ping-check" {
		t.Fatalf("router got %s, want [id \"\" ping-check]", showFrames(m))
	}
	if err := r.Send(m); err != nil {
		t.Fatal(err)
	}
	if got := p.recv(t, 5*time.Second); len(got) != 2 || string(got[1]) != "ping-check" {
		t.Fatalf("libzmq DEALER got %s back", showFrames(got))
	}
}
