package capacity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Verdict is what a step came to: a pass, or the first reason it failed, in the order
// Outcome.Verdict checks them.
type Verdict string

// The verdicts.
const (
	Pass           Verdict = "pass"
	Stall          Verdict = "stall"           // the server stopped replying for the stall threshold
	GeneratorBound Verdict = "generator-bound" // the generator could not hold the schedule
	ConnectionLost Verdict = "connections"     // a connection failed or was lost: the count did not hold
	Objective      Verdict = "objective"       // an objective was missed
)

// Outcome is what one step measured and how it fared.
type Outcome struct {
	AchievedPerS float64  `json:"achieved_per_s"` // OK replies per second of the measured window
	SentPerS     float64  `json:"sent_per_s"`
	P50US        int64    `json:"p50_us"` // corrected latency, all commands merged
	P99US        int64    `json:"p99_us"`
	Violations   []string `json:"violations,omitempty"` // the objectives missed, each with its value
	Stalled      string   `json:"stalled,omitempty"`    // why the step counts as stalled; "" when it did not
	Bound        string   `json:"generator_bound,omitempty"`
	Connections  string   `json:"connections,omitempty"` // how the connection count did not hold
	Dir          string   `json:"dir,omitempty"`         // the step's run folder
	// ServerLost and Interrupted end the search at once: there is nothing left to measure.
	ServerLost  bool `json:"server_lost,omitempty"`
	Interrupted bool `json:"interrupted,omitempty"`
}

// Verdict returns the step's verdict. A stall comes first (a server that stops is not a
// matter of load), then the generator's own limit (past it the figures measure dmbench),
// then the connection count, then the objectives.
func (o *Outcome) Verdict() Verdict {
	switch {
	case o.Stalled != "":
		return Stall
	case o.Bound != "":
		return GeneratorBound
	case o.Connections != "":
		return ConnectionLost
	case len(o.Violations) > 0:
		return Objective
	}
	return Pass
}

// Why says in a few words why the step failed; "" for a pass.
func (o *Outcome) Why() string {
	switch o.Verdict() {
	case Stall:
		return "stalled: " + o.Stalled
	case GeneratorBound:
		return "generator-bound: " + o.Bound
	case ConnectionLost:
		return "connections: " + o.Connections
	case Objective:
		return "missed " + joinComma(o.Violations)
	}
	return ""
}

// StepFunc runs one step at level (requests per second, or connections), with a measured
// window of window after the warm-up, and reports its outcome. An error ends the search.
type StepFunc func(ctx context.Context, level float64, window time.Duration) (Outcome, error)

// Config sets a search. The zero values of the optional fields take the defaults named.
type Config struct {
	Start     float64 // the first level tried; > 0
	Integer   bool    // levels are whole numbers (connections)
	Max       float64 // the highest level allowed; 0: no limit
	MaxReason string  // why Max is the limit, for the stop reason ("the file-descriptor limit ...")
	Unit      string  // written after a level in messages: "/s", " connections"
	Min       float64 // the lowest level tried when the start fails; default Start/64 (1 when Integer)

	Precision float64 // bisect until (fail − pass) ≤ Precision·pass; default 0.05
	Repeats   int     // how many more times the answer is run; default 2, < 0 for none

	// Each step takes Warmup + its window + Overhead (connecting, draining, writing).
	Warmup   time.Duration
	Overhead time.Duration
	// The measured window is max(MinWindow, Requests / rate) where rate is RatePerLevel·level:
	// long enough for Requests requests (see RequestsFor).
	MinWindow    time.Duration
	Requests     float64
	RatePerLevel float64 // default 1 (the level is a rate)

	Budget time.Duration    // the whole search ends within this; > 0
	Now    func() time.Time // the clock; default time.Now
	// OnStep, when set, is told of each step once it is done.
	OnStep func(Step)
}

// Phase names the part of the search a step belongs to.
type Phase string

// The phases.
const (
	Up     Phase = "up"     // doubling from the start (or halving when the start failed)
	Bisect Phase = "bisect" // between the last pass and the first fail
	Repeat Phase = "repeat" // the answer run again
)

// Step is one step of the search.
type Step struct {
	N       int           `json:"n"` // 1, 2, ... in the order run
	Phase   Phase         `json:"phase"`
	Level   float64       `json:"level"`
	Window  time.Duration `json:"window_ns"`
	Verdict Verdict       `json:"verdict"`
	Outcome
}

// StopKind is why the search stopped.
type StopKind string

// The reasons to stop.
const (
	StopPrecision   StopKind = "precision"       // the bisection narrowed to the precision: the next level up breaks an objective
	StopStall       StopKind = "stall"           // a step stalled
	StopGenerator   StopKind = "generator-bound" // the generator reached its own limit
	StopConnections StopKind = "connections"     // the connection count did not hold
	StopLimit       StopKind = "limit"           // Max was reached and held (Config.MaxReason)
	StopBudget      StopKind = "budget"          // the next step would not fit in the time left
	StopNoPass      StopKind = "no-pass"         // no level down to Min met the objectives
	StopServerLost  StopKind = "server-lost"
	StopInterrupted StopKind = "interrupted"
)

// Answer is what a search found.
type Answer struct {
	Level float64 `json:"level"` // the highest level that passed; 0 when none did
	// Fail is the lowest level that failed above Level, 0 when none did.
	Fail    float64  `json:"fail,omitempty"`
	Stop    StopKind `json:"stop"`
	Because string   `json:"because"` // the stop in words
	// Repeats are the runs of Level after the search, the first being the search's own.
	Repeats  []Step        `json:"repeats,omitempty"`
	Stable   bool          `json:"stable"` // every repeat passed
	Steps    []Step        `json:"steps"`
	Warnings []string      `json:"warnings,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Budget   time.Duration `json:"budget_ns"`
}

// RequestsFor returns how many requests a window needs to measure quantile q (0.99 for
// p99) with about 100 samples above it: 100/(1 − q). It is 0 for q ≤ 0 or q ≥ 1.
func RequestsFor(q float64) float64 {
	if q <= 0 || q >= 1 {
		return 0
	}
	return math.Ceil(100/(1-q) - 1e-6) // 1 − 0.9 is 0.0999...
}

// Window returns the measured window of a step at level.
func (c *Config) Window(level float64) time.Duration {
	w := c.MinWindow
	if r := c.ratePerLevel() * level; c.Requests > 0 && r > 0 {
		need := time.Duration(c.Requests / r * float64(time.Second))
		w = max(w, need.Round(time.Millisecond))
	}
	return w
}

// Cost is the time a step at level takes: warm-up, window and overhead.
func (c *Config) Cost(level float64) time.Duration {
	return c.Warmup + c.Window(level) + c.Overhead
}

func (c *Config) ratePerLevel() float64 {
	if c.RatePerLevel > 0 {
		return c.RatePerLevel
	}
	return 1
}

func (c *Config) check() error {
	switch {
	case !(c.Start > 0):
		return fmt.Errorf("start level %v: want above 0", c.Start)
	case c.Budget <= 0:
		return fmt.Errorf("budget %v: want above 0", c.Budget)
	case c.Precision < 0 || c.Precision >= 1:
		return fmt.Errorf("precision %v: want between 0 and 1 (0.05 is 5%%)", c.Precision)
	case c.Max > 0 && c.Max < c.Start:
		return fmt.Errorf("start %v is above the limit %v (%s)", c.Start, c.Max, c.MaxReason)
	}
	return nil
}

// search is one search's state.
type search struct {
	ctx   context.Context
	cfg   Config
	step  StepFunc
	start time.Time
	ans   Answer
	best  *Step // the highest pass so far
}

// Search runs the search and returns its answer. It returns an error only when cfg is
// unusable or step fails; the answer holds the steps run until then.
func Search(ctx context.Context, cfg Config, step StepFunc) (*Answer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Precision == 0 {
		cfg.Precision = 0.05
	}
	if cfg.Repeats == 0 {
		cfg.Repeats = 2
	}
	if cfg.Min <= 0 {
		cfg.Min = cfg.Start / 64
		if cfg.Integer {
			cfg.Min = 1
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &search{ctx: ctx, cfg: cfg, step: step, start: cfg.Now()}
	s.ans.Budget = cfg.Budget
	if first := cfg.Cost(cfg.Start); first > cfg.Budget {
		s.ans.Warnings = append(s.ans.Warnings, fmt.Sprintf("one step at the start level %s takes %v (a window of %v for %.0f requests), more than the budget of %v: "+
			"raise --budget, or ask for a lower percentile", FormatLevel(cfg.Start, cfg.Unit), first.Round(time.Millisecond), cfg.Window(cfg.Start), cfg.Requests, cfg.Budget))
	}
	err := s.run(ctx)
	s.ans.Elapsed = cfg.Now().Sub(s.start)
	return &s.ans, err
}

// errStop ends the search with the answer's stop already set.
var errStop = errors.New("stop")

func (s *search) run(ctx context.Context) error {
	lo, hi := 0.0, 0.0 // the highest pass, the lowest fail above it (0: none yet)
	var fail *Step
	// Up: double from the start until a step fails (or halve until one passes).
	level := s.cfg.Start
	for {
		st, err := s.try(ctx, Up, level)
		if err != nil {
			return s.end(err)
		}
		if st.Verdict == Pass {
			lo = level
			if hi > 0 { // came down by halving: the level above failed
				break
			}
			if s.cfg.Max > 0 && level >= s.cfg.Max {
				return s.end(s.stop(StopLimit, fmt.Sprintf("it reached %s, the limit: %s", s.fmt(level), s.cfg.MaxReason)))
			}
			level = s.round(level * 2)
			if s.cfg.Max > 0 {
				level = min(level, s.cfg.Max)
			}
			continue
		}
		if err := s.hardStop(st, fail); err != nil {
			return s.end(err)
		}
		hi, fail = level, st
		if lo > 0 {
			break
		}
		next := s.round(level / 2)
		if next < s.cfg.Min || next >= level {
			return s.end(s.stop(StopNoPass, fmt.Sprintf("no level down to %s met the objectives: at %s it %s", s.fmt(level), s.fmt(level), st.Why())))
		}
		level = next
	}
	// Bisect between the last pass and the first fail.
	for hi-lo > s.cfg.Precision*lo {
		mid := s.round((lo + hi) / 2)
		if mid <= lo || mid >= hi {
			break
		}
		st, err := s.try(ctx, Bisect, mid)
		if err != nil {
			return s.end(err)
		}
		if st.Verdict == Pass {
			lo = mid
			continue
		}
		if err := s.hardStop(st, fail); err != nil {
			return s.end(err)
		}
		hi, fail = mid, st
	}
	s.ans.Fail = hi
	because := fmt.Sprintf("the bisection narrowed to %s (precision %g%%): at %s it %s", s.fmt(hi-lo), s.cfg.Precision*100, s.fmt(hi), fail.Why())
	s.setStop(StopPrecision, because)
	return s.end(s.repeat(ctx))
}

// try runs one step if it fits in the budget. A step the generator was bound in is run
// once more before it counts: a generator that shares its cores with other work is late
// now and then, and that is not this level's doing.
func (s *search) try(ctx context.Context, phase Phase, level float64) (*Step, error) {
	st, err := s.try1(ctx, phase, level)
	if err != nil || st.Verdict != GeneratorBound || phase == Repeat {
		return st, err
	}
	return s.try1(ctx, phase, level)
}

// try1 runs one step if it fits in the budget.
func (s *search) try1(ctx context.Context, phase Phase, level float64) (*Step, error) {
	if err := ctx.Err(); err != nil {
		s.setStop(StopInterrupted, "it was interrupted")
		return nil, errStop
	}
	left := s.cfg.Budget - s.cfg.Now().Sub(s.start)
	if cost := s.cfg.Cost(level); cost > left {
		if phase == Repeat {
			return nil, errBudgetRepeat
		}
		s.setStop(StopBudget, fmt.Sprintf("the time budget (%v) was spent: a step at %s takes about %v and %v was left", s.cfg.Budget, s.fmt(level), cost.Round(time.Millisecond), max(left, 0).Round(time.Millisecond)))
		return nil, errStop
	}
	w := s.cfg.Window(level)
	o, err := s.step(ctx, level, w)
	if err != nil {
		return nil, fmt.Errorf("step at %s: %w", s.fmt(level), err)
	}
	st := Step{N: len(s.ans.Steps) + 1, Phase: phase, Level: level, Window: w, Outcome: o}
	st.Verdict = o.Verdict()
	s.ans.Steps = append(s.ans.Steps, st)
	if s.cfg.OnStep != nil {
		s.cfg.OnStep(st)
	}
	p := &s.ans.Steps[len(s.ans.Steps)-1]
	switch {
	case o.Interrupted:
		s.setStop(StopInterrupted, "it was interrupted")
		return nil, errStop
	case o.ServerLost:
		s.setStop(StopServerLost, fmt.Sprintf("the server was lost at %s", s.fmt(level)))
		return nil, errStop
	}
	if st.Verdict == Pass && (s.best == nil || level >= s.best.Level) && phase != Repeat {
		s.best = p
		s.ans.Level = level
	}
	return p, nil
}

var errBudgetRepeat = errors.New("no budget left to repeat")

// hardStop ends the search on a failure that is not the objectives': going on would not
// measure the server's capacity. A stall at the first level is tried once more at a
// quarter of it, to show it is not a matter of load.
func (s *search) hardStop(st, prevFail *Step) error {
	switch st.Verdict {
	case Stall:
		if s.best == nil && (prevFail == nil || prevFail.Verdict != Stall) {
			return nil // halve once: is the stall a matter of load?
		}
		tried := s.fmt(st.Level)
		if s.best == nil && prevFail != nil && prevFail.Verdict == Stall {
			tried = s.fmt(prevFail.Level) + " and " + tried
			return s.stop(StopStall, fmt.Sprintf("the server stalled at every level tried (%s), so it is not a matter of load: %s", tried, st.Stalled))
		}
		return s.stop(StopStall, fmt.Sprintf("the server stalled at %s: %s", tried, st.Stalled))
	case GeneratorBound:
		return s.stop(StopGenerator, fmt.Sprintf("the generator could not hold %s (%s): past it the figures measure dmbench, not the server; "+
			"run more dmbench processes or machines, or the broker apart (dmbench serve)", s.fmt(st.Level), st.Bound))
	case ConnectionLost:
		return s.stop(StopConnections, fmt.Sprintf("the connection count did not hold at %s: %s", s.fmt(st.Level), st.Connections))
	}
	return nil
}

// repeat runs the answer again to say how stable it is.
func (s *search) repeat(ctx context.Context) error {
	if s.best == nil {
		return nil
	}
	s.ans.Repeats = []Step{*s.best}
	s.ans.Stable = true
	for i := 0; i < s.cfg.Repeats; i++ {
		st, err := s.try(ctx, Repeat, s.best.Level)
		if errors.Is(err, errBudgetRepeat) {
			s.ans.Warnings = append(s.ans.Warnings, fmt.Sprintf("the budget left no time to repeat the answer more than %d time(s)", i))
			return nil
		}
		if err != nil {
			return err
		}
		s.ans.Repeats = append(s.ans.Repeats, *st)
		if st.Verdict != Pass {
			s.ans.Stable = false
		}
	}
	return nil
}

// stop sets the answer's stop and returns errStop.
func (s *search) stop(kind StopKind, because string) error {
	s.setStop(kind, because)
	return errStop
}

func (s *search) setStop(kind StopKind, because string) {
	s.ans.Stop, s.ans.Because = kind, because
}

// end finishes the search: the answer after a stop, the repeats of the best level when
// the stop left time for them.
func (s *search) end(err error) error {
	if errors.Is(err, errStop) {
		if s.ans.Stop != StopInterrupted && s.ans.Stop != StopServerLost && s.ans.Repeats == nil {
			if rerr := s.repeat(s.ctx); rerr != nil && !errors.Is(rerr, errStop) {
				return rerr
			}
		}
		return nil
	}
	return err
}

func (s *search) round(x float64) float64 {
	if s.cfg.Integer {
		return math.Round(x)
	}
	// Rates to three significant figures: 1234.5 → 1230.
	if x <= 0 {
		return x
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-2)
	return math.Round(x/p) * p
}

// fmt writes a level for messages: a rate or a count, with its unit.
func (s *search) fmt(x float64) string {
	return FormatLevel(x, s.cfg.Unit)
}

// FormatLevel writes a level with its unit: "1230/s", "96 connections".
func FormatLevel(x float64, unit string) string {
	if x >= 100 || x == math.Trunc(x) {
		return fmt.Sprintf("%.0f%s", x, unit)
	}
	return fmt.Sprintf("%.3g%s", x, unit)
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}
