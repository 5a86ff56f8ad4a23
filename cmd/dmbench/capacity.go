package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/capacity"
	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/scenarios"
	"github.com/dmbench/dmbench/serverview"
)

// capacityFlags are the settings of `dmbench capacity`; run holds those it shares with
// `dmbench run`, which each step is.
type capacityFlags struct {
	run         runFlags
	slos        []string
	stage       string
	budget      time.Duration
	precision   string
	step        time.Duration
	warmup      time.Duration
	start       string
	repeats     int
	arrival     string
	connections bool
	connRate    string
	connStart   int
	format      string
	memory      bool
	fill        time.Duration
	serverPID   int
	project     int64
}

func newCapacityCommand() *cobra.Command {
	f := &capacityFlags{}
	c := &cobra.Command{
		Use:   "capacity SCENARIO --slo 'p99<5ms'",
		Short: "Find the highest open-loop rate (or number of connections) that meets the objectives",
		Long: "capacity runs one stage of the scenario (the last, or --stage) as an open loop at a rate that doubles\n" +
			"from --start until a step misses an objective, then bisects between the last pass and the first fail to\n" +
			"--precision, then runs the answer --repeats more times to say how stable it is. Each step has its own\n" +
			"warm-up and a measured window long enough for the percentile asked for (100/(1−q) requests: 10,000 for p99).\n" +
			"A step passes when every --slo holds, nothing stalled, the generator was not the bottleneck and every\n" +
			"connection held. The search ends within --budget. Every step is a run folder in one result set\n" +
			"(<out>/<time>-<scenario>-capacity/, which report, compare and plot read), with capacity.json and the\n" +
			"capacity curve capacity.svg beside them. --connections searches the number of connections instead,\n" +
			"each sending --conn-rate, up to this process's file-descriptor limit.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runCapacity(c, args[0], f) },
	}
	fs := c.Flags()
	fs.StringArrayVar(&f.slos, "slo", nil, "objective every step must meet, e.g. 'p99<5ms', 'errors<0.1%' (repeatable; at least one)")
	fs.StringVar(&f.stage, "stage", "", "the scenario's stage to run (its mix and clients); default: the last")
	fs.DurationVar(&f.budget, "budget", 10*time.Minute, "the search ends within this time, steps planned against what is left")
	fs.StringVar(&f.precision, "precision", "5%", "bisect until the last pass and the first fail are this close (relative to the pass)")
	fs.DurationVar(&f.step, "step", 5*time.Second, "the shortest measured window of a step (longer when the percentile needs more requests)")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "each step's warm-up, excluded from its figures")
	fs.StringVar(&f.start, "start", "", "the first `RATE` tried, e.g. 1000/s; default: the stage's rate, else 1000/s")
	fs.IntVar(&f.repeats, "repeats", 2, "run the answer this many more times to say how stable it is")
	fs.StringVar(&f.arrival, "arrival", "constant", "`constant|poisson` arrivals in each step")
	fs.BoolVar(&f.connections, "connections", false, "search the number of DEALER connections, each sending --conn-rate, instead of the rate")
	fs.StringVar(&f.connRate, "conn-rate", "1/s", "with --connections, each connection's `RATE`")
	fs.IntVar(&f.connStart, "conn-start", 16, "with --connections, the first number of connections tried")
	fs.StringVar(&f.format, "format", "text", "the plan printed: `text|markdown|json`")
	fs.BoolVar(&f.memory, "memory", false, "after the search, size the server's memory: run the stage (it must add groups) at its rate for --fill, fit its RSS against groups and memberships, and project --project groups")
	fs.DurationVar(&f.fill, "fill", 10*time.Second, "with --memory, how long the fill runs")
	fs.IntVar(&f.serverPID, "server-pid", 0, "with --memory, read the server's RSS from /proc/`PID`/status when it sends no report (e.g. DMB 0.2.1 on this machine)")
	fs.Int64Var(&f.project, "project", 1_000_000, "with --memory, the number of groups (or memberships) to project the memory of")
	r := &f.run
	fs.IntVar(&r.clients, "clients", 0, "override the stage's number of clients (rate search)")
	fs.StringVar(&r.target, "target", "", "DMB base address `tcp://host:port` (signalling = port+1); default: the scenario's, else an embedded broker (a fresh one each step)")
	fs.StringVar(&r.signalling, "signalling", "", "the signalling address `tcp://host:port` itself, instead of --target")
	fs.StringVarP(&r.out, "out", "o", "dmbench-results", "folder for results (the search's result set is a sub-folder)")
	fs.StringArrayVar(&r.labels, "label", nil, "label each step's result, `key=value` (repeatable)")
	fs.DurationVar(&r.stallThreshold, "stall-threshold", time.Second, "no reply for this long with requests outstanding is a stall (the step fails)")
	fs.DurationVar(&r.drain, "drain", 0, "how long to wait for outstanding replies after each step (default: the longest request timeout)")
	fs.StringVar(&r.serverView, "server-view", "on", "`on|off`: ask the server for its performance report during each step")
	fs.DurationVar(&r.serverPoll, "server-poll", serverview.DefaultEvery, "with --server-view on, also ask every this long")
	r.transport = addTransportFlag(fs)
	r.broker = addBrokerFlags(fs)
	return c
}

func runCapacity(c *cobra.Command, name string, f *capacityFlags) error {
	stderr := c.ErrOrStderr()
	sc, err := scenarios.Load(name, scenarios.LoadOptions{})
	if err != nil {
		var list scenarios.ErrorList
		if errors.As(err, &list) {
			fmt.Fprintln(stderr, list)
			return usageError(fmt.Errorf("%s is not valid (%d problem(s)); nothing was started", name, len(list)))
		}
		return usageError(err)
	}
	objectives, err := comparison.ParseThresholds(f.slos)
	if err != nil {
		return usageError(fmt.Errorf("--slo: %w", err))
	}
	if len(objectives) == 0 {
		return usageError(errors.New("give at least one objective, e.g. --slo 'p99<5ms'"))
	}
	stage := len(sc.Stages) - 1
	if f.stage != "" {
		stage = slices.IndexFunc(sc.Stages, func(s scenarios.Stage) bool { return s.Name == f.stage })
		if stage < 0 {
			var names []string
			for _, s := range sc.Stages {
				names = append(names, s.Name)
			}
			return usageError(fmt.Errorf("--stage %q: %s has no such stage (it has %s)", f.stage, sc.Name, strings.Join(names, ", ")))
		}
	}
	if f.run.clients != 0 {
		if err := sc.SetClients(f.run.clients); err != nil {
			return usageError(fmt.Errorf("--clients: %w", err))
		}
	}
	labels, err := resultfmt.ParseLabels(f.run.labels)
	if err != nil {
		return usageError(fmt.Errorf("--label: %w", err))
	}
	precision, err := parseShare(f.precision)
	if err != nil || precision <= 0 || precision >= 1 {
		return usageError(fmt.Errorf("--precision %q: give a share above 0%% and below 100%%, e.g. 5%%", f.precision))
	}
	poisson := false
	switch f.arrival {
	case "constant":
	case "poisson":
		poisson = true
	default:
		return usageError(fmt.Errorf("--arrival %q: want constant or poisson", f.arrival))
	}
	switch f.format {
	case "text", "markdown", "json":
	default:
		return usageError(fmt.Errorf("--format %q: want text, markdown or json", f.format))
	}
	if f.budget <= 0 || f.step <= 0 || f.warmup < 0 || f.repeats < 0 {
		return usageError(fmt.Errorf("--budget %v, --step %v, --warmup %v, --repeats %d: give a budget and a step above 0, a warm-up and repeats of 0 or more", f.budget, f.step, f.warmup, f.repeats))
	}
	if f.run.serverView != "on" && f.run.serverView != "off" {
		return usageError(fmt.Errorf("--server-view %q: want on or off", f.run.serverView))
	}
	if f.run.drain < 0 || f.run.stallThreshold < 0 || f.run.serverPoll < 0 {
		return usageError(errors.New("--drain, --stall-threshold and --server-poll take 0 or more"))
	}
	f.run.reconnect = true
	f.run.pacerCfg = loadgen.PacerConfig{Mode: loadgen.PacerHybrid, SpinWindow: loadgen.DefaultSpinWindow, SpinBudget: loadgen.DefaultSpinBudget}
	embedded := f.run.signalling == "" && f.run.target == "" && sc.Target == ""

	st := &sc.Stages[stage]
	cfg := capacity.Config{
		Precision: precision, Repeats: f.repeats, Warmup: f.warmup, Overhead: stepOverhead(sc),
		MinWindow: f.step, Requests: capacity.RequestsFor(capacity.Quantile(objectives)), Budget: f.budget,
	}
	if cfg.Repeats == 0 {
		cfg.Repeats = -1
	}
	if f.memory && (f.fill <= 0 || f.project < 1 || f.serverPID < 0) {
		return usageError(fmt.Errorf("--fill %v, --project %d, --server-pid %d: give a fill above 0, a projection of 1 or more and a PID of 0 (none) or more", f.fill, f.project, f.serverPID))
	}
	rep := &capacity.Report{Scenario: sc.Name, Stage: st.Name, Target: targetName(f, sc), Arrival: f.arrival, Objectives: f.slos}
	var level func(x float64) (clients int, rate float64)
	if f.connections {
		perConn, err := scenarios.ParseRate(f.connRate)
		if err != nil || perConn <= 0 {
			return usageError(fmt.Errorf("--conn-rate %q: give a rate above 0, e.g. 1/s", f.connRate))
		}
		if f.connStart < 1 {
			return usageError(fmt.Errorf("--conn-start %d: give 1 or more", f.connStart))
		}
		rep.Mode, rep.Unit, rep.PerConnPerS = "connections", " connections", float64(perConn)
		cfg.Start, cfg.Integer, cfg.RatePerLevel, cfg.Unit = float64(f.connStart), true, float64(perConn), " connections"
		cfg.Max, cfg.MaxReason = connectionLimit(embedded)
		if cfg.Max < cfg.Start {
			cfg.Start = cfg.Max
		}
		level = func(x float64) (int, float64) { return int(x), x * float64(perConn) }
	} else {
		rep.Mode, rep.Unit = "rate", "/s"
		cfg.Start, cfg.Unit = 1000, "/s"
		if o := st.Open; o != nil && o.Rate > 0 {
			cfg.Start = float64(o.Rate)
			if o.PerClient {
				cfg.Start *= float64(st.Clients)
			}
		}
		if f.start != "" {
			r, err := scenarios.ParseRate(f.start)
			if err != nil || r <= 0 {
				return usageError(fmt.Errorf("--start %q: give a rate above 0, e.g. 1000/s", f.start))
			}
			cfg.Start = float64(r)
		}
		cfg.Max, cfg.MaxReason = loadgen.MaxRate, fmt.Sprintf("the most dmbench schedules (%v/s)", loadgen.MaxRate)
		if err := checkFDs(sc, embedded); err != nil {
			return usageError(err)
		}
		level = func(x float64) (int, float64) { return st.Clients, x }
	}
	if cfg.Requests > 0 && cfg.Window(cfg.Start) > f.budget/2 {
		fmt.Fprintf(stderr, "dmbench: warning: a window of %.0f requests (for %s) at %s takes %v, more than half the budget (%v): the search has few steps; raise --budget or --start\n",
			cfg.Requests, capacityQuantileName(objectives), capacity.FormatLevel(cfg.Start, cfg.Unit), cfg.Window(cfg.Start), f.budget)
	}

	set := filepath.Join(f.run.out, time.Now().UTC().Format("20060102T150405Z")+"-"+sc.Name+"-capacity")
	rep.Set = set
	sig := watchInterrupts(stderr)
	defer sig.stop()
	stdout := c.OutOrStdout()
	c.SetOut(io.Discard) // each step's summary: the steps table says what matters
	defer c.SetOut(stdout)
	step := func(ctx context.Context, x float64, window time.Duration) (capacity.Outcome, error) {
		clients, rate := level(x)
		scStep := stepScenario(sc, stage, clients, rate, poisson, f.warmup, window)
		before := runFolders(set)
		result, err := runOnce(sig, c, scStep, name, set, labels, &f.run)
		if result == nil {
			return capacity.Outcome{}, err
		}
		o := capacity.Judge(result, objectives)
		if dirs := newFolders(before, runFolders(set)); len(dirs) == 1 {
			o.Dir = dirs[0]
		}
		return o, err
	}
	cfg.OnStep = func(s capacity.Step) {
		fmt.Fprintf(stderr, "dmbench: step %d (%s) at %s: achieved %.0f/s, p50 %v, p99 %v: %s\n", s.N, s.Phase, capacity.FormatLevel(s.Level, cfg.Unit),
			s.AchievedPerS, time.Duration(s.P50US)*time.Microsecond, time.Duration(s.P99US)*time.Microsecond, termtext.Escape(nonEmptyString(s.Why(), "pass")))
	}
	fmt.Fprintf(stderr, "dmbench: capacity of %s, stage %s, for %s within %v; steps in %s\n", termtext.Escape(sc.Name), termtext.Escape(st.Name), strings.Join(f.slos, ", "), f.budget, set)
	ans, searchErr := capacity.Search(sig.ctx, cfg, step)
	if ans == nil {
		return usageError(searchErr)
	}
	rep.Answer = ans
	if searchErr != nil {
		ans.Because = "a step failed: " + searchErr.Error()
	}
	if f.memory && sig.ctx.Err() == nil {
		rep.Memory = memoryFill(sig, c, sc, name, stage, set, labels, f)
		fmt.Fprintf(stderr, "dmbench: %s\n", rep.Memory.Sentence())
	}
	if len(ans.Steps) > 0 {
		rep.Chart = filepath.Join(set, "capacity.svg")
		if err := rep.DrawChart(rep.Chart); err != nil {
			fmt.Fprintf(stderr, "dmbench: drawing the capacity curve: %v\n", err)
			rep.Chart = ""
		}
	}
	if err := os.MkdirAll(set, 0o755); err != nil {
		return err
	}
	if err := writeCapacityJSON(rep, filepath.Join(set, "capacity.json")); err != nil {
		return err
	}
	switch f.format {
	case "markdown":
		err = rep.WriteMarkdown(stdout)
	case "json":
		err = rep.WriteJSON(stdout)
	default:
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	switch {
	case searchErr != nil:
		var ee *exitError
		if errors.As(searchErr, &ee) {
			return searchErr
		}
		return &exitError{code: exitFailed, err: searchErr}
	case ans.Stop == capacity.StopInterrupted:
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; the steps run so far were written")}
	case ans.Stop == capacity.StopServerLost:
		return &exitError{code: exitServerLost, err: errors.New("the server was lost during a step; the steps run were written")}
	case ans.Level == 0:
		return &exitError{code: exitThreshold, err: errors.New("no step met the objectives")}
	}
	return nil
}

// connectionLimit is the most connections this process can hold, from its
// file-descriptor limit, and the reason in words, with how to go further.
func connectionLimit(embedded bool) (float64, string) {
	limit, ok := fdLimit()
	if !ok {
		return float64(loadgen.MaxClients), fmt.Sprintf("the most clients dmbench runs (%d)", loadgen.MaxClients)
	}
	per := uint64(1)
	if embedded {
		per = 2
	}
	fit := min((limit-min(limit, fdsReserved))/per, loadgen.MaxClients)
	how := "to go further, raise it (ulimit -n) or spread the connections over more dmbench processes or machines"
	if embedded {
		how += ", and run the broker in a process of its own (dmbench serve, then --target): with it embedded each connection takes two descriptors here"
	}
	return float64(max(fit, 1)), fmt.Sprintf("this is the generator's limit, not the server's: the file-descriptor limit (RLIMIT_NOFILE) of %d allows about %d connections in this process; %s", limit, fit, how)
}

func targetName(f *capacityFlags, sc *scenarios.Scenario) string {
	switch {
	case f.run.signalling != "":
		return f.run.signalling
	case f.run.target != "":
		return f.run.target
	case sc.Target != "":
		return sc.Target
	}
	return "the embedded broker"
}

// capacityQuantileName names the highest percentile the objectives ask for.
func capacityQuantileName(ts []comparison.Threshold) string {
	return "p" + strconv.FormatFloat(capacity.Quantile(ts)*100, 'f', -1, 64)
}

// parseShare reads "5%" or "0.05" as 0.05.
func parseShare(s string) (float64, error) {
	if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		return v / 100, err
	}
	return strconv.ParseFloat(s, 64)
}

// runFolders lists the run folders in set.
func runFolders(set string) map[string]bool {
	m := map[string]bool{}
	entries, _ := os.ReadDir(set)
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			m[e.Name()] = true
		}
	}
	return m
}

func newFolders(before, after map[string]bool) []string {
	var out []string
	for n := range after {
		if !before[n] {
			out = append(out, n)
		}
	}
	return out
}

func writeCapacityJSON(rep *capacity.Report, path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := rep.WriteJSON(fh); err != nil {
		fh.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return fh.Close()
}
