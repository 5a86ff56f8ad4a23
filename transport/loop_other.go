//go:build !linux

package transport

import "context"

// loopImpl is empty where Loops are not supported.
type loopImpl struct{}

func newLoopImpl(LoopOptions) (*loopImpl, error) { return nil, ErrNoLoop }

func (*loopImpl) close() error { return nil }

func dialLoop(context.Context, string, DialOptions) (Dealer, error) { return nil, ErrNoLoop }
