package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
	"github.com/dmbench/dmbench/transport"
)

// BenchmarkGroupAdd measures GROUPADD round trips with ack through the broker: a closed
// loop of D DEALERs with W requests in flight each, over 64 groups per DEALER (the store is
// warm, so the handler does not grow it). One op is one round trip; allocs/op counts the
// broker and the DEALERs together (same process). The rt/s metric is round trips per
// second of wall time.
//
//	go test -run '^$' -bench GroupAdd -benchtime 200000x ./broker/
func BenchmarkGroupAdd(b *testing.B) {
	const inFlight = 4
	for _, kind := range transport.Kinds {
		for _, dealers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/dealers=%d", kind, dealers), func(b *testing.B) {
				benchGroupAdd(b, kind, dealers, inFlight)
			})
		}
	}
}

func benchGroupAdd(b *testing.B, kind transport.Kind, dealers, inFlight int) {
	s := startBroker(b, kind, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	type dealer struct {
		d    transport.Dealer
		reqs [][][]byte // prebuilt requests, sent in turn
	}
	ds := make([]dealer, dealers)
	for i := range ds {
		d, err := transport.Dial(ctx, kind, s.Addr(), transport.DialOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		ds[i].d = d
		for g := range 64 {
			m := protocol.Message{ID: fmt.Appendf(nil, "%016d", i*64+g), Command: protocol.GroupAdd,
				Properties: protocol.Properties{GroupName: fmt.Appendf(nil, "bench-group-%d", g),
					ChannelName: fmt.Appendf(nil, "specific.abc!dealer%d", i), Ack: true}}
			ds[i].reqs = append(ds[i].reqs, protocol.Encode(&m))
		}
		// Warm the store and the connection.
		for _, r := range ds[i].reqs {
			if err := d.Send(r); err != nil {
				b.Fatal(err)
			}
			if _, err := d.Recv(); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Share b.N round trips among the DEALERs.
	share := func(i int) int { return b.N/dealers + btoi(i < b.N%dealers) }
	var wg sync.WaitGroup
	errs := make(chan error, dealers)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range ds {
		wg.Add(1)
		go func(dl dealer, n int) {
			defer wg.Done()
			sent, next := 0, 0
			send := func() error {
				err := dl.d.Send(dl.reqs[next])
				next = (next + 1) % len(dl.reqs)
				sent++
				return err
			}
			for sent < min(inFlight, n) {
				if err := send(); err != nil {
					errs <- err
					return
				}
			}
			for got := 0; got < n; got++ {
				if err := dl.d.SetRecvDeadline(time.Now().Add(replyWait)); err != nil {
					errs <- err
					return
				}
				frames, err := dl.d.Recv()
				if err != nil {
					errs <- fmt.Errorf("after %d of %d replies: %w", got, n, err)
					return
				}
				if len(frames) != 4 || string(frames[2]) != string(protocol.Complete) {
					errs <- fmt.Errorf("reply %q, want COMPLETE", frames)
					return
				}
				if sent < n {
					if err := send(); err != nil {
						errs <- err
						return
					}
				}
			}
		}(ds[i], share(i))
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rt/s")
	if got := s.Report().Commands["GROUPADD"].Completed; got < uint64(b.N) {
		b.Fatalf("broker completed %d GROUPADDs, want ≥ %d", got, b.N)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
