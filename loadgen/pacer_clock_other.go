//go:build !linux

package loadgen

import "time"

// newPacerClock returns Go's timers off Linux: waits under a millisecond may round up to
// one, which the send delay then shows.
func newPacerClock(base time.Time) (pacerClock, func(loop func())) {
	return newGoClock(base), func(loop func()) { loop() }
}
