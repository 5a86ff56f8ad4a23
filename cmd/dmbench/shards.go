package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dmbench/dmbench/comparison"
	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/loadgen"
	"github.com/dmbench/dmbench/merge"
	"github.com/dmbench/dmbench/resultfmt"
	"github.com/dmbench/dmbench/scenarios"
	"github.com/dmbench/dmbench/serverview"
)

// Sharded runs: `run --shard i/N [--start-at T]` runs one share of a scenario (see
// loadgen.Shard); `run --shards N` runs N such shards as child processes of this binary
// and merges their results (package merge).

// parseShard reads --shard's "i/N".
func parseShard(s string) (loadgen.Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return loadgen.Shard{}, fmt.Errorf("%q: want i/N, the shard's index from 0 and the number of shards, e.g. 0/3", s)
	}
	if n < 1 || i < 0 || i >= n {
		return loadgen.Shard{}, fmt.Errorf("%q: want N of 1 or more and an index i from 0 to N-1, e.g. 0/3, 1/3 and 2/3 for three shards", s)
	}
	return loadgen.Shard{Index: i, Count: n}, nil
}

// parseShardFlags reads --shard and --start-at into f.shard and f.startAt, and refuses
// what a shard cannot do.
func parseShardFlags(c *cobra.Command, sc *scenarios.Scenario, f *runFlags) error {
	if f.startAtFlag != "" && f.shardFlag == "" {
		return usageError(errors.New("--start-at aligns the shards of a sharded run: give --shard i/N too"))
	}
	if f.shardFlag == "" {
		return nil
	}
	sh, err := parseShard(f.shardFlag)
	if err != nil {
		return usageError(fmt.Errorf("--shard %w", err))
	}
	plan := sc.Plan()
	if err := sh.Validate(&plan); err != nil {
		return usageError(fmt.Errorf("--shard: %w", err))
	}
	if f.repeat > 1 {
		return usageError(errors.New("--shard runs one share of one run: drop --repeat"))
	}
	if f.signalling == "" && f.target == "" && sc.Target == "" {
		return usageError(errors.New("--shard: the shards of a run load one server, and without --target each would start its own embedded broker: " +
			"start one (dmbench serve --port 5556) and give every shard --target tcp://HOST:5556"))
	}
	if f.startAtFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, f.startAtFlag)
		if err != nil {
			return usageError(fmt.Errorf("--start-at %q: want an RFC 3339 instant, e.g. 2026-01-01T12:00:00Z", f.startAtFlag))
		}
		f.startAt = t
	}
	f.shard = sh
	return nil
}

// shardName names a shard as results and their readers do, counting from 1: the
// shard of --shard 0/3 is "shard 1/3".
func shardName(sh loadgen.Shard) string {
	return (&resultfmt.Shard{Index: sh.Index, Count: sh.Count}).String()
}

// checkShardFDs checks that this process may open the file descriptors its share of the
// clients needs (checkFDs for a shard, whose server is elsewhere).
func checkShardFDs(sc *scenarios.Scenario, sh loadgen.Shard) error {
	limit, ok := fdLimit()
	if !ok {
		return nil
	}
	clients := 0
	for _, st := range sc.Plan().Stages {
		clients = max(clients, sh.Clients(st.Clients))
	}
	if need := uint64(clients) + fdsReserved; need > limit {
		return fmt.Errorf("%s runs %d clients, which need about %d file descriptors, but this process may open %d: split the run into more shards",
			shardName(sh), clients, need, limit)
	}
	return nil
}

// noteShard says on stderr which share this run is and when it starts.
func noteShard(w io.Writer, f *runFlags) {
	if f.startAt.IsZero() {
		fmt.Fprintf(w, "dmbench: %s (--shard %s) starts as soon as its clients are connected, so the shards' schedules will not be aligned: give every shard the same --start-at to align them\n", shardName(f.shard), f.shard)
		return
	}
	in := "already passed"
	if d := time.Until(f.startAt); d > 0 {
		in = "in " + d.Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "dmbench: %s (--shard %s) connects, then starts at %s (%s)\n", shardName(f.shard), f.shard, f.startAt.UTC().Format(time.RFC3339Nano), in)
}

// shardProgress scales the progress line's target rate, which is the whole stage's, to
// the shard's share of its clients, before handing it on.
func shardProgress(plan *loadgen.Plan, sh loadgen.Shard, next func(loadgen.Progress)) func(loadgen.Progress) {
	share := map[string]float64{}
	for _, st := range plan.Stages {
		if _, ok := share[st.Name]; !ok {
			share[st.Name] = float64(sh.Clients(st.Clients)) / float64(st.Clients)
		}
	}
	return func(p loadgen.Progress) {
		if s, ok := share[p.Stage]; ok {
			p.TargetRate *= s
		}
		next(p)
	}
}

// notForwarded are the run flags that --shards does not hand its shards: it sets them
// itself, or applies them to the merged result.
var notForwarded = map[string]bool{
	"shards": true, "shard": true, "start-at": true, "out": true, "repeat": true,
	"threshold": true, "json": true, "width": true, "metrics-addr": true, "metrics-linger": true,
}

// forwardedArgs returns the run flags set on the command line that each shard is given,
// as --name=value.
func forwardedArgs(fs *pflag.FlagSet) []string {
	var args []string
	fs.Visit(func(fl *pflag.Flag) {
		if notForwarded[fl.Name] {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+fl.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+fl.Name+"="+fl.Value.String())
	})
	return args
}

// shardsMargin is how far ahead --shards puts the shards' start instant: time for each
// child to start, ask the server for its report (up to serverview.DefaultTimeout) and
// connect the first stage's clients (when it connects them all at once), with room to
// spare.
func shardsMargin(plan *loadgen.Plan, serverView bool) time.Duration {
	m := 2 * time.Second
	if serverView {
		m += serverview.DefaultTimeout
	}
	if st := plan.Stages[0]; st.ConnectRate == 0 {
		m += time.Duration(st.Clients) * 200 * time.Microsecond
	}
	return m
}

// maxLocalConnections is about how many connections this machine can open from one
// source address to one server address: the kernel's default ephemeral port range.
const maxLocalConnections = 28_000

// runShards runs sc as f.shards shards, each a child process of this binary (`run
// --shard i/N --start-at T`, with the run flags given here) writing into
// <out>/<time>-<scenario>-shardsN/shard-i; it forwards SIGINT and SIGTERM to them,
// waits for them all, merges their results into .../merged, prints the merged summary
// and checks the thresholds against it.
func runShards(c *cobra.Command, name string, sc *scenarios.Scenario, f *runFlags, thresholds []comparison.Threshold) error {
	n := f.shards
	stderr := &syncWriter{w: c.ErrOrStderr()} // the shards' messages come from a goroutine each
	plan := sc.Plan()
	switch {
	case n < 1:
		return usageError(fmt.Errorf("--shards %d: want 1 or more shards", n))
	case f.shardFlag != "" || f.startAtFlag != "":
		return usageError(errors.New("--shards starts the shards itself, each with its --shard and one --start-at: drop --shard and --start-at"))
	case f.repeat > 1:
		return usageError(errors.New("--shards runs the scenario once, as shards: drop --repeat"))
	case f.metricsAddr != "":
		return usageError(errors.New("--shards: each shard would serve its own metrics: run the shards by hand (--shard i/N) to give each its --metrics-addr"))
	case f.signalling == "" && f.target == "" && sc.Target == "":
		return usageError(errors.New("--shards: the shards load one server, and without --target each would start its own embedded broker: " +
			"start one (dmbench serve --port 5556) and add --target tcp://127.0.0.1:5556"))
	}
	if err := (loadgen.Shard{Count: n}).Validate(&plan); err != nil {
		return usageError(fmt.Errorf("--shards %d: %w", n, err))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--shards: finding this program to start the shards: %w", err)
	}
	clients := 0
	for _, st := range plan.Stages {
		clients = max(clients, st.Clients)
	}
	if clients > maxLocalConnections {
		fmt.Fprintf(stderr, "dmbench: warning: %d connections from this machine to one server address may exhaust its ephemeral ports (about %d per source address); "+
			"run the shards on several machines (--shard i/N) for more\n", clients, maxLocalConnections)
	}

	dir := filepath.Join(f.out, time.Now().UTC().Format("20060102T150405Z")+"-"+sc.Name+"-shards"+strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--shards: %w", err)
	}
	startAt := time.Now().Add(shardsMargin(&plan, f.serverView == "on")).UTC().Round(time.Millisecond)
	fmt.Fprintf(stderr, "dmbench: running %s as %d shards starting at %s, results in %s\n", sc.Name, n, startAt.Format(time.RFC3339Nano), dir)
	forwarded := forwardedArgs(c.Flags())
	fw := forwardSignals(stderr) // from before the first child starts, so that none misses a signal
	children := make([]*shardChild, n)
	for i := range children {
		args := append([]string{"run", name, "--shard", fmt.Sprintf("%d/%d", i, n), "--start-at", startAt.Format(time.RFC3339Nano),
			"-o", filepath.Join(dir, "shard-"+strconv.Itoa(i))}, forwarded...)
		sh := loadgen.Shard{Index: i, Count: n}
		ch, err := startShardChild(exe, args, shardName(sh), stderr)
		if err != nil {
			for _, started := range children[:i] {
				started.signal(syscall.SIGTERM)
				started.wait()
			}
			fw.stop()
			return fmt.Errorf("--shards: starting %s: %w", shardName(sh), err)
		}
		children[i] = ch
		fw.add(ch)
	}

	var failed []string
	for i, ch := range children {
		code := ch.wait()
		switch code {
		case exitOK, exitInterrupted, exitServerLost: // a result was written
		default:
			failed = append(failed, fmt.Sprintf("%s exited with code %d", shardName(loadgen.Shard{Index: i, Count: n}), code))
		}
	}
	fw.stop()
	if len(failed) > 0 {
		return fmt.Errorf("--shards: %s (see its messages above); the shards' results are in %s, nothing was merged", strings.Join(failed, ", "), dir)
	}

	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, "shard-"+strconv.Itoa(i))
	}
	mergedDir := filepath.Join(dir, "merged")
	result, err := merge.Folders(mergedDir, paths, merge.Options{})
	if err != nil {
		return fmt.Errorf("--shards: merging the shards in %s: %w", dir, err)
	}
	printMergeNotes(stderr, result)
	printSummary(c.OutOrStdout(), stderr, result, f.json, f.width)
	fmt.Fprintf(stderr, "dmbench: merged result written to %s (each shard's in %s/shard-i)\n", mergedDir, dir)
	o := outcome{interrupted: result.Meta.Interrupted, serverLost: result.Connections.ServerLost}
	for _, v := range comparison.CheckThresholds(result, thresholds) {
		fmt.Fprintln(stderr, "dmbench: threshold missed:", termtext.Escape(v.String()))
		o.missed++
	}
	return o.err()
}

// printMergeNotes says on w what the merge decided.
func printMergeNotes(w io.Writer, r *resultfmt.Result) {
	m := r.Meta.Merge
	if m.ClockSkewBoundUS != nil {
		fmt.Fprintf(w, "dmbench: the shards' clocks were at most %s apart (%s)\n", time.Duration(*m.ClockSkewBoundUS)*time.Microsecond, m.ClockSkew)
	}
	for _, note := range m.Notes {
		fmt.Fprintln(w, "dmbench: note:", termtext.Escape(note))
	}
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// shardChild is one shard's process.
type shardChild struct {
	cmd    *exec.Cmd
	copied sync.WaitGroup // its output copied to our stderr
}

// startShardChild starts exe with args, its standard error copied line by line to
// stderr, each line prefixed with name; its standard output (the shard's summary, which
// `dmbench report` re-prints from its folder) is dropped. The child runs in a process
// group of its own (where the system has them), so that a terminal's Ctrl-C reaches it
// once, through forwardSignals, rather than twice (a second interrupt abandons the
// replies outstanding).
func startShardChild(exe string, args []string, name string, stderr io.Writer) (*shardChild, error) {
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = childProcAttr()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close() // the child holds its own copy once started
	cmd.Stderr = w
	ch := &shardChild{cmd: cmd}
	ch.copied.Add(1)
	go func() {
		defer ch.copied.Done()
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintf(stderr, "%s: %s\n", name, sc.Text())
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return ch, nil
}

// signal sends sig to the child, by its process id.
func (ch *shardChild) signal(sig os.Signal) { _ = ch.cmd.Process.Signal(sig) }

// wait waits for the child to end and its output to be copied, and returns its exit
// code (-1 when a signal ended it).
func (ch *shardChild) wait() int {
	_ = ch.cmd.Wait()
	ch.copied.Wait()
	return ch.cmd.ProcessState.ExitCode()
}

// forwarder passes SIGINT and SIGTERM on to the shards' processes.
type forwarder struct {
	ch   chan os.Signal
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	children []*shardChild
}

// forwardSignals hands every SIGINT and SIGTERM this process gets to each child added,
// by its process id, until stop is called: the first stops their sending and they wait
// for the replies outstanding, the second ends that wait, a third ends them.
func forwardSignals(stderr io.Writer) *forwarder {
	fw := &forwarder{ch: make(chan os.Signal, 4), done: make(chan struct{})}
	signal.Notify(fw.ch, os.Interrupt, syscall.SIGTERM)
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		for {
			select {
			case sig := <-fw.ch:
				fw.mu.Lock()
				fmt.Fprintf(stderr, "\ndmbench: %s: passed on to the %d shards\n", signalName(sig), len(fw.children))
				for _, c := range fw.children {
					c.signal(sig)
				}
				fw.mu.Unlock()
			case <-fw.done:
				return
			}
		}
	}()
	return fw
}

// add makes the forwarder pass signals on to ch too.
func (fw *forwarder) add(ch *shardChild) {
	fw.mu.Lock()
	fw.children = append(fw.children, ch)
	fw.mu.Unlock()
}

// stop stops forwarding: the signals have their default effect again.
func (fw *forwarder) stop() {
	signal.Stop(fw.ch)
	close(fw.done)
	fw.wg.Wait()
}
