package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/dmbench/dmbench/transport"
)

func TestCauseOf(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)}
	}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("transport: peer closed the connection (%w)", io.EOF), CauseClosed},
		{fmt.Errorf("transport: read: %w", opErr(syscall.ECONNRESET)), CauseReset},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, CauseRefused},
		{opErr(syscall.EPIPE), CauseBrokenPipe},
		{opErr(syscall.EMFILE), CauseNoFDs},
		{opErr(syscall.EADDRNOTAVAIL), CauseNoPorts},
		{opErr(syscall.EHOSTUNREACH), CauseUnreachable},
		{fmt.Errorf("%w: 70000000 bytes", transport.ErrFrameTooLarge), CauseFrameTooBig},
		{fmt.Errorf("%w: not ZMTP", transport.ErrBadGreeting), CauseBadGreeting},
		{transport.ErrTruncated, CauseTruncated},
		{fmt.Errorf("%w: \x1b[31mgo away", transport.ErrPeerError), CausePeerError},
		{transport.ErrSlowPeer, CauseSlowPeer},
		{fmt.Errorf("%w: a message needs 9 MiB", transport.ErrRecvBudget), CauseRecvBudget},
		{context.DeadlineExceeded, CauseTimedOut},
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, CauseTimedOut},
		{errors.New("\x1b[2Ja server's own words"), CauseOther},
		{nil, CauseOther},
	}
	for _, tt := range tests {
		if got := causeOf(tt.err); got != tt.want {
			t.Errorf("causeOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
