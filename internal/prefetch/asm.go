//go:build amd64 || arm64

package prefetch

// lines prefetches n cache lines from start, a line's address (assembly).
func lines(start, n uintptr)
