package transport

// The zmq4 implementation: a Dealer (zmq4_dealer.go) and a Router (zmq4_router.go) on
// github.com/go-zeromq/zmq4 sockets.
//
// zmq4 hides its connections: it does not say when one is made or lost, a DEALER's Send
// with no connection returns nil and drops the message, a ROUTER's Send to an unknown
// routing id returns nil and drops it, Recv has no timeout (zmq4 issue #37), frames have
// no size limit and a peer that never completes its handshake blocks the ROUTER's accept
// loop. To see what zmq4 does not show, every socket here dials and listens through a
// zmq4 transport of our own, the tap (zmq4_tap.go), which watches the bytes zmq4 reads
// with the native implementation's ZMTP code and reports each connection's handshake and
// end to the socket that owns it.

import (
	"io"
	"log"
	"runtime"

	"github.com/go-zeromq/zmq4"
)

// drainZMQ4 empties a closed zmq4 socket's receive queue. zmq4's per-connection reader
// goroutines send to that queue without watching the socket's context, so a reader
// holding a message when the queue is full would block for ever after Close. After
// Close, zmq4's Recv picks at random between the queue and the cancelled context, so the
// queue counts as empty only after many errors in a row, over a few scheduling rounds
// that let pending readers deliver.
func drainZMQ4(sock zmq4.Socket) {
	for round := 0; round < 3; round++ {
		for misses := 0; misses < 32; {
			if _, err := sock.Recv(); err != nil {
				misses++
			} else {
				misses, round = 0, 0
			}
		}
		runtime.Gosched()
	}
}

var zmq4DiscardLogger = log.New(io.Discard, "", 0)
