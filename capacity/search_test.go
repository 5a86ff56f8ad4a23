package capacity

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fake is a server of known capacity, run on a fake clock: each step advances the clock
// by its warm-up, window and overhead.
type fake struct {
	now      time.Time
	cfg      *Config
	capacity float64 // the highest level that meets the objectives
	stallAt  float64 // levels at or above this stall; 0: never
	boundAt  float64 // levels at or above this are generator-bound; 0: never
	levels   []float64
}

func (f *fake) step(_ context.Context, level float64, window time.Duration) (Outcome, error) {
	f.levels = append(f.levels, level)
	f.now = f.now.Add(f.cfg.Warmup + window + f.cfg.Overhead)
	o := Outcome{AchievedPerS: level, P50US: 100, P99US: 500}
	switch {
	case f.stallAt > 0 && level >= f.stallAt:
		o.Stalled = "1 stall(s), the longest 400ms"
	case f.boundAt > 0 && level >= f.boundAt:
		o.Bound = "send delay p99 3ms"
	case level > f.capacity:
		o.P99US = 9000
		o.Violations = []string{"p99 = 9ms, want < 5ms"}
	}
	return o, nil
}

func newFake(cfg *Config, capacity float64) *fake {
	f := &fake{now: time.Unix(0, 0), cfg: cfg, capacity: capacity}
	cfg.Now = func() time.Time { return f.now }
	return f
}

func baseConfig() Config {
	return Config{Start: 1000, Unit: "/s", Warmup: time.Second, Overhead: 500 * time.Millisecond,
		MinWindow: 2 * time.Second, Requests: RequestsFor(0.99), Budget: 30 * time.Minute}
}

func TestSearchFindsThresholdWithinPrecision(t *testing.T) {
	for _, capacity := range []float64{3700, 1000, 999, 250, 123456} {
		cfg := baseConfig()
		f := newFake(&cfg, capacity)
		a, err := Search(context.Background(), cfg, f.step)
		if err != nil {
			t.Fatal(err)
		}
		if a.Stop != StopPrecision {
			t.Errorf("capacity %v: stopped for %s (%s), want %s", capacity, a.Stop, a.Because, StopPrecision)
		}
		if a.Level > capacity || a.Level < capacity*0.95 {
			t.Errorf("capacity %v: answer %v, want within 5%% below it (levels tried %v)", capacity, a.Level, f.levels)
		}
		if a.Fail <= capacity || a.Fail-a.Level > 0.05*a.Level*1.01 {
			t.Errorf("capacity %v: first fail %v above the answer %v: want just above the capacity, within 5%% of the answer", capacity, a.Fail, a.Level)
		}
		if len(a.Repeats) != 3 || !a.Stable {
			t.Errorf("capacity %v: %d runs of the answer, stable %v; want 3, stable", capacity, len(a.Repeats), a.Stable)
		}
		if !strings.Contains(a.Because, "p99 = 9ms") {
			t.Errorf("capacity %v: the stop does not name the objective broken: %s", capacity, a.Because)
		}
	}
}

func TestSearchStopsOnStall(t *testing.T) {
	cfg := baseConfig()
	f := newFake(&cfg, 1e9)
	f.stallAt = 4000
	a, err := Search(context.Background(), cfg, f.step)
	if err != nil {
		t.Fatal(err)
	}
	if a.Stop != StopStall || a.Level != 2000 || !strings.Contains(a.Because, "stalled at 4000/s") {
		t.Errorf("stop %s at %v (%s); want a stall, the answer 2000/s", a.Stop, a.Level, a.Because)
	}
	// A server that stalls whatever the rate: the search says so after one lower try.
	cfg = baseConfig()
	f = newFake(&cfg, 1e9)
	f.stallAt = 1
	a, err = Search(context.Background(), cfg, f.step)
	if err != nil {
		t.Fatal(err)
	}
	if a.Stop != StopStall || a.Level != 0 || !strings.Contains(a.Because, "every level tried") || len(f.levels) != 2 {
		t.Errorf("stop %s at %v after %v (%s); want a stall at every level after 2 steps, no answer", a.Stop, a.Level, f.levels, a.Because)
	}
}

func TestSearchStopsWhenGeneratorBound(t *testing.T) {
	cfg := baseConfig()
	f := newFake(&cfg, 1e9)
	f.boundAt = 5000
	a, err := Search(context.Background(), cfg, f.step)
	if err != nil {
		t.Fatal(err)
	}
	if a.Stop != StopGenerator || a.Level != 4000 || !strings.Contains(a.Because, "send delay p99 3ms") || len(f.levels) != 7 || f.levels[4] != 8000 {
		t.Errorf("stop %s at %v after %v (%s); want generator-bound twice at 8000/s, the answer 4000/s run twice more", a.Stop, a.Level, f.levels, a.Because)
	}
	// Bound once by chance: the step is run again, and the search goes on.
	cfg = baseConfig()
	f = newFake(&cfg, 3000)
	once := true
	a, err = Search(context.Background(), cfg, func(ctx context.Context, level float64, w time.Duration) (Outcome, error) {
		o, err := f.step(ctx, level, w)
		if level == 2000 && once {
			once, o.Bound = false, "a GC pause of 30ms"
		}
		return o, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Stop != StopPrecision || a.Level < 2850 {
		t.Errorf("after one bound step: stop %s at %v (%s); want the precision reached near 3000/s", a.Stop, a.Level, a.Because)
	}
}

// TestSearchEndsWithinBudget: whatever the budget, the steps run fit in it.
func TestSearchEndsWithinBudget(t *testing.T) {
	for _, budget := range []time.Duration{time.Second, 5 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute} {
		cfg := baseConfig()
		cfg.Budget = budget
		f := newFake(&cfg, 50_000)
		a, err := Search(context.Background(), cfg, f.step)
		if err != nil {
			t.Fatal(err)
		}
		if a.Elapsed > budget {
			t.Errorf("budget %v: the search took %v", budget, a.Elapsed)
		}
		if budget < time.Minute && (a.Stop != StopBudget || !strings.Contains(a.Because, "budget")) {
			t.Errorf("budget %v: stopped for %s (%s), want the budget", budget, a.Stop, a.Because)
		}
	}
	// A budget too small for one step of p99.9 at the start: warned.
	cfg := baseConfig()
	cfg.Requests = RequestsFor(0.999)
	cfg.Budget = 10 * time.Second
	f := newFake(&cfg, 50_000)
	a, err := Search(context.Background(), cfg, f.step)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.levels) != 0 || len(a.Warnings) == 0 || !strings.Contains(a.Warnings[0], "100000 requests") {
		t.Errorf("steps %v, warnings %q: want no step and a warning naming the window's 100000 requests", f.levels, a.Warnings)
	}
}

func TestSearchStopsAtLimit(t *testing.T) {
	cfg := baseConfig()
	cfg.Start, cfg.Integer, cfg.Max, cfg.MaxReason, cfg.Unit = 16, true, 96, "the file-descriptor limit 256", " connections"
	f := newFake(&cfg, 1e9)
	a, err := Search(context.Background(), cfg, f.step)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{16, 32, 64, 96, 96, 96}
	if a.Stop != StopLimit || a.Level != 96 || !strings.Contains(a.Because, "file-descriptor limit 256") || len(f.levels) != len(want) || f.levels[3] != 96 {
		t.Errorf("stop %q at %v after %v (%q); want the limit at 96 after %v", a.Stop, a.Level, f.levels, a.Because, want)
	}
}

func TestWindowHoldsEnoughRequests(t *testing.T) {
	cfg := baseConfig()
	for _, tt := range []struct {
		q     float64
		level float64
		want  time.Duration
	}{
		{0.99, 1000, 10 * time.Second},
		{0.99, 100_000, 2 * time.Second}, // MinWindow
		{0.9, 500, 2 * time.Second},
		{0.999, 10_000, 10 * time.Second},
		{0, 10, 2 * time.Second},
	} {
		cfg.Requests = RequestsFor(tt.q)
		if got := cfg.Window(tt.level); got != tt.want {
			t.Errorf("q %v at %v/s: window %v, want %v", tt.q, tt.level, got, tt.want)
		}
	}
}
