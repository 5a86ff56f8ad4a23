package broker

import (
	"context"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// TestZMQ4Dealer talks to the broker with github.com/go-zeromq/zmq4's own DEALER, not
// through package transport, so wire interoperability does not rest on our client code.
func TestZMQ4Dealer(t *testing.T) {
	tests := []struct {
		name  string
		mode  Mode
		cmd   protocol.Command
		props protocol.Properties
		want  protocol.Command
	}{
		{"groupadd", Reference, protocol.GroupAdd, protocol.Properties{GroupName: []byte("g"), ChannelName: []byte("c"), Ack: true}, protocol.Complete},
		{"heartbeat", Reference, protocol.Heartbeat, protocol.Properties{Ack: true}, protocol.Heartbeat},
		{"perfmnce", Reference, protocol.Performance, protocol.Properties{Ack: true}, protocol.PerformanceReport},
		{"bad ttl", Reference, protocol.GroupAdd, protocol.Properties{GroupName: []byte("g"), ChannelName: []byte("c"), TTL: -1, Ack: true}, protocol.Exception},
		{"compat groupadd", DMB021, protocol.GroupAdd, protocol.Properties{GroupName: []byte("g"), ChannelName: []byte("c"), Ack: true}, protocol.Complete},
		{"compat perfmnce", DMB021, protocol.Performance, protocol.Properties{Ack: true}, protocol.Performance},
	}
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := startBroker(t, kind, Config{Compat: tt.mode})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				d := zmq4.NewDealer(ctx, zmq4.WithDialerTimeout(replyWait))
				defer d.Close()
				if err := d.Dial(s.Addr()); err != nil {
					t.Fatalf("zmq4 Dial %s: %v", s.Addr(), err)
				}
				req := protocol.Message{ID: []byte("0123456789abcdef"), Command: tt.cmd, Properties: tt.props}
				if err := d.Send(zmq4.NewMsgFrom(protocol.Encode(&req)...)); err != nil {
					t.Fatalf("zmq4 Send: %v", err)
				}
				got := make(chan zmq4.Msg, 1)
				go func() {
					msg, err := d.Recv()
					if err != nil {
						close(got)
						return
					}
					got <- msg
				}()
				var msg zmq4.Msg
				select {
				case m, ok := <-got:
					if !ok {
						t.Fatal("zmq4 Recv failed")
					}
					msg = m
				case <-time.After(replyWait):
					d.Close()
					<-got
					t.Fatalf("no reply within %v", replyWait)
				}
				var r protocol.Message
				if err := protocol.DecodeHeader(msg.Frames, &r); err != nil {
					t.Fatalf("reply %q: %v", msg.Frames, err)
				}
				if r.Command != tt.want || string(r.ID) != string(req.ID) || len(r.Envelope) != 0 {
					t.Fatalf("reply %s id %q envelope %q, want %s id %q", r.Command, r.ID, r.Envelope, tt.want, req.ID)
				}
				if tt.want == protocol.PerformanceReport {
					rep, err := protocol.DecodeReport(r.RawProperties)
					if err != nil || rep.Reports.Received != 1 {
						t.Errorf("PERFRPRT: %v, reports %+v", err, rep.Reports)
					}
				}
			})
		}
	})
}
