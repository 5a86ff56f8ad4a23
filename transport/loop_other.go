//go:build !linux

package transport

import (
	"context"
	"time"
)

// loopImpl is empty where Loops are not supported.
type loopImpl struct {
	epfd, evfd int
	stamped    bool
}

func newLoopImpl(LoopOptions) (*loopImpl, error) { return nil, ErrNoLoop }

func (*loopImpl) close() error { return nil }

func (*loopImpl) pollTime() time.Time { return time.Time{} }

func (*loopImpl) start() {}

func (*loopImpl) attachRing(int, bool) bool { return false }

func (*loopImpl) ringSleep(time.Duration, bool) (bool, bool) { return false, false }

func (*loopImpl) ringFlush() {}

func (*loopImpl) readStats() LoopReadStats { return LoopReadStats{} }

func dialLoop(context.Context, string, DialOptions) (Dealer, error) { return nil, ErrNoLoop }
