package transport

import (
	"context"
	"errors"
)

func dialNative(ctx context.Context, addr string, opts DialOptions) (Dealer, error) {
	return nil, errors.New("transport: native dealer not implemented yet")
}

func listenNative(addr string, opts ListenOptions) (Router, error) {
	return nil, errors.New("transport: native router not implemented yet")
}
