package minheap

import (
	"math/rand/v2"
	"testing"
)

// TestHeap: after random pushes, root moves and pops, the root is always the earliest
// entry, each entry keeps its value, and pops come out in order.
func TestHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Heap[int64] // each value is its entry's time, to check they travel together
	check := func(step string) {
		for i, en := range h {
			if en.At < h[0].At {
				t.Fatalf("%s: entry %d at %d before the root's %d", step, i, en.At, h[0].At)
			}
			if en.V != en.At {
				t.Fatalf("%s: entry %d at %d holds the value of %d", step, i, en.At, en.V)
			}
		}
	}
	for range 1000 {
		at := rng.Int64N(1e6)
		h.Push(at, at)
		check("push")
	}
	last := int64(-1)
	for len(h) > 0 {
		if rng.IntN(3) == 0 {
			en := h.PopRoot()
			if en.At < last {
				t.Fatalf("popped %d after %d", en.At, last)
			}
			last = en.At
			check("pop")
			continue
		}
		next := h[0].At + rng.Int64N(1e5)
		h[0].V = next
		h.FixRoot(next)
		check("fix")
	}
}
