package loadgen

import (
	"context"
	"errors"
)

// Run executes cfg.Plan against cfg.Addr and returns what it measured. It returns when the
// last stage ends and outstanding replies are drained, or soon after ctx ends, always with
// the results gathered so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	return nil, errors.New("loadgen: not implemented yet")
}
