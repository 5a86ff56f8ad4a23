package loadgen

import (
	"slices"
	"testing"
)

// TestPendingTable puts, finds and takes requests across the inline slots and the map,
// in orders a client sees: one at a time, more outstanding than the slots hold, replies
// out of order, and the drain at the end.
func TestPendingTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		put    []uint64
		take   []uint64 // taken in this order after every put; each must be found
		left   []uint64 // what drain then returns, in any order
		absent []uint64 // never found
	}{
		{name: "one at a time", put: []uint64{0}, take: []uint64{0}, absent: []uint64{1}},
		{name: "seq 0 is not a free slot", put: []uint64{0, 1}, take: []uint64{1}, left: []uint64{0}},
		{name: "more than inline", put: []uint64{5, 6, 7, 8}, take: []uint64{8, 5}, left: []uint64{6, 7}, absent: []uint64{4, 9}},
		{name: "out of order", put: []uint64{1, 2, 3}, take: []uint64{3, 1, 2}},
		{name: "drain both", put: []uint64{10, 11, 12, 13, 14}, left: []uint64{10, 11, 12, 13, 14}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pt pendingTable
			for _, seq := range tc.put {
				pt.put(seq, pending{intended: int64(seq) * 10})
			}
			if n := pt.len(); n != len(tc.put) {
				t.Fatalf("len %d after %d puts", n, len(tc.put))
			}
			for _, seq := range tc.absent {
				if _, ok := pt.get(seq); ok {
					t.Errorf("get(%d) found a request never put", seq)
				}
				if _, ok := pt.take(seq); ok {
					t.Errorf("take(%d) found a request never put", seq)
				}
			}
			for _, seq := range tc.take {
				p, ok := pt.get(seq)
				if !ok || p.intended != int64(seq)*10 {
					t.Fatalf("get(%d) = %+v, %v", seq, p, ok)
				}
				if p, ok = pt.take(seq); !ok || p.intended != int64(seq)*10 {
					t.Fatalf("take(%d) = %+v, %v", seq, p, ok)
				}
				if _, ok := pt.take(seq); ok {
					t.Fatalf("take(%d) found it again", seq)
				}
			}
			var left []uint64
			pt.drain(func(seq uint64, p pending) {
				if p.intended != int64(seq)*10 {
					t.Errorf("drained %d with %+v", seq, p)
				}
				left = append(left, seq)
			})
			slices.Sort(left)
			if !slices.Equal(left, tc.left) {
				t.Errorf("drained %v, want %v", left, tc.left)
			}
			if n := pt.len(); n != 0 {
				t.Errorf("len %d after drain", n)
			}
			pt.put(99, pending{}) // the table is usable again
			if _, ok := pt.take(99); !ok {
				t.Error("a put after the drain was not found")
			}
		})
	}
}

// TestFifoInline queues past the inline array and back: entries come out in order.
func TestFifoInline(t *testing.T) {
	var f fifo
	for round := range 3 {
		n := 2 + round*5 // 2 fits inline; 7 and 12 do not
		for i := range n {
			f.push(fifoEntry{seq: uint64(i)})
		}
		for i := range n {
			if f.empty() || f.front().seq != uint64(i) {
				t.Fatalf("round %d: entry %d: empty %v", round, i, f.empty())
			}
			f.pop()
		}
		if !f.empty() {
			t.Fatalf("round %d: not empty after %d pops", round, n)
		}
	}
}
