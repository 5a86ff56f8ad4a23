package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// TestCloseLeavesNoGoroutine starts brokers with every goroutine the broker can start (the
// expiry goroutine, the latency queue, the stall reader), closes them while requests are
// in flight, replies are queued and the processing goroutine is busy (a service time of an
// hour, which Close must interrupt, as it does the pause fault's sleep), and checks that no
// goroutine is left.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"reference", Config{}},
		{"compat", Config{Compat: DMB021, ExpiryInterval: time.Millisecond, WalkCost: time.Second}},
		{"latency", Config{Faults: Faults{Latency: time.Hour}}},
		{"stall", Config{Faults: Faults{Stall: true}}},
		{"service time", Config{Faults: Faults{ServiceTime: time.Hour}}},
	}
	forEachKind(t, func(t *testing.T, kind transport.Kind) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				cfg := tt.cfg
				cfg.Transport = kind
				s, err := Start(cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), replyWait)
				defer cancel()
				var dealers []transport.Dealer
				for range 3 {
					d, err := transport.Dial(ctx, kind, s.Addr(), transport.DialOptions{})
					if err != nil {
						t.Fatal(err)
					}
					dealers = append(dealers, d)
					for i := range 3 {
						m := protocol.Message{ID: []byte(fmt.Sprint(i)), Command: protocol.GroupAdd,
							Properties: protocol.Properties{GroupName: []byte("g"), ChannelName: []byte(fmt.Sprint(i)), Ack: true}}
						if err := d.Send(protocol.Encode(&m)); err != nil {
							t.Fatal(err)
						}
					}
				}
				time.Sleep(20 * time.Millisecond) // let the requests reach the broker
				done := make(chan error, 1)
				go func() { done <- s.Close() }()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Close: %v", err)
					}
				case <-time.After(replyWait):
					t.Fatalf("Close did not return within %v", replyWait)
				}
				for _, d := range dealers {
					d.Close()
				}
			})
		}
	})
}
