//go:build !linux

package loadgen

import "time"

// schedWait is not available on this system; the CPU-starvation check is skipped.
func schedWait() (wait time.Duration, runs uint64, ok bool) { return 0, 0, false }
