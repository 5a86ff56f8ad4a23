// Package prefetch asks the CPU to bring memory into its caches before it is read, without
// waiting for it: the loads a caller issues later then hit the cache. A prefetch never
// faults and changes nothing, so it may name memory past an object's end; on an
// architecture without an implementation here it does nothing.
package prefetch

import "unsafe"

// lineSize is the cache line assumed (x86-64 and most arm64 cores).
const lineSize = 64

// Lines prefetches the cache lines that hold the n bytes at p.
func Lines(p unsafe.Pointer, n uintptr) {
	if p == nil {
		return
	}
	lines(span(uintptr(p), n))
}

// span returns the first line's address and the number of lines that hold n bytes at p.
func span(p, n uintptr) (start, count uintptr) {
	if n == 0 {
		return 0, 0
	}
	start = p &^ (lineSize - 1)
	return start, (p + n - start + lineSize - 1) / lineSize
}

// Object prefetches the cache lines of *p (nil: nothing).
func Object[T any](p *T) {
	Lines(unsafe.Pointer(p), unsafe.Sizeof(*p))
}
