package transport

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// TestNativeSendDirect: messages sent with SendDirect and Send, interleaved from one
// goroutine, arrive whole and in order, whether written on the caller's goroutine or
// queued behind the writer; after the server is gone SendDirect reports it.
func TestNativeSendDirect(t *testing.T) {
	leakCheck(t)
	r := testListen(t, Native, ListenOptions{})
	d := testDial(t, Native, r.Addr(), DialOptions{})
	ds, ok := d.(DirectSender)
	if !ok {
		t.Fatal("the native DEALER is not a DirectSender")
	}
	const n = 2000
	go func() {
		for i := 0; i < n; i++ {
			body := make([]byte, 8+i%300) // sizes vary, so some writes queue behind others
			binary.BigEndian.PutUint64(body, uint64(i))
			msg := [][]byte{{}, body}
			var err error
			if i%3 == 0 {
				err = d.Send(msg)
			} else {
				err = ds.SendDirect(msg)
			}
			if err != nil {
				t.Errorf("message %d: %v", i, err)
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		msg := routerRecv(t, r)
		if len(msg) != 3 || len(msg[1]) != 0 || len(msg[2]) != 8+i%300 {
			t.Fatalf("message %d arrived as %s", i, showFrames(msg))
		}
		if got := binary.BigEndian.Uint64(msg[2]); got != uint64(i) {
			t.Fatalf("message %d arrived as number %d: out of order", i, got)
		}
	}
	r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := ds.SendDirect([][]byte{{}, []byte("after")})
		if errors.Is(err, ErrDisconnected) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SendDirect to a closed server: %v, want ErrDisconnected", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
