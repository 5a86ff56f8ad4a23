package broker

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
)

// store holds the groups: group name → channel name → expiry.
//
// Expiry is per membership, as in DMB: a (group, channel) pair expires ttl seconds after it
// was last added, and adding it again moves its expiry. In the reference mode every
// membership sits in a min-heap keyed by expiry, so expire removes exactly the due pairs
// in O(log n) each without looking at the rest, and a group with no channel left is
// deleted. In compat mode (DMB 0.2.1) there is no heap: walk visits every group and every
// channel, and groups stay in the store when they are emptied by GROUPDIS or expiry.
//
// A store is used by one goroutine at a time (the server's processing lock).
type store struct {
	compat      bool
	groups      map[string]*group
	heap        []*member // reference mode: min-heap on expires
	memberships int
}

type group struct {
	name    string
	members map[string]*member
}

// member is one (group, channel) pair.
type member struct {
	group   *group
	channel string
	expires int64 // Unix nanoseconds; math.MaxInt64 for beyond 2262
	index   int   // position in store.heap; -1 when not in it
}

func newStore(compat bool) *store {
	return &store{compat: compat, groups: make(map[string]*group)}
}

// add adds channel c to group g (creating it), or moves the pair's expiry when it is
// already there.
func (s *store) add(g, c []byte, expires int64) {
	gr := s.groups[string(g)]
	if gr == nil {
		gr = &group{name: string(g), members: make(map[string]*member, 1)}
		s.groups[gr.name] = gr
	}
	if m := gr.members[string(c)]; m != nil {
		m.expires = expires
		if m.index >= 0 {
			s.fix(m.index)
		}
		return
	}
	m := &member{group: gr, channel: string(c), expires: expires, index: -1}
	gr.members[m.channel] = m
	s.memberships++
	if !s.compat {
		s.push(m)
	}
}

// discard removes channel c from group g. In compat mode it creates g, empty, when g does
// not exist, as DMB 0.2.1 does; in the reference mode an emptied group is deleted.
func (s *store) discard(g, c []byte) {
	gr := s.groups[string(g)]
	if gr == nil {
		if s.compat {
			s.groups[string(g)] = &group{name: string(g), members: make(map[string]*member)}
		}
		return
	}
	if m := gr.members[string(c)]; m != nil {
		s.remove(m)
	}
}

// remove takes m out of its group and the heap, deleting the group when it is left empty
// (reference mode).
func (s *store) remove(m *member) {
	gr := m.group
	delete(gr.members, m.channel)
	s.memberships--
	if m.index >= 0 {
		s.removeAt(m.index)
	}
	if len(gr.members) == 0 && !s.compat {
		delete(s.groups, gr.name)
	}
}

// flush empties the store.
func (s *store) flush() {
	s.groups = make(map[string]*group)
	s.heap = nil
	s.memberships = 0
}

// expire removes the memberships due at now (expires <= now) from the heap; it does not
// look at any other entry. It returns how many it removed.
func (s *store) expire(now int64) int {
	n := 0
	for len(s.heap) > 0 && s.heap[0].expires <= now {
		s.remove(s.heap[0])
		n++
	}
	return n
}

// nextExpiry returns the earliest expiry in the heap, or math.MaxInt64 when it is empty.
func (s *store) nextExpiry() int64 {
	if len(s.heap) == 0 {
		return math.MaxInt64
	}
	return s.heap[0].expires
}

// walk is DMB 0.2.1's expiry: it visits every group and removes each channel whose expiry
// has passed (now > expires), leaving emptied groups in place. It returns how many groups
// it visited.
func (s *store) walk(now int64) int {
	for _, gr := range s.groups {
		for c, m := range gr.members {
			if now > m.expires {
				delete(gr.members, c)
				s.memberships--
			}
		}
	}
	return len(s.groups)
}

// print writes the store as text to w: a header, one line per group with its channels,
// then a footer. The group lines take at most limit bytes: the line that reaches the limit
// is cut and ends with "... (N channels)", and a "... N more groups" line counts the groups
// left out. Groups and channels come in no particular order.
func (s *store) print(w io.Writer, limit int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "--- GROUP STORE: %d groups, %d memberships ---\n", len(s.groups), s.memberships)
	written, printed := 0, 0
	var line []byte
	for _, gr := range s.groups {
		room := limit - written
		if room <= 0 {
			break
		}
		line = strconv.AppendQuote(line[:0], gr.name)
		line = append(line, ':')
		cut := false
		for c := range gr.members {
			if len(line) > room {
				break
			}
			line = append(line, ' ')
			line = strconv.AppendQuote(line, c)
		}
		if len(line) > room {
			line = append(line[:room], fmt.Sprintf(" ... (%d channels)", len(gr.members))...)
			cut = true
		}
		line = append(line, '\n')
		bw.Write(line)
		written += len(line)
		printed++
		if cut {
			break
		}
	}
	if more := len(s.groups) - printed; more > 0 {
		fmt.Fprintf(bw, "... %d more groups\n", more)
	}
	fmt.Fprintf(bw, "--- END GROUP STORE ---\n")
	return bw.Flush()
}

// The heap: a binary min-heap on member.expires with each member's index kept current.

func (s *store) push(m *member) {
	m.index = len(s.heap)
	s.heap = append(s.heap, m)
	s.up(m.index)
}

func (s *store) removeAt(i int) {
	last := len(s.heap) - 1
	m := s.heap[i]
	if i != last {
		s.swap(i, last)
	}
	s.heap[last] = nil
	s.heap = s.heap[:last]
	m.index = -1
	if i != last {
		s.fix(i)
	}
}

func (s *store) fix(i int) {
	if !s.down(i) {
		s.up(i)
	}
}

func (s *store) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.heap[i].index = i
	s.heap[j].index = j
}

func (s *store) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if s.heap[p].expires <= s.heap[i].expires {
			return
		}
		s.swap(i, p)
		i = p
	}
}

// down moves the entry at i down to its place and reports whether it moved.
func (s *store) down(i int) bool {
	start, n := i, len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s.heap[r].expires < s.heap[l].expires {
			c = r
		}
		if s.heap[i].expires <= s.heap[c].expires {
			break
		}
		s.swap(i, c)
		i = c
	}
	return i > start
}
