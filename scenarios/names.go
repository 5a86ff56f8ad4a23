package scenarios

import (
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
)

// NameKind is how a NameGen picks names.
type NameKind int

// The name generator kinds.
const (
	// NoName generates nothing: the request carries no such property (HARTBEAT,
	// FLUSHXXX, PRINTXXX, PERFMNCE).
	NoName NameKind = iota
	// Fixed always gives the same name, Value.
	Fixed
	// Sequential gives names 0, 1, …, N-1 and then starts again at 0. Without
	// PerClient the count is shared by all the clients of a NameSource, so N requests
	// across them all name N distinct names; with PerClient each client counts alone.
	Sequential
	// Uniform draws each name uniformly from the N names.
	Uniform
	// Zipf draws name k (k = 0 … N-1) with probability proportional to (k+1)^-S, so
	// a few names are hot and most are cold.
	Zipf
)

// String is the kind's name as written in a file ("fixed", "sequential", "uniform",
// "zipf"), or "none".
func (k NameKind) String() string {
	switch k {
	case Fixed:
		return "fixed"
	case Sequential:
		return "sequential"
	case Uniform:
		return "uniform"
	case Zipf:
		return "zipf"
	}
	return "none"
}

// NameGen describes how a request's group or channel names are made. A name is
//
//	Prefix [client "."] index    for Sequential, Uniform and Zipf
//	[client "."] Value           for Fixed
//
// where client is the client number (only when PerClient is set) and index the decimal
// name number, 0 … N-1. A name shorter than Length is padded: with '0's before the index
// (keeping generated names distinct and sortable), or with '_'s after a fixed name. A
// name is never cut short of its natural length.
type NameGen struct {
	Kind      NameKind
	Value     string  // the name, for Fixed
	N         uint64  // how many names (per client when PerClient), for Sequential, Uniform, Zipf
	S         float64 // the Zipf exponent, > 1 (math/rand's Zipf needs it; default DefaultZipfS); 0 for other kinds
	Prefix    string  // put before generated names; default DefaultGroup or DefaultChannel
	PerClient bool    // put the client number in the name, so clients never share names
	Length    int     // pad names to at least this many bytes (the request's name_length)
	// Stream tells this generator's random stream apart from the other generators of
	// the scenario drawn from the same seed; Parse sets it from the field's path.
	Stream uint64
}

// MaxLen is the length in bytes of the longest name g gives to clients numbered below
// clients.
func (g NameGen) MaxLen(clients int) int {
	n := 0
	if g.PerClient {
		n = decimalLen(uint64(max(clients-1, 0))) + 1
	}
	switch g.Kind {
	case NoName:
		return 0
	case Fixed:
		n += len(g.Value)
	default:
		n += len(g.Prefix) + decimalLen(g.N-1)
	}
	return max(n, g.Length)
}

// NameSource holds what the clients of one stage share for one generator: the seed and,
// for a Sequential generator without PerClient, the common count. Make one per generator
// per stage with Source, and a Namer per client with Namer.
type NameSource struct {
	gen  NameGen
	seed int64
	next atomic.Uint64
}

// Source starts the names of g for a run with the given seed.
func (g NameGen) Source(seed int64) *NameSource {
	return &NameSource{gen: g, seed: seed}
}

// Namer gives the names of one client. A Namer is not safe for concurrent use: give each
// client goroutine its own. For the same seed, generator and client it gives the same
// names in the same order (for a shared Sequential count, the same set of names).
func (s *NameSource) Namer(client int) *Namer {
	g := s.gen
	n := &Namer{kind: g.Kind, n: g.N, pad: g.Length}
	var head []byte
	if g.Kind != Fixed {
		head = append(head, g.Prefix...)
	}
	if g.PerClient {
		head = strconv.AppendInt(head, int64(client), 10)
		head = append(head, '.')
	}
	n.head = len(head)
	switch g.Kind {
	case NoName:
		return n
	case Fixed:
		name := append(head, g.Value...)
		for len(name) < g.Length {
			name = append(name, '_')
		}
		n.buf = name
		return n
	case Sequential:
		if g.PerClient {
			n.counter = new(atomic.Uint64)
		} else {
			n.counter, n.shared = &s.next, true
		}
	case Uniform, Zipf:
		n.rng = rand.New(rand.NewPCG(mix64(uint64(s.seed)^mix64(g.Stream)), mix64(uint64(client)+0x9e3779b97f4a7c15)))
		if g.Kind == Zipf {
			n.zipf = rand.NewZipf(n.rng, g.S, 1, g.N-1)
		}
	}
	n.buf = make([]byte, len(head), max(g.Length, len(head)+20))
	copy(n.buf, head)
	return n
}

// Namer gives the names of one client, one per Next call.
type Namer struct {
	kind    NameKind
	n       uint64
	pad     int
	head    int // bytes of prefix and client number at the start of buf
	buf     []byte
	counter *atomic.Uint64
	shared  bool   // counter is the NameSource's, shared by its clients
	offset  uint64 // a sharded run's shard takes counts offset, offset+stride, …
	stride  uint64
	rng     *rand.Rand
	zipf    *rand.Zipf
}

// Next returns the next name. The slice is valid until the next call: it reuses one
// buffer, and Next does not allocate. It returns nil for a NoName generator.
func (n *Namer) Next() []byte {
	switch n.kind {
	case NoName:
		return nil
	case Fixed:
		return n.buf
	}
	return n.format(n.Index())
}

// Index returns the number of the next name (0 … N-1) without formatting it: what Next
// would name, for a caller that keeps its own names. It returns 0 for Fixed and NoName.
func (n *Namer) Index() uint64 {
	switch n.kind {
	case Sequential:
		k := n.counter.Add(1) - 1
		if n.stride > 1 {
			k = k*n.stride + n.offset
		}
		return k % n.n
	case Uniform:
		return n.rng.Uint64N(n.n)
	case Zipf:
		return n.zipf.Uint64()
	}
	return 0
}

// Shard makes a Namer that draws from a count shared by the stage's clients (Sequential
// without PerClient) take, as shard index of count, the names index, index+count, … of
// it, so that the shards of a sharded run together name what one run would. Other
// Namers are unchanged: their names are the client's own, or random draws that repeat
// anyway.
func (n *Namer) Shard(index, count int) {
	if n.shared && count > 1 && index >= 0 && index < count {
		n.offset, n.stride = uint64(index), uint64(count)
	}
}

// format writes name i into the buffer after the head, padded with '0's to n.pad.
func (n *Namer) format(i uint64) []byte {
	b := n.buf[:n.head]
	for k := n.head + decimalLen(i); k < n.pad; k++ {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, i, 10)
	n.buf = b
	return b
}

// decimalLen is the number of decimal digits of v.
func decimalLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// mix64 is SplitMix64's finaliser: it spreads the bits of x, so nearby seeds, streams and
// client numbers give unrelated random streams.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// streamOf derives a generator's Stream from its field path (FNV-1a).
func streamOf(path string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(path); i++ {
		h ^= uint64(path[i])
		h *= 1099511628211
	}
	return bits.RotateLeft64(h, 17)
}
