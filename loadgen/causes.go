package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/dmbench/dmbench/transport"
)

// Why connections end or fail to start, as counted in ConnectionStats. The set is fixed,
// so that a hostile server cannot grow it or put its own words on the user's terminal.
const (
	CauseClosed      = "closed by the server"       // an orderly close (EOF)
	CauseReset       = "reset by the server"        // ECONNRESET
	CauseRefused     = "refused"                    // ECONNREFUSED: nothing listens there
	CauseBrokenPipe  = "broken pipe"                // EPIPE: written after the server closed
	CauseTimedOut    = "timed out"                  // connect or handshake took too long
	CauseFrameTooBig = "frame too large"            // the server sent a frame above the limit
	CauseBadGreeting = "bad ZMTP greeting"          // not a ZMTP 3 ROUTER with the NULL mechanism
	CauseTruncated   = "ended inside a frame"       // the stream stopped mid-frame
	CausePeerError   = "ZMTP ERROR from the server" // the server sent an ERROR command
	CauseNoFDs       = "out of file descriptors"    // EMFILE/ENFILE on this side
	CauseNoPorts     = "out of local ports"         // EADDRNOTAVAIL on this side
	CauseUnreachable = "network unreachable"        // ENETUNREACH, EHOSTUNREACH
	CauseSlowPeer    = "server stopped reading"     // our writes stayed blocked
	CauseRecvBudget  = "receive budget exhausted"   // the server's messages took Config.RecvBudget
	CauseOther       = "other"                      // anything else
)

// causeOf sorts a connection error into one of the causes above.
func causeOf(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return CauseOther
	case errors.Is(err, io.EOF):
		return CauseClosed
	case errors.Is(err, syscall.ECONNRESET):
		return CauseReset
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused
	case errors.Is(err, syscall.EPIPE):
		return CauseBrokenPipe
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return CauseNoFDs
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return CauseNoPorts
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return CauseUnreachable
	case errors.Is(err, transport.ErrFrameTooLarge):
		return CauseFrameTooBig
	case errors.Is(err, transport.ErrRecvBudget):
		return CauseRecvBudget
	case errors.Is(err, transport.ErrBadGreeting):
		return CauseBadGreeting
	case errors.Is(err, transport.ErrTruncated):
		return CauseTruncated
	case errors.Is(err, transport.ErrPeerError):
		return CausePeerError
	case errors.Is(err, transport.ErrSlowPeer):
		return CauseSlowPeer
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return CauseTimedOut
	}
	return CauseOther
}
