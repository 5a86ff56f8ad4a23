package prefetch

import (
	"testing"
	"unsafe"
)

func TestSpan(t *testing.T) {
	for _, tc := range []struct {
		name         string
		p, n         uintptr
		start, count uintptr
	}{
		{"nothing", 0x1000, 0, 0, 0},
		{"one byte", 0x1000, 1, 0x1000, 1},
		{"a whole line", 0x1000, 64, 0x1000, 1},
		{"one byte more", 0x1000, 65, 0x1000, 2},
		{"unaligned within a line", 0x1010, 48, 0x1000, 1},
		{"unaligned across a line", 0x1030, 32, 0x1000, 2},
		{"unaligned, three lines", 0x103f, 66, 0x1000, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, count := span(tc.p, tc.n)
			if start != tc.start || count != tc.count {
				t.Errorf("span(%#x, %d) = %#x, %d; want %#x, %d", tc.p, tc.n, start, count, tc.start, tc.count)
			}
		})
	}
}

// TestPrefetchChangesNothing prefetches real memory, past its end too, and nil: nothing
// faults and nothing is written.
func TestPrefetchChangesNothing(t *testing.T) {
	buf := make([]byte, 1000)
	for i := range buf {
		buf[i] = byte(i)
	}
	Lines(unsafe.Pointer(&buf[3]), 4096) // past the end: a prefetch never faults
	Lines(nil, 64)
	Object(&buf)
	Object[[64]byte](nil)
	for i := range buf {
		if buf[i] != byte(i) {
			t.Fatalf("byte %d changed to %d", i, buf[i])
		}
	}
}
