// Package minheap is a binary min-heap of values keyed by a time in ns, written out by
// hand for hot paths: container/heap would box each entry and compare through an
// interface. The keys sit inline in one array, so ordering it reads no entry's value.
package minheap

// Entry is a value due at At.
type Entry[V any] struct {
	At int64
	V  V
}

// Heap is a min-heap of entries by At; the zero value is empty. Only its root is ever
// changed or removed.
type Heap[V any] []Entry[V]

// Push adds v at at.
func (h *Heap[V]) Push(at int64, v V) {
	*h = append(*h, Entry[V]{At: at, V: v})
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].At <= a[i].At {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

// FixRoot moves the root, now due at at, to its place.
func (h Heap[V]) FixRoot(at int64) {
	h[0].At = at
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].At < h[m].At {
			m = l
		}
		if r < len(h) && h[r].At < h[m].At {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// PopRoot removes the root and returns it.
func (h *Heap[V]) PopRoot() Entry[V] {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = Entry[V]{}
	*h = a[:last]
	if last > 0 {
		h.FixRoot(a[0].At)
	}
	return top
}
