package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	nativePeers = flag.Int("native.peers", 1000,
		"DEALER connections in TestNativeRouterManyPeers (10000 for the full check; over about 8000 needs a build without -race, whose goroutine limit is 8128)")
	nativePeerSeconds = flag.Int("native.seconds", 2, "seconds of traffic, one message per connection per second, in TestNativeRouterManyPeers")
)

// nativePeersEnv carries the router's address to the child process that plays the clients.
const nativePeersEnv = "DMBENCH_NATIVE_PEERS_ADDR"

// TestNativeRouterManyPeers connects -native.peers DEALERs to one native ROUTER, each
// sending one message a second for -native.seconds seconds, and checks that every message
// is echoed back to the connection that sent it and that none is lost. The clients run in
// a child process (this test binary again), because the clients' and the router's sockets
// together would exceed a per-process file limit of 20,000 at 10,000 connections.
func TestNativeRouterManyPeers(t *testing.T) {
	if addr := os.Getenv(nativePeersEnv); addr != "" {
		nativePeersClients(t, addr, *nativePeers, *nativePeerSeconds)
		return
	}
	leakCheck(t)
	peers, seconds := *nativePeers, *nativePeerSeconds
	r, err := Listen(Native, "tcp://127.0.0.1:0", ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var echoed atomic.Int64
	done := echoLoop(r, func(err error) {
		if err == nil {
			echoed.Add(1)
		}
	})
	defer func() { r.Close(); <-done }()

	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(seconds)*time.Second+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestNativeRouterManyPeers$", "-test.count=1",
		fmt.Sprintf("-native.peers=%d", peers), fmt.Sprintf("-native.seconds=%d", seconds))
	cmd.Env = append(os.Environ(), nativePeersEnv+"="+r.Addr())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the client process: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	maxPeers := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var werr error
wait:
	for {
		select {
		case werr = <-waited:
			break wait
		case <-tick.C:
			maxPeers = max(maxPeers, r.Stats().Peers)
		}
	}
	if werr != nil || !strings.Contains(out.String(), "native-peers-ok") {
		t.Fatalf("client process: %v\n%s", werr, out.String())
	}
	st := r.Stats()
	want := int64(peers * seconds)
	if got := echoed.Load(); got != want {
		t.Errorf("router echoed %d messages, want %d", got, want)
	}
	if st.Accepted != uint64(peers) || maxPeers != peers || len(st.ConnErrors) != 0 {
		t.Errorf("stats %+v, at most %d peers at once; want %d accepted and connected at once, no errors", st, maxPeers, peers)
	}
	t.Logf("%d connections, %d messages each: %s", peers, seconds, strings.TrimSpace(nativeLastLine(out.String(), "native-peers-ok")))
}

func nativeLastLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, prefix); i >= 0 {
			return l[i:]
		}
	}
	return ""
}

// nativePeersClients is the child process's part: it opens every connection first, then
// has each send one message a second, spread evenly over the second, and checks replies.
func nativePeersClients(t *testing.T, addr string, peers, seconds int) {
	start := time.Now()
	dealers, err := dialMany(Native, addr, peers, DialOptions{ConnectTimeout: 30 * time.Second})
	connected := time.Since(start)
	defer closeDealers(dealers)
	if err != nil {
		t.Fatalf("connecting %d dealers: %v", peers, err)
	}
	var errMu sync.Mutex
	var firstErr error
	keep := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	var wg sync.WaitGroup

	var replies, failures atomic.Int64
	begin := time.Now().Add(100 * time.Millisecond)
	for i, d := range dealers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := time.Duration(i) * time.Second / time.Duration(peers)
			msg := [][]byte{{}, binary.BigEndian.AppendUint32(nil, uint32(i)), nil}
			for s := range seconds {
				time.Sleep(time.Until(begin.Add(offset + time.Duration(s)*time.Second)))
				msg[2] = binary.BigEndian.AppendUint32(msg[2][:0], uint32(s))
				err := d.Send(msg)
				var m [][]byte
				if err == nil {
					_ = d.SetRecvDeadline(time.Now().Add(20 * time.Second))
					m, err = d.Recv()
				}
				if err == nil && !framesEqual(m, msg) {
					err = fmt.Errorf("got %s, want %s", showFrames(m), showFrames(msg))
				}
				if err != nil {
					failures.Add(1)
					keep(fmt.Errorf("dealer %d, message %d: %w", i, s, err))
					return
				}
				replies.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d dealers failed; first: %v", n, peers, firstErr)
	}
	if got, want := replies.Load(), int64(peers*seconds); got != want {
		t.Fatalf("%d replies, want %d", got, want)
	}
	fmt.Printf("native-peers-ok: %d connections opened in %v; %d replies, all matched\n", peers, connected.Round(time.Millisecond), replies.Load())
}
