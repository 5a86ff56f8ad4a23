package scenarios

import (
	"github.com/dmbench/dmbench/loadgen"

	"fmt"
	"math"
	"testing"
)

// names draws n names from one client's Namer.
func names(g NameGen, seed int64, client, n int) []string {
	nm := g.Source(seed).Namer(client)
	out := make([]string, n)
	for i := range out {
		out[i] = string(nm.Next())
	}
	return out
}

func TestNamerFormat(t *testing.T) {
	tests := []struct {
		name   string
		gen    NameGen
		client int
		want   []string
	}{
		{"sequential wraps at N", NameGen{Kind: Sequential, N: 3, Prefix: "g"}, 0, []string{"g0", "g1", "g2", "g0", "g1"}},
		{"per client puts the client number first", NameGen{Kind: Sequential, N: 2, Prefix: "g", PerClient: true}, 7, []string{"g7.0", "g7.1", "g7.0"}},
		{"padded with zeros before the number", NameGen{Kind: Sequential, N: 20, Prefix: "g", Length: 6}, 0, []string{"g00000", "g00001"}},
		{"padding after the client number", NameGen{Kind: Sequential, N: 20, Prefix: "g", Length: 8, PerClient: true}, 12, []string{"g12.0000", "g12.0001"}},
		{"length shorter than the name cuts nothing", NameGen{Kind: Sequential, N: 20, Prefix: "group.", Length: 2}, 0, []string{"group.0"}},
		{"fixed", NameGen{Kind: Fixed, Value: "lobby"}, 3, []string{"lobby", "lobby"}},
		{"fixed per client", NameGen{Kind: Fixed, Value: "lobby", PerClient: true}, 3, []string{"3.lobby"}},
		{"fixed padded with underscores", NameGen{Kind: Fixed, Value: "ab", Length: 5}, 0, []string{"ab___"}},
		{"no name", NameGen{}, 0, []string{""}},
		{"zipf over one name", NameGen{Kind: Zipf, N: 1, S: 1.1, Prefix: "z"}, 0, []string{"z0", "z0"}},
		{"uniform over one name", NameGen{Kind: Uniform, N: 1, Prefix: "u"}, 0, []string{"u0", "u0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(tt.gen, 1, tt.client, len(tt.want))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("names = %q, want %q", got, tt.want)
			}
			for _, n := range got {
				if l := tt.gen.MaxLen(tt.client + 1); len(n) > l {
					t.Errorf("name %q is longer than MaxLen %d", n, l)
				}
			}
		})
	}
}

func TestMaxLen(t *testing.T) {
	tests := []struct {
		gen     NameGen
		clients int
		want    int
	}{
		{NameGen{Kind: Uniform, N: 1000, Prefix: "room."}, 1, 8},
		{NameGen{Kind: Uniform, N: 1000, Prefix: "room.", PerClient: true}, 64, 11},
		{NameGen{Kind: Fixed, Value: "abc", Length: 10}, 1, 10},
		{NameGen{Kind: Zipf, N: 1, Prefix: ""}, 1, 1},
		{NameGen{}, 10, 0},
	}
	for _, tt := range tests {
		if got := tt.gen.MaxLen(tt.clients); got != tt.want {
			t.Errorf("%+v.MaxLen(%d) = %d, want %d", tt.gen, tt.clients, got, tt.want)
		}
	}
}

// TestSequentialShared checks that clients of one NameSource share the count: N requests
// across them name each of the N names once.
func TestSequentialShared(t *testing.T) {
	src := NameGen{Kind: Sequential, N: 10, Prefix: "s"}.Source(1)
	a, b := src.Namer(0), src.Namer(1)
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		nm := a
		if i%3 == 0 {
			nm = b
		}
		seen[string(nm.Next())]++
	}
	if len(seen) != 10 {
		t.Errorf("10 requests named %d distinct names, want 10: %v", len(seen), seen)
	}
	if got := string(a.Next()); got != "s0" {
		t.Errorf("the 11th name = %q, want s0 (wrapped)", got)
	}
}

func TestUniformCovers(t *testing.T) {
	const n, draws = 100, 20000
	counts := map[string]int{}
	for _, name := range names(NameGen{Kind: Uniform, N: n, Prefix: "u"}, 1, 0, draws) {
		counts[name]++
	}
	if len(counts) != n {
		t.Fatalf("drew %d distinct names, want all %d", len(counts), n)
	}
	mean := float64(draws) / n
	sd := math.Sqrt(mean * (1 - 1.0/n))
	for name, c := range counts {
		if math.Abs(float64(c)-mean) > 5*sd {
			t.Errorf("%s drawn %d times, want %.0f ± %.0f", name, c, mean, 5*sd)
		}
	}
}

// TestZipfFrequencies checks the hottest names' shares against theory: name k (from 0)
// has probability (k+1)^-s / H(N, s), H(N, s) = Σ_{k=1..N} k^-s.
func TestZipfFrequencies(t *testing.T) {
	tests := []struct {
		n     uint64
		s     float64
		draws int
	}{
		{1000, 1.1, 200000},
		{100000, 1.1, 200000},
		{50, 2, 100000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("N=%d s=%g", tt.n, tt.s), func(t *testing.T) {
			h := 0.0
			for k := uint64(1); k <= tt.n; k++ {
				h += math.Pow(float64(k), -tt.s)
			}
			counts := map[string]int{}
			for _, name := range names(NameGen{Kind: Zipf, N: tt.n, S: tt.s, Prefix: "z"}, 42, 0, tt.draws) {
				counts[name]++
			}
			for k := 0; k < 3; k++ {
				p := math.Pow(float64(k+1), -tt.s) / h
				got := float64(counts[fmt.Sprintf("z%d", k)]) / float64(tt.draws)
				sd := math.Sqrt(p * (1 - p) / float64(tt.draws))
				if math.Abs(got-p) > 5*sd {
					t.Errorf("name %d share = %.4f, theory %.4f ± %.4f", k, got, p, 5*sd)
				}
			}
			for name := range counts {
				var i uint64
				if _, err := fmt.Sscanf(name, "z%d", &i); err != nil || i >= tt.n {
					t.Fatalf("name %q is outside z0 … z%d", name, tt.n-1)
				}
			}
		})
	}
}

func TestNamerDeterministic(t *testing.T) {
	for _, kind := range []NameKind{Uniform, Zipf} {
		g := NameGen{Kind: kind, N: 1000, S: 1.1, Prefix: "x", Stream: 5}
		a, b := fmt.Sprint(names(g, 1, 0, 50)), fmt.Sprint(names(g, 1, 0, 50))
		if a != b {
			t.Errorf("%v: same seed and client gave different names", kind)
		}
		if a == fmt.Sprint(names(g, 1, 1, 50)) {
			t.Errorf("%v: clients 0 and 1 drew the same names", kind)
		}
		if a == fmt.Sprint(names(g, 2, 0, 50)) {
			t.Errorf("%v: seeds 1 and 2 drew the same names", kind)
		}
		other := g
		other.Stream = 6
		if a == fmt.Sprint(names(other, 1, 0, 50)) {
			t.Errorf("%v: streams 5 and 6 drew the same names", kind)
		}
	}
}

func TestNamerDoesNotAllocate(t *testing.T) {
	gens := []NameGen{
		{Kind: Fixed, Value: "lobby", PerClient: true},
		{Kind: Sequential, N: 1e6, Prefix: "group.", Length: 24},
		{Kind: Sequential, N: 1e6, Prefix: "group.", PerClient: true},
		{Kind: Uniform, N: 1e6, Prefix: "group."},
		{Kind: Zipf, N: 1e6, S: 1.1, Prefix: "group.", Length: 64},
	}
	for _, g := range gens {
		nm := g.Source(1).Namer(3)
		if allocs := testing.AllocsPerRun(1000, func() { nm.Next() }); allocs != 0 {
			t.Errorf("%v: Next allocates %.1f times per call, want 0", g.Kind, allocs)
		}
	}
}

func BenchmarkNamerNext(b *testing.B) {
	gens := []NameGen{
		{Kind: Fixed, Value: "lobby"},
		{Kind: Sequential, N: 1e6, Prefix: "group."},
		{Kind: Uniform, N: 1e6, Prefix: "group.", PerClient: true},
		{Kind: Zipf, N: 100000, S: 1.1, Prefix: "group."},
		{Kind: Zipf, N: 100000, S: 1.1, Prefix: "group.", Length: 24},
	}
	for _, g := range gens {
		b.Run(fmt.Sprintf("%v/len=%d", g.Kind, g.Length), func(b *testing.B) {
			nm := g.Source(1).Namer(0)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += len(nm.Next())
			}
			b.ReportMetric(float64(n)/float64(b.N), "bytes/name")
		})
	}
}

// TestSequentialSharded: the shards of a sharded run, each with its own source (its own
// process), draw disjoint names from a shared sequential count, and together the names
// one run would; a per-client count is not strided (its names carry the client).
func TestSequentialSharded(t *testing.T) {
	const shards, perShard = 3, 7
	whole := map[string]bool{}
	one := NameGen{Kind: Sequential, N: 1000, Prefix: "g"}.Source(1).Namer(0)
	for range shards * perShard {
		whole[string(one.Next())] = true
	}
	union := map[string]int{}
	for i := range shards {
		n := NameGen{Kind: Sequential, N: 1000, Prefix: "g"}.Source(1).Namer(i)
		var ln loadgen.Namer = n
		sn, ok := ln.(loadgen.ShardedNamer)
		if !ok {
			t.Fatal("a scenario Namer is not a loadgen.ShardedNamer")
		}
		sn.Shard(i, shards)
		for range perShard {
			union[string(n.Next())]++
		}
	}
	for name, k := range union {
		if k != 1 || !whole[name] {
			t.Errorf("name %s drawn %d times, in the whole run's names: %v", name, k, whole[name])
		}
	}
	if len(union) != len(whole) {
		t.Errorf("the shards drew %d names, one run %d", len(union), len(whole))
	}
	pc := NameGen{Kind: Sequential, N: 1000, Prefix: "g", PerClient: true}.Source(1).Namer(4)
	pc.Shard(1, shards)
	if got := string(pc.Next()); got != "g4.0" {
		t.Errorf("a per-client count after Shard names %q first, want g4.0", got)
	}
}
