package transport

import (
	"context"
	"errors"
)

func dialZMQ4(ctx context.Context, addr string, opts DialOptions) (Dealer, error) {
	return nil, errors.New("transport: zmq4 dealer not implemented yet")
}

func listenZMQ4(addr string, opts ListenOptions) (Router, error) {
	return nil, errors.New("transport: zmq4 router not implemented yet")
}
