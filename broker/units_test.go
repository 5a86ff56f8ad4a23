package broker

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmbench/dmbench/protocol"
)

func TestSignallingAddr(t *testing.T) {
	tests := []struct {
		base, signalling string
		err              string
	}{
		{"tcp://127.0.0.1:5556", "tcp://127.0.0.1:5557", ""},
		{"tcp://localhost:1", "tcp://localhost:2", ""},
		{"tcp://[::1]:5556", "tcp://[::1]:5557", ""},
		{"tcp://*:5556", "tcp://*:5557", ""},
		{"tcp://127.0.0.1:65535", "", "no signalling port"},
		{"127.0.0.1:5556", "", `want "tcp://host:port"`},
		{"tcp://127.0.0.1", "", `want "tcp://host:port"`},
		{"tcp://127.0.0.1:http", "", "not a number"},
		{"tcp://127.0.0.1:0", "", `base address "tcp://127.0.0.1:0": port 0 is not a server's port: give the port the broker listens on (DMB's default base is 5556)`},
		{"tcp://[::1]:0", "", "port 0 is not a server's port"},
		{"tcp://127.0.0.1:65536", "", "port 65536 is out of range: give a port in 1..65535"},
		{"tcp://127.0.0.1:-1", "", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			got, err := SignallingAddr(tt.base)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("SignallingAddr(%q) = %q, %v; want an error with %q", tt.base, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.signalling {
				t.Fatalf("SignallingAddr(%q) = %q, %v; want %q", tt.base, got, err, tt.signalling)
			}
			back, err := BaseAddr(got)
			if err != nil || back != tt.base {
				t.Errorf("BaseAddr(%q) = %q, %v; want %q", got, back, err, tt.base)
			}
		})
	}
	if _, err := BaseAddr("tcp://127.0.0.1:1"); err == nil {
		t.Error("BaseAddr of port 1 succeeded, want an error (no base port 0)")
	}
}

func TestCheckSignallingAddr(t *testing.T) {
	tests := []struct {
		addr string
		err  string // "" when valid
	}{
		{"tcp://127.0.0.1:5557", ""},
		{"tcp://[::1]:1", ""},
		{"tcp://localhost:65535", ""},
		{"tcp://127.0.0.1:0", `signalling address "tcp://127.0.0.1:0": port 0 is not a server's port: give the port the broker's signalling socket listens on (DMB's default is 5557, the base 5556 + 1)`},
		{"tcp://127.0.0.1:65536", "out of range: give a port in 1..65535"},
		{"tcp://127.0.0.1:x", "not a number"},
		{"127.0.0.1:5557", `want "tcp://host:port"`},
		{"tcp://127.0.0.1", `want "tcp://host:port"`},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := CheckSignallingAddr(tt.addr)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("CheckSignallingAddr(%q) = %v, want nil", tt.addr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("CheckSignallingAddr(%q) = %v, want an error with %q", tt.addr, err, tt.err)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		ok   bool
	}{{"", Reference, true}, {"reference", Reference, true}, {"dmb-0.2.1", DMB021, true}, {"0.2.1", "", false}}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFaultsParse(t *testing.T) {
	tests := []struct {
		in   string
		want Faults
		str  string
		err  string
	}{
		{"", Faults{}, "none", ""},
		{"none", Faults{}, "none", ""},
		{"pause=400ms/5s", Faults{Pause: 400 * time.Millisecond, PauseEvery: 5 * time.Second}, "pause=400ms/5s", ""},
		{"service=1ms,latency=2ms", Faults{ServiceTime: time.Millisecond, Latency: 2 * time.Millisecond}, "service=1ms latency=2ms", ""},
		{"drop-requests=0.01 drop-replies=0.5 seed=7", Faults{DropRequests: 0.01, DropReplies: 0.5, Seed: 7}, "drop-requests=0.01 drop-replies=0.5 seed=7", ""},
		{"stall", Faults{Stall: true}, "stall", ""},
		{"stall=false", Faults{}, "none", ""},
		{"seed=3", Faults{Seed: 3}, "seed=3", ""},
		{"pause=5s/400ms", Faults{}, "", "want 0 < length < period"},
		{"pause=400ms", Faults{}, "", "LENGTH/PERIOD"},
		{"latency=-1ms", Faults{}, "", "negative"},
		{"drop-requests=1.5", Faults{}, "", "fraction in 0..1"},
		{"drop-requests=NaN", Faults{}, "", "fraction in 0..1"},
		{"jitter=1ms", Faults{}, "", "unknown fault"},
		{"none=1", Faults{}, "", "no value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFaults(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseFaults(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFaults(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			if again, err := ParseFaults(got.String()); err != nil || again != got {
				t.Errorf("ParseFaults(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
	// Set accumulates, as a repeated flag does.
	var f Faults
	for _, s := range []string{"latency=1ms", "stall", "latency=3ms"} {
		if err := f.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if want := (Faults{Latency: 3 * time.Millisecond, Stall: true}); f != want {
		t.Errorf("after three Sets: %+v, want %+v", f, want)
	}
	if err := f.Set("bogus"); err == nil || f.Latency != 3*time.Millisecond {
		t.Errorf("a failed Set returned %v and left %+v, want an error and no change", err, f)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"mode", Config{Compat: "dmb-9"}, "unknown"},
		{"faults", Config{Faults: Faults{Pause: time.Second}}, "period"},
		{"address", Config{Addr: "udp://127.0.0.1:0"}, "listen on udp://127.0.0.1:0"},
		{"transport", Config{Transport: "carrier-pigeon"}, "unknown"},
		{"interval", Config{ExpiryInterval: -time.Second}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Start succeeded, want an error with %q", tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q, want it to contain %q", err, tt.err)
			}
		})
	}
}

func TestNumCommands(t *testing.T) {
	if len(protocol.Commands) != numCommands {
		t.Fatalf("protocol has %d commands, broker counts %d: update numCommands", len(protocol.Commands), numCommands)
	}
	var st stats
	for i, c := range protocol.Commands {
		if want := &st.cmds[i]; c != protocol.Performance && st.of(c) != want {
			t.Errorf("counters of %s are not slot %d", c, i)
		}
	}
	if st.of("XYZ") != &st.cmds[slotUnknown] || st.of(protocol.Performance) != &st.reports {
		t.Error("unknown commands or PERFMNCE counted in the wrong place")
	}
}

// checkHeap verifies the heap invariant and every member's index.
func checkHeap(t *testing.T, s *store) {
	t.Helper()
	for i, m := range s.heap {
		if m.index != i {
			t.Fatalf("heap[%d] has index %d", i, m.index)
		}
		if p := (i - 1) / 2; i > 0 && s.heap[p].expires > m.expires {
			t.Fatalf("heap[%d] = %d below its parent %d", i, m.expires, s.heap[p].expires)
		}
	}
	n := 0
	for _, g := range s.groups {
		n += len(g.members)
		if len(g.members) == 0 && !s.compat {
			t.Fatalf("empty group %q kept", g.name)
		}
	}
	if n != s.memberships || (!s.compat && n != len(s.heap)) {
		t.Fatalf("%d members in groups, memberships %d, heap %d", n, s.memberships, len(s.heap))
	}
}

// TestStoreHeap drives the reference store with random adds, re-adds, discards and
// expiries against a plain map model.
func TestStoreHeap(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			s := newStore(false)
			model := map[[2]string]int64{}
			var now int64
			for range 5000 {
				g, c := fmt.Sprint("g", rng.IntN(30)), fmt.Sprint("c", rng.IntN(10))
				switch op := rng.IntN(10); {
				case op < 6:
					exp := now + 1 + rng.Int64N(100)
					s.add([]byte(g), []byte(c), exp)
					model[[2]string{g, c}] = exp
				case op < 8:
					s.discard([]byte(g), []byte(c))
					delete(model, [2]string{g, c})
				default:
					now += rng.Int64N(20)
					want := 0
					for k, exp := range model {
						if exp <= now {
							delete(model, k)
							want++
						}
					}
					if got := s.expire(now); got != want {
						t.Fatalf("expire(%d) removed %d, want %d", now, got, want)
					}
				}
				checkHeap(t, s)
			}
			if len(model) != s.memberships {
				t.Fatalf("store has %d memberships, model %d", s.memberships, len(model))
			}
			for k, exp := range model {
				if m := s.groups[k[0]].members[k[1]]; m == nil || m.expires != exp {
					t.Fatalf("%v: store has %+v, want expiry %d", k, m, exp)
				}
			}
		})
	}
}

func TestStoreWalk(t *testing.T) {
	s := newStore(true)
	s.add([]byte("g"), []byte("a"), 10)
	s.add([]byte("g"), []byte("b"), 20)
	s.add([]byte("h"), []byte("a"), 10)
	s.discard([]byte("new"), []byte("x"))
	tests := []struct {
		now             int64
		groups, members int
	}{{10, 3, 3}, {11, 3, 1}, {21, 3, 0}}
	for _, tt := range tests {
		if visited := s.walk(tt.now); visited != tt.groups || len(s.groups) != tt.groups || s.memberships != tt.members {
			t.Errorf("walk(%d): visited %d, %d groups, %d memberships; want %d, %d, %d",
				tt.now, visited, len(s.groups), s.memberships, tt.groups, tt.groups, tt.members)
		}
		if len(s.heap) != 0 {
			t.Fatal("compat store uses the heap")
		}
	}
}

func TestStorePrintBounded(t *testing.T) {
	tests := []struct {
		name          string
		groups, chans int
		limit         int
		want          []string
		maxLen        int
	}{
		{"all fit", 3, 2, 1 << 10, []string{"3 groups, 6 memberships", `"c0"`, "END GROUP STORE"}, 1 << 10},
		{"more groups", 1000, 1, 200, []string{"more groups", "END GROUP STORE"}, 400},
		{"one huge group", 1, 20000, 300, []string{"... (20000 channels)"}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(false)
			for g := range tt.groups {
				for c := range tt.chans {
					s.add([]byte(fmt.Sprint("g", g)), []byte(fmt.Sprint("c", c)), 1)
				}
			}
			var b bytes.Buffer
			if err := s.print(&b, tt.limit); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			if b.Len() > tt.maxLen {
				t.Errorf("output is %d bytes, want ≤ %d for a limit of %d", b.Len(), tt.maxLen, tt.limit)
			}
		})
	}
	if err := newStore(false).print(failingWriter{}, 10); err == nil {
		t.Error("print to a failing writer returned nil")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestDelayQueueOrder pushes replies with due times out of order: they are sent in due
// order (ties in push order), none before it is due, and the frames were copied.
func TestDelayQueueOrder(t *testing.T) {
	done := make(chan struct{})
	sent := make(chan string, 10)
	var sentAt []time.Time
	q := newDelayQueue(func(f [][]byte, _ replyTag) {
		sentAt = append(sentAt, time.Now())
		sent <- string(f[0])
	}, done)
	finished := make(chan struct{})
	go func() { q.run(); close(finished) }()
	base := time.Now()
	offsets := []struct {
		name string
		d    time.Duration
	}{{"c", 60 * time.Millisecond}, {"a", 20 * time.Millisecond}, {"b", 40 * time.Millisecond}, {"b2", 40 * time.Millisecond}, {"now", 0}}
	for _, o := range offsets {
		buf := []byte(o.name)
		q.push([][]byte{buf}, base.Add(o.d), replyTag{})
		copy(buf, "XXXX") // the queue must have copied the frame
	}
	var got []string
	for range offsets {
		got = append(got, <-sent)
	}
	close(done)
	<-finished
	if want := []string{"now", "a", "b", "b2", "c"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	due := map[string]time.Duration{}
	for _, o := range offsets {
		due[o.name] = o.d
	}
	for i, name := range got {
		if early := base.Add(due[name]).Sub(sentAt[i]); early > 0 {
			t.Errorf("%s sent %v before it was due", name, early)
		}
	}
	if q.len() != 0 {
		t.Errorf("%d replies left in the queue", q.len())
	}
}
