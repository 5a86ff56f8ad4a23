package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dmbench/dmbench/broker"
	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/promexport"
	"github.com/dmbench/dmbench/report"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/scenarios"
	"github.com/dmbench/dmbench/serverview"
	"github.com/dmbench/dmbench/transport"
)

// runFlags are the settings of `dmbench run`.
type runFlags struct {
	short          bool
	clients        int
	target         string
	signalling     string
	out            string
	labels         []string
	json           bool
	width          int
	reconnect      bool
	stallThreshold time.Duration
	drain          time.Duration
	repeat         int
	thresholds     []string
	serverView     string
	serverPoll     time.Duration
	pacer          string
	pacerCfg       loadgen.PacerConfig
	spinWindow     time.Duration
	spinBudget     float64
	ioLoops        int
	ioUring        bool
	maxFrame       byteSize
	recvBudget     byteSize
	transport      *transport.Kind
	broker         *brokerFlags
	metricsAddr    string
	metricsLinger  time.Duration
	metrics        *promexport.Run // with --metrics-addr, set by runScenario
	shardFlag      string          // --shard i/N
	startAtFlag    string          // --start-at RFC 3339
	shards         int             // --shards N: run N shard processes here and merge them
	shard          loadgen.Shard   // --shard, parsed; the zero Shard without it
	startAt        time.Time       // --start-at, parsed; zero without it
}

func newRunCommand() *cobra.Command {
	f := &runFlags{}
	c := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario (a bundled name or a YAML file) and write its result",
		Long: "run drives DEALER clients through the scenario's stages and writes the result to a new folder\n" +
			"under --out. Without --target (or a target in the scenario) it starts the embedded reference\n" +
			"broker on 127.0.0.1; the broker flags (--compat, --pause, ...) configure that broker.\n" +
			"--target is a DMB base address as Django's settings hold it (tcp://host:5556): dmbench talks\n" +
			"to its signalling port, base + 1. --signalling names the signalling address directly.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runScenario(c, args[0], f) },
	}
	fs := c.Flags()
	fs.BoolVar(&f.short, "short", false, "apply the scenario's short overlay (a few seconds, for tests and CI)")
	fs.IntVar(&f.clients, "clients", 0, "override the number of clients of every stage")
	fs.StringVar(&f.target, "target", "", "DMB base address `tcp://host:port` (signalling = port+1); default: the scenario's, else an embedded broker")
	fs.StringVar(&f.signalling, "signalling", "", "the signalling address `tcp://host:port` itself, instead of --target")
	fs.StringVarP(&f.out, "out", "o", "dmbench-results", "folder for run results (one sub-folder per run)")
	fs.StringArrayVar(&f.labels, "label", nil, "label the result, `key=value` (repeatable), e.g. broker=0.2.1")
	fs.BoolVar(&f.json, "json", false, "print the summary as JSON")
	fs.IntVar(&f.width, "width", 0, "lay the text summary out for `N` columns (default: the terminal's width, else $COLUMNS, else 120)")
	fs.BoolVar(&f.reconnect, "reconnect", true, "reconnect clients with backoff after a lost connection")
	fs.DurationVar(&f.stallThreshold, "stall-threshold", time.Second, "no reply for this long with requests outstanding is a stall")
	fs.DurationVar(&f.drain, "drain", 0, "how long to wait for outstanding replies at the end (default: the longest request timeout)")
	fs.IntVar(&f.repeat, "repeat", 1, "run the scenario `N` times (a fresh embedded broker each time) into one result set for compare")
	fs.StringArrayVar(&f.thresholds, "threshold", nil, "objective the run must meet, e.g. 'p99<5ms', 'errors<0.1%', 'throughput>=1000/s' (repeatable; exit 3 when missed)")
	fs.StringVar(&f.serverView, "server-view", "on", "`on|off`: ask the server for its performance report (PERFMNCE) on a connection of its own at the start,\n"+
		"at stage boundaries, every --server-poll and at the end, and show its figures beside the client's; off never asks")
	fs.DurationVar(&f.serverPoll, "server-poll", serverview.DefaultEvery, "with --server-view on, also ask every this long (0: only at the start, stage boundaries and the end)")
	fs.StringVar(&f.pacer, "pacer", string(loadgen.PacerHybrid), "how the one timing thread waits for each due send: `hybrid|sleep|spin`; hybrid sleeps on Linux's\n"+
		"high-resolution timer until --spin-window before the send and spins the rest, within --spin-budget;\n"+
		"sleep never spins (sends late by the wake-up latency); spin spins always (a whole core)")
	fs.DurationVar(&f.spinWindow, "spin-window", loadgen.DefaultSpinWindow, "with --pacer hybrid, spin this long before each due send (above the machine's wake-up latency)")
	fs.Float64Var(&f.spinBudget, "spin-budget", loadgen.DefaultSpinBudget, "with --pacer hybrid, spin at most this share of a core; past it, within each second, only sleep")
	fs.IntVar(&f.ioLoops, "io-loops", 0, "run the native transport's connections on this many epoll I/O loops instead of\n"+
		"a receiver goroutine each (Linux); 0 picks one, served by the pacer's thread, when every stage is\n"+
		"open-loop; -1 never")
	fs.BoolVar(&f.ioUring, "io-uring", true, "with the pacer's I/O loop (--io-loops 0), move its sends and replies onto an io_uring\n"+
		"of the pacer's thread where the kernel allows: one system call per wake-up; false keeps epoll")
	f.maxFrame, f.recvBudget = loadgen.DefaultMaxFrame, transport.DefaultRecvBudget
	fs.Var(&f.maxFrame, "max-frame", "close a connection whose server sends a larger frame (counted as \"frame too large\")")
	fs.Var(&f.recvBudget, "recv-budget", "what all connections together may hold for incoming messages; a message beyond it\n"+
		"closes its connection (counted as \"receive budget exhausted\")")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve live Prometheus metrics of the run at `host:port`/metrics (e.g. 127.0.0.1:9464); off when empty")
	fs.DurationVar(&f.metricsLinger, "metrics-linger", 0, "with --metrics-addr, keep serving this long after the run ends, so that a scraper gets the final figures")
	fs.StringVar(&f.shardFlag, "shard", "", "run shard `i/N` of a sharded run (0 <= i < N): the clients p of every stage with p mod N = i, each as in\n"+
		"the whole run; dmbench merge joins the N shards' results (needs --target: one server for every shard)")
	fs.StringVar(&f.startAtFlag, "start-at", "", "with --shard, start the first stage at this RFC 3339 `instant` (e.g. 2026-01-01T12:00:00Z), the same for\n"+
		"every shard: connect first, then wait for it; a shard connected after it refuses to run")
	fs.IntVar(&f.shards, "shards", 0, "run the scenario as `N` shards on this machine: N child processes (--shard i/N, one --start-at)\n"+
		"writing into <out>/<time>-<scenario>-shardsN/shard-i, then merge them into .../merged (needs --target)")
	f.transport = addTransportFlag(fs)
	f.broker = addBrokerFlags(fs)
	return c
}

func runScenario(c *cobra.Command, name string, f *runFlags) error {
	sc, err := scenarios.Load(name, scenarios.LoadOptions{Short: f.short})
	if err != nil {
		var list scenarios.ErrorList
		if errors.As(err, &list) {
			fmt.Fprintln(c.ErrOrStderr(), list)
			return usageError(fmt.Errorf("%s is not valid (%d problem(s)); nothing was started", name, len(list)))
		}
		return usageError(err)
	}
	if f.clients != 0 {
		if err := sc.SetClients(f.clients); err != nil {
			return usageError(fmt.Errorf("--clients: %w", err))
		}
	}
	labels, err := resultfmt.ParseLabels(f.labels)
	if err != nil {
		return usageError(fmt.Errorf("--label: %w", err))
	}
	thresholds, err := comparison.ParseThresholds(f.thresholds)
	if err != nil {
		return usageError(fmt.Errorf("--threshold: %w", err))
	}
	if f.repeat < 1 {
		return usageError(fmt.Errorf("--repeat %d: want 1 or more runs", f.repeat))
	}
	if f.width < 0 {
		return usageError(fmt.Errorf("--width %d is negative: give the columns to fit, or 0 for the terminal's", f.width))
	}
	if f.serverView != "on" && f.serverView != "off" {
		return usageError(fmt.Errorf("--server-view %q: want on or off", f.serverView))
	}
	if f.serverPoll < 0 {
		return usageError(fmt.Errorf("--server-poll %v is negative: give 0 (no periodic reports) or more", f.serverPoll))
	}
	pacer, err := loadgen.ParsePacerMode(f.pacer)
	if err != nil {
		return usageError(fmt.Errorf("--pacer: %w", err))
	}
	if f.spinWindow <= 0 || f.spinWindow > 100*time.Millisecond {
		return usageError(fmt.Errorf("--spin-window %v: give a duration above 0 and at most 100ms (default %v)", f.spinWindow, loadgen.DefaultSpinWindow))
	}
	if !(f.spinBudget > 0 && f.spinBudget <= 1) {
		return usageError(fmt.Errorf("--spin-budget %v: give a share of one core above 0 and at most 1 (default %v)", f.spinBudget, loadgen.DefaultSpinBudget))
	}
	f.pacerCfg = loadgen.PacerConfig{Mode: pacer, SpinWindow: f.spinWindow, SpinBudget: f.spinBudget}
	if f.drain < 0 {
		return usageError(fmt.Errorf("--drain %v is negative: give 0 (wait as long as the longest request timeout) or more", f.drain))
	}
	if f.stallThreshold < 0 {
		return usageError(fmt.Errorf("--stall-threshold %v is negative: give 0 (the default, 1s) or more", f.stallThreshold))
	}
	if c.Flags().Changed("shards") {
		return runShards(c, name, sc, f, thresholds)
	}
	if err := parseShardFlags(c, sc, f); err != nil {
		return err
	}
	if f.shard.Count > 0 {
		if err := checkShardFDs(sc, f.shard); err != nil {
			return usageError(err)
		}
	} else if err := checkFDs(sc, f.signalling == "" && f.target == "" && sc.Target == ""); err != nil {
		return usageError(err)
	}
	reportUnfinished(c.ErrOrStderr(), f.out)
	out := f.out
	if f.repeat > 1 {
		// A result set: a folder of run folders, which compare reads as one side.
		out = filepath.Join(f.out, time.Now().UTC().Format("20060102T150405Z")+"-"+sc.Name+"-x"+strconv.Itoa(f.repeat))
	}

	sig := watchInterrupts(c.ErrOrStderr())
	defer sig.stop()
	if f.metricsAddr != "" {
		shardLabel := ""
		if f.shard.Count > 0 {
			shardLabel = fmt.Sprintf("%d/%d", f.shard.Index, f.shard.Count)
		}
		f.metrics = promexport.NewRun(sc.Name, shardLabel)
		ms, err := promexport.Serve(f.metricsAddr, f.metrics.Registry())
		if err != nil {
			return usageError(fmt.Errorf("--metrics-addr: %w", err))
		}
		fmt.Fprintf(c.ErrOrStderr(), "dmbench: metrics at http://%s/metrics\n", ms.Addr())
		defer func() {
			f.metrics.Ended(time.Now())
			if f.metricsLinger > 0 {
				select {
				case <-time.After(f.metricsLinger):
				case <-sig.ctx.Done():
				}
			}
			_ = ms.Close()
		}()
	}
	var o outcome
	for i := 0; i < f.repeat; i++ {
		if f.repeat > 1 {
			fmt.Fprintf(c.ErrOrStderr(), "dmbench: run %d of %d\n", i+1, f.repeat)
		}
		result, err := runOnce(sig, c, sc, name, out, labels, f)
		if result == nil {
			return err
		}
		o.writeErr = err
		for _, v := range comparison.CheckThresholds(result, thresholds) {
			fmt.Fprintln(c.ErrOrStderr(), "dmbench: threshold missed:", termtext.Escape(v.String()))
			o.missed++
		}
		o.interrupted = result.Meta.Interrupted
		o.serverLost = result.Connections.ServerLost
		if o.writeErr != nil || o.interrupted || o.serverLost {
			if i+1 < f.repeat {
				fmt.Fprintf(c.ErrOrStderr(), "dmbench: runs %d to %d of %d were not started\n", i+2, f.repeat, f.repeat)
			}
			break
		}
	}
	if f.repeat > 1 && o.writeErr == nil {
		fmt.Fprintf(c.ErrOrStderr(), "dmbench: the result set is %s (compare it with: dmbench compare OLD %s)\n", out, out)
	}
	return o.err()
}

// outcome is what a run (or the runs of --repeat) came to, for the exit code.
type outcome struct {
	writeErr    error // the result could not be written whole
	interrupted bool
	serverLost  bool
	missed      int // thresholds missed
}

// err returns the error whose exit code tells the outcome. When several apply, the first
// of these wins: the result could not be written (1), the run was interrupted (130), the
// server was lost (5), a threshold was missed (3).
func (o outcome) err() error {
	switch {
	case o.writeErr != nil:
		return &exitError{code: exitFailed, err: o.writeErr}
	case o.interrupted:
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; the results gathered so far were written")}
	case o.serverLost:
		return &exitError{code: exitServerLost, err: errors.New("the server was lost during the run (see connections in the summary); the results gathered were written")}
	case o.missed > 0:
		return &exitError{code: exitThreshold, err: fmt.Errorf("%d threshold(s) missed", o.missed)}
	}
	return nil
}

// runOnce runs sc once against its target (a fresh embedded broker when there is none),
// writes the result folder under out and prints the summary. It returns a nil result when
// the run could not start (nothing is written then), or the result with a non-nil error
// when writing it failed: the summary is printed in any case, and the error names the
// folder that holds what was written.
func runOnce(sig *interrupts, c *cobra.Command, sc *scenarios.Scenario, name, out string, labels map[string]string, f *runFlags) (*resultfmt.Result, error) {
	ctx := sig.ctx
	stderr := c.ErrOrStderr()
	meta := resultfmt.NewMeta()
	meta.SetScenario(sc.Name, scenarioFile(name, sc), sc.Source)
	meta.Seed = sc.Seed
	meta.Transport = string(*f.transport)
	meta.Labels = labels
	meta.Args = os.Args
	meta.Flags = changedFlags(c.Flags())
	if f.shard.Count > 0 {
		meta.Shard = &resultfmt.Shard{Index: f.shard.Index, Count: f.shard.Count, StartAt: f.startAt.UTC()}
	}

	addr, srv, err := target(c, f, sc)
	if err != nil {
		return nil, err
	}
	if srv != nil {
		defer srv.Close()
		meta.Target = resultfmt.Target{Address: addr, Embedded: true, BrokerMode: string(srv.Mode())}
		if f.broker.faults.Enabled() {
			meta.Target.Faults = []string{f.broker.faults.String()}
		}
	} else {
		meta.Target = resultfmt.Target{Address: addr}
	}

	w, err := resultfmt.Create(out, sc.Name)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			_ = w.Abort() // nothing was measured
		}
	}()

	progress := report.NewProgress(stderr, report.ProgressEnabled(os.Stderr))
	where := "embedded reference broker at " + addr
	if srv == nil {
		where = addr
	}
	fmt.Fprintf(stderr, "dmbench: running %s against %s (transport %s), results in %s\n", sc.Name, where, *f.transport, out)
	if f.shard.Count > 0 {
		noteShard(stderr, f)
	}

	interruptDrain := loadgen.DefaultInterruptDrain
	if f.drain > 0 {
		interruptDrain = min(f.drain, interruptDrain)
	}
	sig.setNotice(fmt.Sprintf("sending stopped; waiting at most %v for the replies still outstanding, then writing the results", interruptDrain))
	cfg := loadgen.Config{
		Plan: sc.Plan(), Addr: addr, Transport: *f.transport,
		Drain: f.drain, InterruptDrain: interruptDrain, Abandon: sig.abandon,
		StallThreshold: f.stallThreshold, Reconnect: f.reconnect, Pacer: f.pacerCfg, IOLoops: f.ioLoops, NoIOUring: !f.ioUring,
		MaxFrame: int64(f.maxFrame), RecvBudget: int64(f.recvBudget),
		Intervals: w, Progress: progress.Update,
		PacerKeepsP: srv == nil, // no broker in this process whose timers it could hold up
	}
	if m := f.metrics; m != nil {
		cfg.Intervals = promexport.Tee{Run: m, Sink: w}
		cfg.Progress = func(p loadgen.Progress) { m.Progress(p); progress.Update(p) }
		cfg.OnStage = m.Stage
	}
	if f.shard.Count > 1 {
		cfg.Progress = shardProgress(&cfg.Plan, f.shard, cfg.Progress)
	}
	cfg.Shard, cfg.StartAt = f.shard, f.startAt
	poller, view := startServerView(ctx, c, f, addr) // the "start" report comes before the wait for --start-at
	if poller != nil {
		defer poller.Stop() // on an early return; the View is taken below otherwise
		cfg.OnStage = poller.Stage
		if m := f.metrics; m != nil {
			cfg.OnStage = func(i int, name string, at time.Time) { m.Stage(i, name, at); poller.Stage(i, name, at) }
		}
	}
	res, runErr := loadgen.Run(ctx, cfg)
	progress.Done()
	var sinkErr *loadgen.SinkError
	if runErr != nil && !errors.As(runErr, &sinkErr) {
		var late *loadgen.LateError
		if errors.As(runErr, &late) {
			return nil, fmt.Errorf("%s: --start-at: %w; nothing was written (on Kubernetes, where a shard is not retried, "+
				"delete both jobs and apply them again with a later START_AT)", shardName(f.shard), runErr)
		}
		return nil, fmt.Errorf("run %s against %s: %w", sc.Name, addr, runErr)
	}
	started = true
	if poller != nil {
		view = poller.Stop()
	}
	meta.Start, meta.End, meta.Interrupted = res.Start, res.End, res.Interrupted
	if res.Interrupted {
		meta.InterruptReason = nonEmptyString(sig.reason(), "stopped")
	}
	result := resultfmt.FromLoadgen(meta, res)
	result.SetServerView(view)
	if sinkErr != nil {
		result.Warnings = append(result.Warnings, "the interval logs (.hlog) are incomplete: "+sinkErr.Error())
	}
	dir, writeErr := w.Finish(result)
	printSummary(c.OutOrStdout(), stderr, result, f.json, f.width)
	if writeErr != nil {
		return result, fmt.Errorf("writing the result failed: %w", writeErr)
	}
	fmt.Fprintf(stderr, "dmbench: result written to %s\n", dir)
	return result, nil
}

func nonEmptyString(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// startServerView starts asking the server for its reports, as --server-view says, and
// takes the "start" snapshot before the load. It returns the running poller, or nil and
// the View that says why there is none: the run goes on without it either way.
func startServerView(ctx context.Context, c *cobra.Command, f *runFlags, addr string) (*serverview.Poller, *serverview.View) {
	if f.serverView == "off" {
		return nil, &serverview.View{Addr: addr, NoReport: "not asked (--server-view off)"}
	}
	p, err := serverview.Start(ctx, addr, *f.transport, f.serverPoll, serverview.DefaultTimeout)
	if err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "dmbench: server view: %v\n", err)
		return nil, &serverview.View{Addr: addr, Every: f.serverPoll, Timeout: serverview.DefaultTimeout, NoReport: err.Error()}
	}
	if s := p.Poll(serverview.LabelStart); s.Report == nil {
		fmt.Fprintf(c.ErrOrStderr(), "dmbench: server view at the start: %s (the load is not affected)\n", termtext.Escape(s.Err))
	}
	return p, nil
}

// target returns the signalling address to load and, when none is given, the embedded
// broker it started.
func target(c *cobra.Command, f *runFlags, sc *scenarios.Scenario) (string, *broker.Server, error) {
	external := f.signalling != "" || f.target != "" || sc.Target != ""
	if set := brokerFlagsChanged(c.Flags()); external && len(set) > 0 {
		return "", nil, usageError(fmt.Errorf("%v configure the embedded broker, but the run targets an external server; drop them or the target", set))
	}
	switch {
	case f.signalling != "" && f.target != "":
		return "", nil, usageError(errors.New("give --target (a base address) or --signalling, not both"))
	case f.signalling != "":
		if err := broker.CheckSignallingAddr(f.signalling); err != nil {
			return "", nil, usageError(fmt.Errorf("--signalling: %w", err))
		}
		return f.signalling, nil, nil
	case f.target != "" || sc.Target != "":
		base := f.target
		if base == "" {
			base = sc.Target
		}
		addr, err := broker.SignallingAddr(base)
		if err != nil {
			return "", nil, usageError(fmt.Errorf("target: %w", err))
		}
		return addr, nil, nil
	}
	cfg, err := f.broker.config(*f.transport, broker.DefaultAddr)
	if err != nil {
		return "", nil, err
	}
	srv, err := broker.Start(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("starting the embedded broker: %w", err)
	}
	return srv.Addr(), srv, nil
}

// scenarioFile is how the result names where the scenario came from.
func scenarioFile(arg string, sc *scenarios.Scenario) string {
	if arg == sc.Name && sc.File == arg+".yaml" {
		return "bundled:" + arg
	}
	return sc.File
}

// changedFlags returns the flags set on the command line, by name.
func changedFlags(fs *pflag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.Visit(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			m[f.Name] = fmt.Sprint(sv.GetSlice())
			return
		}
		m[f.Name] = f.Value.String()
	})
	if len(m) == 0 {
		return nil
	}
	return m
}

// printSummary prints a result's summary to stdout, as JSON with asJSON, fitted to width
// (0: the terminal's); a failure to print is said on stderr and does not fail the run.
func printSummary(stdout, stderr io.Writer, result *resultfmt.Result, asJSON bool, width int) {
	var err error
	if asJSON {
		err = report.SummaryJSON(stdout, result)
	} else {
		err = report.Summary(stdout, result, report.SummaryOptions{Width: summaryWidth(width, stdout)})
	}
	if err != nil {
		fmt.Fprintf(stderr, "dmbench: printing the summary: %v\n", err)
	}
}
