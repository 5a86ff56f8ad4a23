//go:build !unix

package loadgen

// cpuTime is not available on this system; the CPU check of the self-watch is skipped.
func cpuTime() (float64, bool) { return 0, false }
